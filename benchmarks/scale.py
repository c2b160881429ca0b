"""The whole analytic path on a large store, on DuckDB and on local Spark, side by side.

    PYTHONPATH=src python benchmarks/scale.py /tmp/bench-10m.duckdb
    PYTHONPATH=src python benchmarks/scale.py /tmp/bench-100m.duckdb --engines duckdb spark://local[2] \
        --spark-memory 12g

Stores come from benchmarks/bigshop.py. Each engine runs in a fresh process on its own copy-free
view of the store: DuckDB answers from the file itself; Spark reads the store's tables published
to Parquet (the publish is a step of its own, and the warehouse is kept between runs unless
``--fresh``), and writes its results back into the store like DuckDB does. Per step: wall
seconds and CPU seconds (this process plus Spark's JVM), and the peak memory of each. The
reference figures are ../shared/PERFORMANCE.md's per-customer summaries.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REFERENCE_SUMMARY = {10_000_000: ("lifetimes 0.11.3", 10.7), 100_000_000: ("DuckDB SQL", 39.0)}
TICKS = os.sysconf("SC_CLK_TCK")
CORE = ("kpis", "cohorts", "rfm", "score")  # the steps the one-machine aim counts (the report apart)


def _children() -> list[int]:
    """Processes started by this one (Spark's JVM), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid():
                found.append(int(entry.name))
    return found


def _cpu_seconds() -> float:
    """CPU (user + system) of this process and its live children so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    total = own.ru_utime + own.ru_stime
    for pid in _children():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def _jvm_peak_mb() -> float:
    peak = 0.0
    for pid in _children():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            continue
    return peak


def _reset_peak() -> None:
    """Start this process's peak resident memory (VmHWM) afresh, so that each step's peak is its own."""
    Path("/proc/self/clear_refs").write_text("5")


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


STEPS = ("kpis", "by-month", "cohorts", "rfm", "score", "report")


def measure(path: Path, engine: str, warehouse: Path, memory: str, steps: tuple[str, ...] = STEPS) -> dict:
    from retainly import Workspace
    from retainly.views.report import write_report

    settings = path.with_suffix(f".{'spark' if engine != 'duckdb' else 'duckdb'}.toml")
    if engine == "duckdb":
        settings.write_text("")
    else:
        settings.write_text(f'[analytics]\nurl = "{engine}"\nwarehouse = "{warehouse}"\n'
                            f'[analytics.spark]\n"spark.driver.memory" = "{memory}"\n')
    chosen, steps, overall = steps, [], 0.0
    with Workspace.open(f"duckdb:///{path}", settings=settings, upgrade=True) as ws:
        orders = int(ws.store.fetchone("SELECT COUNT(*) FROM orders")[0])
        plan = [("start the Spark session", lambda: ws.analytics.session),
                ("publish to Parquet (changed partitions)", lambda: ws.schema.publish())] if engine != "duckdb" else []
        plan += [step for key, step in (
            ("kpis", ("kpis (whole range)", lambda: ws.measures.kpis())),
            ("by-month", ("kpis --by month", lambda: ws.measures.kpis(by="month"))),
            ("cohorts", ("cohorts --metric customers", lambda: ws.measures.cohorts("month", "customers"))),
            ("cohorts", ("cohorts --metric revenue", lambda: ws.measures.cohorts("month", "revenue"))),
            ("rfm", ("rfm (score and store)", lambda: ws.rfm.compute())),
            ("score", ("score (fit, predict, store)", lambda: ws.predictions.fit())),
            ("report", ("report", lambda: write_report(ws, path.with_suffix(".html")))),
        ) if key in chosen]
        for name, call in plan:
            overall = max(overall, _peak_mb())
            _reset_peak()
            wall, cpu = time.perf_counter(), _cpu_seconds()
            call()
            steps.append((name, time.perf_counter() - wall, _cpu_seconds() - cpu, _peak_mb()))
            # On stderr, which passes through the parent as it happens: a child killed midway (out of
            # memory) still leaves the steps it finished on the screen.
            print(f"  {engine:<18} {name:<42} {steps[-1][1]:8.2f} s wall {steps[-1][2]:8.2f} s CPU "
                  f"{steps[-1][3] / 1024:6.1f} GB peak (Python)", flush=True, file=sys.stderr)
        customers = int(ws.store.fetchone("SELECT COUNT(DISTINCT customer_id) FROM rfm_scores")[0])
    return {"orders": orders, "customers": customers, "steps": steps,
            "peak_mb": max(overall, _peak_mb()), "jvm_peak_mb": _jvm_peak_mb()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--engines", nargs="+", default=["duckdb", "spark://local[2]"])
    parser.add_argument("--spark-memory", default="8g", help="spark.driver.memory of the local session")
    parser.add_argument("--fresh", action="store_true", help="publish the whole store again (empty the warehouse)")
    parser.add_argument("--no-report", action="store_true", help="leave the HTML report out (long at 100 M)")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS), help="the steps to run (all)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process: one engine
    args = parser.parse_args(argv)
    warehouse = args.store.with_suffix(".warehouse")
    if args.one:
        steps = tuple(step for step in args.steps if not (args.no_report and step == "report"))
        found = measure(args.store, args.one, warehouse, args.spark_memory, steps)
        print(json.dumps(found), flush=True)
        return
    if args.fresh:
        shutil.rmtree(warehouse, ignore_errors=True)
    results = {}
    for engine in args.engines:
        run = subprocess.run([sys.executable, __file__, str(args.store), "--one", engine,
                              "--spark-memory", args.spark_memory, *(["--no-report"] if args.no_report else []),
                              "--steps", *args.steps],
                             stdout=subprocess.PIPE, text=True)
        if run.returncode != 0:  # killed (out of memory: -9) or failed; its finished steps are on stderr above
            print(f"{engine}: the run ended with exit status {run.returncode} before its last step", file=sys.stderr)
            continue
        results[engine] = json.loads(run.stdout.strip().splitlines()[-1])
    if not results:
        sys.exit(1)
    first = next(iter(results.values()))
    print(f"\n{args.store}: {first['orders']:,} orders, {first['customers']:,} customers scored")
    names = [step[0] for step in max((r["steps"] for r in results.values()), key=len)]
    print(f"| step | {' | '.join(f'{e} wall | {e} CPU | {e} peak GB' for e in results)} |")
    print(f"|---|{'---|---|---|' * len(results)}")
    for name in names:
        cells = []
        for result in results.values():
            found = {n: rest for n, *rest in result["steps"]}.get(name)
            cells += [f"{found[0]:.1f}", f"{found[1]:.1f}", f"{found[2] / 1024:.1f}"] if found else ["—"] * 3
        print(f"| {name} | {' | '.join(cells)} |")
    for engine, result in results.items():
        total = sum(w for n, w, *_ in result["steps"] if n.split()[0] in CORE)
        cpu = sum(c for n, _, c, *_ in result["steps"] if n.split()[0] in CORE)
        print(f"{engine}: kpis + cohorts + rfm + score {total:.1f} s wall, {cpu:.1f} s CPU; peak RSS "
              f"{result['peak_mb']:.0f} MB (Python) + {result['jvm_peak_mb']:.0f} MB (JVM)")
    reference = REFERENCE_SUMMARY.get(first["orders"])
    if reference:
        tool, seconds = reference
        for engine, result in results.items():
            rfm = {n: w for n, w, *_ in result["steps"]}.get("rfm (score and store)")
            if rfm:
                print(f"rfm on {engine} vs {tool} per-customer summary ({seconds:.1f} s): {seconds / rfm:.2f}x")


if __name__ == "__main__":
    main()
