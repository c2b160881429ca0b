"""Time the import of the full Online Retail II file (1,067,370 rows) into a fresh store.

    python benchmarks/import_online_retail.py [--postgres URL] [--repeat N]

Prints seconds per phase (read, check, load) and in all, for DuckDB and, when a URL is
given, PostgreSQL. Results are recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

from retainly import Workspace

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "online_retail_ii" / "online_retail_II.csv.gz"


def one_run(url: str) -> dict[str, float]:
    marks: list[tuple[str, float]] = []
    with Workspace.open(url) as ws:
        started = time.perf_counter()
        ws.data.import_file("orders", DATASET, preset="online-retail-ii",
                            progress=lambda phase: marks.append((phase, time.perf_counter())))
        finished = time.perf_counter()
    phases = {name: (marks[i + 1][1] if i + 1 < len(marks) else finished) - at for i, (name, at) in enumerate(marks)}
    return {**phases, "total": finished - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose database may be filled")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    targets = [("duckdb", None)] + ([("postgres", args.postgres)] if args.postgres else [])
    for backend, url in targets:
        runs = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as folder:
                if backend == "postgres":
                    with Workspace.open(url) as ws:  # start each run from an empty store
                        for table in ("order_lines", "orders", "returns", "products", "customers", "imports",
                                      "import_rejects"):
                            ws.store.execute(f"DELETE FROM {table}")
                runs.append(one_run(url or f"duckdb:///{folder}/bench.duckdb"))
        keys = runs[0].keys()
        summary = ", ".join(f"{k} {statistics.median(r[k] for r in runs):.2f} s" for k in keys)
        print(f"{backend}: median of {len(runs)} runs: {summary}")


if __name__ == "__main__":
    main()
