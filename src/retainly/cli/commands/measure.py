"""`retainly kpis` and `retainly cohorts`: how retention is going."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.errors import InputError
from retainly.cli.output import console, print_csv, print_json, print_record, print_rows



def day(text: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option value as a date, or a one-line error naming the option."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{option} {text!r} is not a date; write it as YYYY-MM-DD, e.g. 2024-03-31") from None

# The columns of the per-period table; every KPI is in --json.
_TABLE_COLUMNS = ("customers", "new_customers", "orders", "revenue", "aov", "repeat_purchase_rate", "crr",
                  "churn_rate", "historic_ltv", "top20_revenue_share", "warming_up", "retention_note")


@app.command()
def kpis(
    first: Annotated[Optional[str], typer.Option("--from", help="First day (default: the first order).", metavar="YYYY-MM-DD")] = None,
    last: Annotated[Optional[str], typer.Option("--to", help="Last day, inclusive (default: the last order).", metavar="YYYY-MM-DD")] = None,
    by: Annotated[Optional[str], typer.Option("--by", help="One row per month, quarter, year or channel.")] = None,
    window: Annotated[Optional[int], typer.Option(
        "--window", help="Activity window in days: a customer at a date bought within it (default 365).", min=1)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: one object per row (one object without --by).")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV: every KPI, one row per period or channel.")] = False,
) -> None:
    """Retention KPIs: AOV, frequency, repeat rate, CRR, churn, LTV, CAC and LTV:CAC, top-20 % share.

    Definitions: docs/metrics.md. Rates are fractions (0.72 means 72 %).
    Example: retainly kpis --from 2011-01-01 --to 2011-12-31 --by quarter
    """
    with open_workspace(read_only=True) as ws:
        rows = ws.measures.kpis(day(first, "--from"), day(last, "--to"), by, window)
    if as_json:
        print_json(rows if by else rows[0])
    elif as_csv:
        print_csv(_flat_kpis(rows))
    elif by is None:
        # The retention note is said in words under the record, where it does not widen it.
        print_record(f"KPIs {rows[0].period}", {k: v for k, v in rows[0].to_dict().items()
                                                if k not in ("period", "retention_note")})
        if rows[0].customers_at_start == 0:
            console.print("note: nobody was a customer when the period began, so CRR and churn are n/a; "
                          "try --by quarter or a later --from")
        _explain_warming_up(rows)
    else:
        key = "channel" if by == "channel" else "period"
        print_rows(f"KPIs by {by}", [{key: getattr(row, key), **{c: getattr(row, c) for c in _TABLE_COLUMNS}}
                                     for row in rows])
        _explain_warming_up(rows)
        console.print("every KPI, CAC and LTV:CAC per channel: add --json")


def _explain_warming_up(rows) -> None:
    """One line under the table when a row is warming up: what it means for CRR and churn."""
    if any(row.warming_up for row in rows):
        console.print("note: warming up = the period starts less than one activity window after the first order, "
                      "so customers who bought before the data began count as new and few can have lapsed yet: "
                      "CRR reads high and churn low (see docs/metrics.md)")


def _flat_kpis(rows) -> list[dict]:
    """KPI rows with the per-channel figures (CAC, LTV:CAC, payback) spread into a column per channel."""
    flat = []
    for row in rows:
        out = {}
        for key, value in row.to_dict().items():
            if isinstance(value, dict):
                out.update({f"{key}_{channel}": item for channel, item in value.items()})
            else:
                out[key] = value
        flat.append(out)
    return flat


@app.command()
def cohorts(
    by: Annotated[str, typer.Option("--by", help="Cohort period: month or quarter.")] = "month",
    metric: Annotated[str, typer.Option(
        "--metric", help="customers (share still buying), revenue (cumulative net per customer) or orders.")] = "customers",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: one object per cohort.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV: one row per cohort, one column per period offset.")] = False,
) -> None:
    """Cohort retention matrix by first-order period.

    Example: retainly cohorts --by quarter --metric revenue
    """
    with open_workspace(read_only=True) as ws:
        rows = ws.measures.cohorts(by, metric)
    if as_json:
        print_json(rows)
        return
    width = max((len(row.values) for row in rows), default=0)
    flat = [{"cohort": row.cohort, "customers": row.customers,
             **{f"+{k}": (row.values[k] if k < len(row.values) else None) for k in range(width)}}
            for row in rows]
    if as_csv:
        print_csv(flat)
    else:
        print_rows(f"cohorts by {by}: {metric} (+k = {by}s after the first order)", flat)


@app.command()
def nps(
    by: Annotated[str, typer.Option("--by", help="all, segment (RFM), stage, buyer_type, channel (acquisition), "
                                    "or month (the trend).")] = "all",
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Up to this day (default: the later of the last "
                                                 "order's and the last answer's).")] = None,
    days: Annotated[int, typer.Option("--days", help="Answers of this many days up to then (not with --by month).")]
    = 365,
    months: Annotated[int, typer.Option("--months", help="With --by month: this many months.")] = 12,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Net Promoter Score of the customers' feedback: each customer's latest 0-10 answer counted once.

    Example: retainly nps --by segment
    """
    with open_workspace() as ws:
        table = (ws.measures.nps_trend(day(as_of, "--as-of"), months) if by == "month"
                 else ws.measures.nps(by, day(as_of, "--as-of"), days))
    if as_json:
        print_json(table)
    elif as_csv:
        print_csv(table.rows, columns=["group", "answers", "promoters", "passives", "detractors", "nps"])
    else:
        window = f"the {months} months" if by == "month" else f"the {days} days"
        print_rows(f"NPS by {by}, {window} up to {table.as_of} (promoters 9-10, detractors 0-6)", table.rows)
