"""Time KPIs, RFM and cohorts on large DuckDB stores, against the reference figures.

    PYTHONPATH=src python benchmarks/measure.py /tmp/bench-10m.duckdb /tmp/bench-100m.duckdb
    PYTHONPATH=src python benchmarks/measure.py --build 1000000 10000000 /tmp/bench-10m.duckdb

Stores come from benchmarks/bigshop.py (``--build CUSTOMERS ORDERS`` makes a missing one).
Each store is measured in a fresh process so memory and caches are its own. Prints seconds
per step, the total of the three measures the issue names (KPIs, RFM, cohorts), and ratios
against the reference tools' per-customer summary (../shared/PERFORMANCE.md): the nearest
thing they compute to one of these steps.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb

# ../shared/PERFORMANCE.md: a per-customer (frequency, recency, T) summary, seconds.
REFERENCE_SUMMARY = {10_000_000: ("lifetimes 0.11.3", 10.7), 100_000_000: ("DuckDB SQL", 39.0)}


def measure(path: Path) -> None:
    from retainly import Workspace
    from retainly.store import purchases, schema
    from retainly.views.report import write_report

    with Workspace.open_unchecked(f"duckdb:///{path}") as ws:
        began = time.perf_counter()
        schema.upgrade(ws.store)
        if not ws.store.fetchone("SELECT COUNT(*) FROM purchases")[0]:
            with ws.store.transaction():
                purchases.rebuild(ws.store)  # and customer_months with it
        derive = time.perf_counter() - began
    orders = int(duckdb.connect(str(path), read_only=True).execute("SELECT COUNT(*) FROM orders").fetchone()[0])
    steps: list[tuple[str, float]] = []
    with Workspace.open(f"duckdb:///{path}") as ws:
        for name, call in (
            ("kpis (whole range)", lambda: ws.measures.kpis()),
            ("kpis --by month", lambda: ws.measures.kpis(by="month")),
            ("rfm (score and store)", lambda: ws.rfm.compute()),
            ("segments", lambda: ws.rfm.segments()),
            ("cohorts --metric customers", lambda: ws.measures.cohorts("month", "customers")),
            ("cohorts --metric revenue", lambda: ws.measures.cohorts("month", "revenue")),
            ("report (all of the above for one HTML file)", lambda: write_report(ws, path.with_suffix(".html"))),
        ):
            began = time.perf_counter()
            call()
            steps.append((name, time.perf_counter() - began))
        customers = int(ws.store.fetchone("SELECT COUNT(*) FROM rfm_scores")[0])
    print(f"store {path}: {orders:,} orders, {customers:,} customers with purchases")
    print(f"  {'upgrade (and derived tables; imports keep them as they go)':<54}{derive:8.2f} s")
    for name, seconds in steps:
        print(f"  {name:<54}{seconds:8.2f} s")
    named = dict(steps)
    core = named["kpis (whole range)"] + named["rfm (score and store)"] + named["cohorts --metric customers"]
    print(f"  {'kpis + rfm + cohorts':<54}{core:8.2f} s")
    reference = REFERENCE_SUMMARY.get(orders)
    if reference:
        tool, seconds = reference
        print(f"  rfm vs {tool} per-customer summary ({seconds:.1f} s): {seconds / named['rfm (score and store)']:.1f}x")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {'peak RSS':<54}{peak_mb:8.0f} MB", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stores", nargs="+", type=Path)
    parser.add_argument("--build", nargs=2, type=int, metavar=("CUSTOMERS", "ORDERS"),
                        help="build missing stores with benchmarks/bigshop.py at this size")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.one:
        measure(args.stores[0])
        return
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"DuckDB {duckdb.__version__}")
    for path in args.stores:
        if not path.exists():
            if not args.build:
                sys.exit(f"{path} does not exist; make it with benchmarks/bigshop.py or pass --build CUSTOMERS ORDERS")
            sys.path.insert(0, str(Path(__file__).parent))
            from bigshop import build_store

            build_store(path, *args.build)
        subprocess.run([sys.executable, __file__, "--one", str(path)], check=True)


if __name__ == "__main__":
    main()
