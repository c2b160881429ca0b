"""`retainly lifecycle`: where customers stand, and how they move between stages."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.commands.measure import day
from retainly.cli.output import console, print_csv, print_json, print_rows
from retainly.errors import InputError
from retainly.services.lifecycle import NOT_A_CUSTOMER, STAGES

# The moves a shop watches month by month, as (column, from stages, to stage).
_WATCHED = (("new", (NOT_A_CUSTOMER,), "new"), ("active → at risk", ("active", "won_back", "new"), "at_risk"),
            ("at risk → lapsed", ("at_risk",), "lapsed"), ("→ lost", ("active", "at_risk", "lapsed", "new", "won_back"), "lost"),
            ("won back", tuple(STAGES) + (NOT_A_CUSTOMER,), "won_back"), ("recovered", ("at_risk",), "active"))


@app.command()
def lifecycle(
    as_of: Annotated[Optional[str], typer.Option("--as-of", "--to", help="Stages as of this day (default: the last order).", metavar="YYYY-MM-DD")] = None,
    first: Annotated[Optional[str], typer.Option("--from", help="Also show the flow between stages from this day, and its monthly trend.", metavar="YYYY-MM-DD")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print every customer's stage, reason and risk as CSV.")] = False,
) -> None:
    """Lifecycle stages (new, active, at risk, lapsed, lost, won back; VIP), with the flow between two dates.

    Rules: docs/lifecycle.md. Example: retainly lifecycle --from 2011-01-01 --to 2011-12-09
    """
    with open_workspace() as ws:
        with console.status("placing every customer in a stage..."):
            on = ws.lifecycle.ensure(day(as_of, "--as-of"))
            flow = _flow(ws, day(first, "--from"), on) if first else None
            customers = ws.lifecycle.customers(on) if as_csv else None
            counts = ws.lifecycle.counts(on)
    if as_csv:
        # Led by the shop's id of the customer, named `customer` as in every other list.
        print_csv([{"customer": row.external_id, **{k: v for k, v in row.to_dict().items() if k != "external_id"}}
                   for row in customers])
        return
    if as_json:
        print_json({"as_of": on, "stages": counts, **({"flow": flow} if flow else {})})
        return
    print_rows(f"lifecycle stages as of {on}", counts)
    if flow:
        print_rows(f"flow between stages, {flow.first} → {flow.last} (customers)", _matrix(flow.flow))
        print_rows("stage changes month by month", _trend(flow.trend))
    console.print("every customer's stage, reason and warning signs: add --csv, or see `retainly customer show ID`")


def _flow(ws, first, last):
    # The core names the dates `first` and `last`; here they are --from and --to (alias of --as-of).
    if first >= last:
        raise InputError(f"--from {first} must be before --to {last}")
    return ws.lifecycle.flow(first, last)


def _matrix(flow) -> list[dict]:
    order = [NOT_A_CUSTOMER, *STAGES]
    targets = [s for s in STAGES if any(f.to_stage == s for f in flow)]
    cells = {(f.from_stage, f.to_stage): f.customers for f in flow}
    sources = [s for s in order if any(f.from_stage == s for f in flow)]
    return [{"from \\ to": source, **{t: cells.get((source, t), 0) for t in targets}} for source in sources]


def _trend(trend) -> list[dict]:
    periods = sorted({(t.from_date, t.to_date) for t in trend})
    rows = []
    for start, end in periods:
        moves = [t for t in trend if (t.from_date, t.to_date) == (start, end)]
        row = {"to": end}
        for column, sources, target in _WATCHED:
            row[column] = sum(t.customers for t in moves if t.to_stage == target and t.from_stage in sources)
        rows.append(row)
    return rows
