"""`retainly rfm` and `retainly segments`: who the customers are."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.commands.measure import day
from retainly.cli.output import after_commit, console, print_csv, print_json, print_rows


@app.command()
def rfm(
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Score as of this day (default: last order).", metavar="YYYY-MM-DD")] = None,
    bins: Annotated[Optional[int], typer.Option("--bins", help="Score bins (default 5, or [rfm] bins in retainly.toml).", min=2)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every customer's scores as JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print every customer's scores as CSV.")] = False,
) -> None:
    """Compute, store and show every customer's recency, frequency and monetary scores.

    Example: retainly rfm --as-of 2011-06-30 --csv > rfm.csv
    """
    with open_workspace() as ws:
        run = ws.rfm.compute(day(as_of, "--as-of"), bins)
        scored_on, count = run.as_of, run.customers
        table = ws.rfm.scores(scored_on)
    with after_commit(f"the RFM scores of {count:,} customers as of {scored_on}"):
        _report_scores(table, scored_on, count, as_json, as_csv)


def _report_scores(table, scored_on, count: int, as_json: bool, as_csv: bool) -> None:
    if as_json or as_csv:
        rows = table.to_pylist()  # led by `customer`, the shop's id of each customer
        print_json(rows) if as_json else print_csv(rows)
        return
    spread = []
    for score in range(1, table.column("bins")[0].as_py() + 1 if count else 1):
        spread.append({"score": score, **{name: sum(1 for v in table.column(f"{name[0]}_score").to_pylist() if v == score)
                                          for name in ("recency", "frequency", "monetary")}})
    print_rows(f"customers per RFM score as of {scored_on}", spread)
    console.print(f"stored the scores of {count:,} customers as of {scored_on}; see `retainly segments`, "
                  "or add --csv for every customer")


@app.command()
def segments(
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Segments as of this day (default: last order).", metavar="YYYY-MM-DD")] = None,
    earlier: Annotated[Optional[str], typer.Option(
        "--from", help="Also show how customers moved between segments from this day to --as-of.", metavar="YYYY-MM-DD")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (the segment table; with --from, the moves).")] = False,
) -> None:
    """RFM segments: size, revenue share, mean R/F/M and what to do with each.

    The score-to-segment map can be changed in retainly.toml (docs/metrics.md).
    Example: retainly segments --from 2011-06-30
    """
    with open_workspace() as ws:
        on = ws.rfm.ensure(day(as_of, "--as-of"))
        summary = ws.rfm.segments(on)
        moves = ws.rfm.moves(day(earlier, "--from"), on) if earlier else None
    if as_json:
        print_json({"as_of": on, "segments": summary, **({"moves": moves} if moves is not None else {})})
    elif as_csv:
        print_csv(moves if moves is not None else summary)
    else:
        print_rows(f"RFM segments as of {on}", summary)
        if moves is not None:
            print_rows(f"moves between segments, {earlier} → {on} (customers)", _matrix(moves))


def _matrix(moves) -> list[dict]:
    targets = sorted({m.to_segment for m in moves})
    cells = {(m.from_segment, m.to_segment): m.customers for m in moves}
    return [{"from \\ to": source, **{t: cells.get((source, t), 0) for t in targets}}
            for source in sorted({m.from_segment for m in moves})]
