"""`retainly score` and `retainly backtest`: what each customer will do, and how well that is known."""

from __future__ import annotations

import re
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.commands.measure import day
from retainly.cli.output import after_commit, console, print_csv, print_json, print_record, print_rows
from retainly.errors import InputError
from retainly.services.predictions import DAYS_PER_MONTH, LIKELY_TO_ORDER

_UNIT_DAYS = {"d": 1.0, "w": 7.0, "m": DAYS_PER_MONTH, "y": 365.0}


def horizon_days(text: str | None) -> int | None:
    """'12m', '52w', '90d' or '1y' as whole days (a month is 365.25/12 days)."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*([dwmy])\s*", text.lower())
    if not match or int(match.group(1)) == 0:
        raise InputError(f"--horizon {text!r} is not a horizon; write a number and a unit, e.g. 90d, 26w, 12m or 1y")
    return round(int(match.group(1)) * _UNIT_DAYS[match.group(2)])


@app.command()
def score(
    model: Annotated[str, typer.Option("--model", help="auto (chosen by backtest), bgnbd, mbgnbd, paretonbd or heuristic.")] = "auto",
    horizon: Annotated[Optional[str], typer.Option("--horizon", help="Horizon of expected orders and CLV: 90d, 26w, 12m, 1y (default 12m).")] = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Data cut-off (default: the last order).", metavar="YYYY-MM-DD")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the fit record as JSON.")] = False,
) -> None:
    """Fit a purchase model and a spend model, and store every customer's P(alive), expected orders, CLV and next-order date.

    Models and predictions: docs/models.md. Example: retainly score --horizon 6m
    """
    with open_workspace() as ws:
        with console.status("choosing and fitting a model (backtest on the shop's own history)..."):
            fit = ws.predictions.fit(model, day(as_of, "--as-of"), horizon_days(horizon))
        totals = ws.predictions.totals(fit.as_of)
    with after_commit(f"the {fit.model} fit as of {fit.as_of} with every customer's predictions"):
        _report_fit(fit, totals, as_json)


def _report_fit(fit, totals, as_json: bool) -> None:
    if as_json:
        print_json(fit)
        return
    print_record(f"model fitted on purchases up to {fit.as_of}", {
        "model": fit.model, "why": fit.reason, "parameters": fit.params,
        f"spend model ({fit.spend_model})": fit.spend_params, "customers": fit.customers,
        "repeat buyers": fit.repeat_buyers, "horizon days": fit.horizon_days,
    })
    print_record(f"predictions over the next {fit.horizon_days} days", {
        "expected orders, all customers": round(totals.expected_orders, 1),
        "expected value (CLV), all customers": round(totals.clv, 2),
        f"customers likely to order within {totals.order_window_days} days (chance >= {LIKELY_TO_ORDER:.0%})":
            totals.likely_buyers,
        f"customers expected to order within {totals.order_window_days} days (chances summed)":
            round(totals.expected_buyers, 1),
        "customers probably still active (P(alive) >= 0.5)": totals.active,
        "mean P(alive)": round(float(totals.mean_p_alive or 0), 4),
    })
    console.print("stored every customer's predictions; see `retainly customer show ID` or `retainly report`")


_BACKTEST_COLUMNS = ("model", "predicted_purchases", "actual_purchases", "aggregate_error", "mae", "rmse", "brier",
                     "calibrated_brier", "roc_auc", "p_alive_auc", "revenue_error")


@app.command()
def backtest(
    calibration_end: Annotated[str, typer.Option("--calibration-end", help="Last day the models may see.", metavar="YYYY-MM-DD")],
    holdout_end: Annotated[Optional[str], typer.Option("--holdout-end", help="Last day of the holdout (default: the last order).", metavar="YYYY-MM-DD")] = None,
    models: Annotated[Optional[list[str]], typer.Option("--model", help="Models to compare: bgnbd, mbgnbd, paretonbd, heuristic, auto (the automatic choice, made on the history before the cut-off); repeatable; default: all.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, with the weekly tracking of each model.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV: every metric, one row per model.")] = False,
) -> None:
    """Fit on orders up to a cut-off, predict the holdout after it, and compare with what happened.

    Metrics: docs/models.md. Example: retainly backtest --calibration-end 2010-12-09 --holdout-end 2011-12-09
    """
    with open_workspace(read_only=True) as ws:
        with console.status("fitting each model on the calibration period..."):
            result = ws.predictions.backtest(day(calibration_end, "--calibration-end"), day(holdout_end, "--holdout-end"),
                                             models)
    if as_json:
        print_json(result)
        return
    if as_csv:
        print_csv([{k: v for k, v in r.items() if k != "tracking"} for r in result.models])
        return
    # A model that could not be fitted has only an error: the columns come from every row (print_rows).
    rows = [{**{k: r.get(k) for k in _BACKTEST_COLUMNS}, "model": _label(r)} if "error" not in r
            else {"model": r["model"], "error": r["error"]} for r in result.models]
    print_rows(f"backtest: calibration to {result.calibration_end}, holdout to {result.holdout_end}", rows)
    fitted = [r for r in result.models if "error" not in r]
    uncalibrated: dict[str, list[str]] = {}  # why -> the models it holds for
    for r in fitted:
        if r.get("calibration") and "calibrated_brier" not in r:
            uncalibrated.setdefault(r["calibration"], []).append(_label(r))
    for note, labels in uncalibrated.items():
        console.print(f"no calibrated chance for {', '.join(labels)}: {note}")
    for key, what in (("reliability", "the model's own chance"), ("calibrated_reliability", "the calibrated chance")):
        if any(r.get(key) for r in fitted):
            print_rows(f"chance to order in the holdout, {what}: predicted / observed share per tenth of customers",
                       _reliability_rows(fitted, key))
    console.print("aggregate_error +0.53 means 53 % more purchases predicted than happened; "
                  "lower mae/rmse/brier and higher auc are better; a well calibrated chance has predicted = observed")


def _label(result: dict) -> str:
    """A backtest row's model, and for the automatic choice the model it chose."""
    return f"auto ({result['chosen']})" if "chosen" in result else result["model"]


def _reliability_rows(results: list[dict], key: str) -> list[dict]:
    """One row per tenth of customers (lowest chance first), a "predicted / observed" column per model."""
    tenths = max(len(r.get(key) or []) for r in results)
    return [{"tenth": i + 1, **{_label(r): (f"{r[key][i]['predicted']:.3f} / {r[key][i]['observed']:.3f}"
                                             if i < len(r.get(key) or []) else None) for r in results}}
            for i in range(tenths)]
