"""`retainly generate` and `retainly demo`: a realistic generated shop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace, state
from retainly.cli.output import console, phases, print_record, print_rows
from retainly.errors import InputError
from retainly.synth import PHASES
from retainly.workspace import Workspace

_PHASES = (*PHASES, "loading")
_ANALYSES = ("kpis", "segments", "scores", "lifecycle", "buyer types and reorders", "report")
_DEMO_KPIS = ("customers", "new_customers", "orders", "revenue", "aov", "repeat_purchase_rate", "crr", "churn_rate",
              "historic_ltv", "top20_revenue_share")

DEMO_STORE = Path("retainly-demo.duckdb")


@app.command()
def generate(
    customers: Annotated[int, typer.Option("--customers", help="How many customers.", min=1)] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same shop.")] = 1,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write export files here instead of loading the store.")] = None,
    file_format: Annotated[str, typer.Option("--format", help="File format with --out: csv or parquet.")] = "csv",
    dirty: Annotated[bool, typer.Option("--dirty", help="With --out: add malformed rows (listed in orders.faults.csv).")] = False,
) -> None:
    """Generate a realistic online shop, with its hidden truth, into the store or as files.

    Example: retainly generate --customers 100000 --seed 7 --out shop/ --format parquet
    """
    from retainly.shop_files import write_shop
    from retainly.synth import generate_shop

    if file_format not in ("csv", "parquet"):
        raise InputError(f"--format {file_format!r} is not supported; use csv or parquet")
    if dirty and out is None:
        raise InputError("--dirty needs --out: malformed rows only make sense in export files")
    if out is not None:
        with phases(f"generating {customers:,} customers", _PHASES[:-1]) as step:
            batch = generate_shop(customers, seed, progress=step)
            step("writing")
            files = write_shop(batch, out, file_format, dirty=dirty, seed=seed)
        console.print(f"wrote {len(files)} files to {out}/ (hidden truth in {out}/truth/); import them with:")
        for path in files:
            console.print(f"  retainly import {path.stem} {path}")
        return
    with open_workspace() as ws, phases(f"generating {customers:,} customers", _PHASES) as step:
        import_id = ws.generate(customers, seed, progress=step)
    console.print(f"generated shop loaded as import #{import_id}")


@app.command()
def demo(
    customers: Annotated[int, typer.Option("--customers", help="How many customers to generate.", min=100)] = 5_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 42,
) -> None:
    """Generate a realistic shop into a fresh demo store, show its KPIs, segments, predictions, stages, buyer types and due reorders, and write the report.

    Without --db the demo writes ./retainly-demo.duckdb (made anew each time), never your shop's store,
    and the HTML report beside it (./retainly-demo-report.html).
    Example: retainly demo --customers 20000
    """
    url = state.db
    if url is None:
        for leftover in (DEMO_STORE, DEMO_STORE.with_name(DEMO_STORE.name + ".wal")):
            leftover.unlink(missing_ok=True)
        url = str(DEMO_STORE)
    with Workspace.open(url) as ws:
        with phases(f"generating a shop of {customers:,} customers", (*_PHASES, *_ANALYSES)) as step:
            ws.generate(customers, seed, progress=step)
            step("kpis")
            kpis = ws.kpis()[0]
            step("segments")
            segments = ws.segments()
            step("scores")
            fit = ws.score()
            step("lifecycle")
            stages = ws.lifecycle_counts(ws.lifecycle())
            step("buyer types and reorders")
            types = ws.buyer_type_mix()
            due = ws.reorders(limit=10)["due"]
            step("report")
            report = ws.report(_report_path(ws))
        scores = ws.scores().to_pandas()
        where = ws.store.url.display()
        example = ws.store.fetchone("SELECT external_id FROM customers ORDER BY customer_id LIMIT 1")[0]
    print_record(f"retainly demo: the shop in {where}, {kpis['period']}", {k: kpis[k] for k in _DEMO_KPIS})
    print_rows("RFM segments", [{k: row[k] for k in ("segment", "customers", "revenue_share", "action")}
                                for row in segments])
    print_record(f"predictions for the next {fit['horizon_days']} days", {
        "model": fit["model"], "why": fit["reason"],
        "expected orders": round(float(scores["expected_orders"].sum()), 1),
        "expected value (CLV)": round(float(scores["clv"].sum()), 2),
        "probably still customers (P(alive) >= 0.5)": int((scores["p_alive"] >= 0.5).sum()),
    })
    print_rows("lifecycle stages (docs/lifecycle.md)", stages)
    print_rows("buyer types (docs/buyer_types.md)", types["types"])
    print_rows("reorders due now (docs/replenishment.md)", due)
    console.print(f"explore it: retainly --db {url} customer show {example}, or kpis --by quarter, or backtest --help")
    console.print(f"the report, to open in a browser: {report}")


def _report_path(ws: Workspace) -> Path:
    """Beside a DuckDB store (shop.duckdb -> shop-report.html); in the current folder for a server."""
    store = ws.store.url.path
    if store is None:
        return Path(f"{DEMO_STORE.stem}-report.html")
    return store.with_name(f"{store.stem}-report.html")
