"""`retainly report`: the offline HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.output import console
from retainly.views.report import write_report


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write (replaced if it exists).",
                                      metavar="PATH")] = Path("report.html"),
) -> None:
    """Write the retention report: KPI tiles with trends, segments, cohorts, revenue concentration, a call list.

    One self-contained HTML file: it opens in any browser, offline, and sends no request.
    Example: retainly --db shop.duckdb report --out report.html
    """
    with open_workspace() as ws:
        written = write_report(ws, out)
        empty = ws.data.summary().orders == 0
    console.print(f"wrote the report to {written} ({_size(written.stat().st_size)})")
    if empty:
        console.print("note: the store has no purchase orders yet, so the report only says so; "
                      "import orders first (see `retainly import --help`)")


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
