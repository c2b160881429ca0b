"""`retainly generate` and `retainly demo`: a realistic generated shop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace, state
from retainly.cli.output import after_commit, console, phases, print_record, print_rows
from retainly.errors import InputError
from retainly.services.data import GENERATOR_PHASES, SHOP_FILE_FORMATS, write_generated_shop
from retainly.services.predictions import LIKELY_TO_ORDER
from retainly.views.report import write_report
from retainly.workspace import Workspace

_PHASES = (*GENERATOR_PHASES, "loading")
_ANALYSES = ("kpis", "segments", "scores", "lifecycle", "buyer types and reorders", "playbooks", "simulation",
             "report")
TOLD = ("added", "lost", "no clear effect")  # the verdicts that tell something (docs/experiments.md)
SIMULATED_WINDOW = 7  # the demo measures a week after entering: every response falls within it
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
    if file_format not in SHOP_FILE_FORMATS:
        raise InputError(f"--format {file_format!r} is not supported; use csv or parquet")
    if dirty and out is None:
        raise InputError("--dirty needs --out: malformed rows only make sense in export files")
    if out is not None:
        with phases(f"generating {customers:,} customers", (*GENERATOR_PHASES, "writing")) as step:
            files = write_generated_shop(customers, seed, out, file_format, dirty=dirty, progress=step)
        console.print(f"wrote {len(files)} files to {out}/ (hidden truth in {out}/truth/); import them with:")
        for path in files:
            console.print(f"  retainly import {path.stem} {path}")
        return
    with open_workspace(create=True) as ws, phases(f"generating {customers:,} customers", _PHASES) as step:
        import_id = ws.data.generate(customers, seed, progress=step)
    with after_commit(f"the generated shop (import #{import_id})"):
        console.print(f"generated shop loaded as import #{import_id}")


@app.command()
def demo(
    customers: Annotated[int, typer.Option("--customers", help="How many customers to generate.", min=100)] = 5_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 42,
    days: Annotated[int, typer.Option("--days", help="Days to simulate with every playbook on (0: none).",
                                      min=0)] = 10,
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
    with open_workspace(url, create=True) as ws:
        with phases(f"generating a shop of {customers:,} customers", (*_PHASES, *_ANALYSES)) as step:
            ws.data.generate(customers, seed, progress=step)
            step("kpis")
            kpis = ws.measures.kpis()[0]
            step("segments")
            segments = ws.rfm.segments()
            step("scores")
            fit = ws.predictions.fit()
            totals = ws.predictions.totals()  # before the simulated days move the shop on
            step("lifecycle")
            stages = ws.lifecycle.counts(ws.lifecycle.compute())
            step("buyer types and reorders")
            types = ws.insights.buyer_type_mix()
            due = ws.insights.reorders(limit=10).due
            step("playbooks")
            ws.playbooks.enable(["all"])
            plan = ws.playbooks.run(dry_run=True)
            step("simulation")
            shown = _simulate(ws, days) if days else None
            step("report")
            report = write_report(ws, _report_path(ws))
        where = ws.store.url.display()
        example = ws.customers.example_id()
    with after_commit(f"the demo shop in {where}"):
        print_record(f"retainly demo: the shop in {where}, {kpis.period}", {k: getattr(kpis, k) for k in _DEMO_KPIS})
        if kpis.retention_note:
            console.print(f"crr and churn rate: {kpis.retention_note}")
        print_rows("RFM segments", [{k: getattr(row, k) for k in ("segment", "customers", "revenue_share", "action")}
                                    for row in segments])
        print_record(f"predictions for the next {fit.horizon_days} days", {
            "model": fit.model, "why": fit.reason,
            "expected orders": round(totals.expected_orders, 1),
            "expected value (CLV)": round(totals.clv, 2),
            f"likely to order within {totals.order_window_days} days (chance >= {LIKELY_TO_ORDER:.0%})":
                totals.likely_buyers,
            "probably still customers (P(alive) >= 0.5)": totals.active,
        })
        print_rows("lifecycle stages (docs/lifecycle.md)", stages)
        print_rows("buyer types (docs/buyer_types.md)", types.types)
        print_rows("reorders due now (docs/replenishment.md)", due)
        print_rows(f"playbooks, all enabled: a dry run as of {plan.as_of} (docs/playbooks.md; nothing sent)",
                   [{"playbook": p.playbook, "would reach": p.to_deliver, "held out": p.held_out,
                     "suppressed": p.suppressed, "deferred by caps": p.capped,
                     "why suppressed": "; ".join(f"{r}: {n}" for r, n in sorted(p.suppressed_by_reason.items()))}
                    for p in plan.playbooks])
        if shown is not None:
            print_record(f"a closed loop: {days} simulated days with every playbook on and half of each one's "
                         f"customers held out (docs/simulation.md); what {shown['playbook']} added in the "
                         f"{SIMULATED_WINDOW} days after entering", shown)
        console.print(f"explore it: retainly --db {url} customer show {example}, or kpis --by quarter, or backtest --help")
        console.print(f"act on it: retainly --db {url} audiences preview 'stage = at_risk and email_consent', "
                      "or run --dry-run, or playbooks show win-back-60")
        console.print(f"the report, to open in a browser: {report}")
        console.print(f"the web app: retainly --db {url} users add you@example.com --role admin, then "
                      f"retainly --db {url} serve, and open http://127.0.0.1:8000 to log in")


def _simulate(ws: Workspace, days: int) -> dict | None:
    """Simulate ``days`` days with half of each playbook's customers held out (a lab: ten days then tell
    something), then the measured effect of the playbook found clearest, beside the simulator's truth
    (None when no playbook could be measured)."""
    if days <= SIMULATED_WINDOW:
        return None
    for playbook in ws.playbooks.list():
        ws.playbooks.edit(playbook.name, holdout_share=0.5)
    found = ws.simulation.run(days)
    truth = ws.simulation.true_effects(SIMULATED_WINDOW, found.last_day)
    measured = [e for e in ws.experiments.effects(as_of=found.last_day, window_days=SIMULATED_WINDOW)
                if e.incremental_low is not None]
    if not measured:
        return None
    best = max(measured, key=lambda e: (e.verdict in TOLD, e.verdict in ("added", "lost"),
                                        abs(e.difference) / max(e.high - e.low, 1e-9)))
    shown = {"playbook": best.playbook, "treated": best.treated, "held out": best.held_out, "verdict": best.verdict}
    if best.verdict not in TOLD:
        shown["customers needed"] = best.customers_needed
    else:
        shown["revenue added (measured)"] = best.incremental_revenue
        shown["95 % range"] = f"{best.incremental_low:,.2f} to {best.incremental_high:,.2f}"
    shown["revenue added (the simulator's truth)"] = round(truth.get(best.playbook, 0.0), 2)
    shown["all playbooks"] = f"retainly experiments --window-days {SIMULATED_WINDOW}"
    return shown


def _report_path(ws: Workspace) -> Path:
    """Beside a DuckDB store (shop.duckdb -> shop-report.html); in the current folder for a server."""
    store = ws.store.url.path
    if store is None:
        return Path(f"{DEMO_STORE.stem}-report.html")
    return store.with_name(f"{store.stem}-report.html")
