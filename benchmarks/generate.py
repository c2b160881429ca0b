"""Time the shop generator: per-phase and total seconds, and row counts, as plain text.

    PYTHONPATH=src python benchmarks/generate.py            # 10_000, 100_000, 1_000_000
    PYTHONPATH=src python benchmarks/generate.py 50000      # the sizes given
    PYTHONPATH=src python benchmarks/generate.py --load 1000000   # also load it into a DuckDB store

Each size runs in a fresh process, so the peak memory printed (maximum resident set size)
is that size's own.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time

from retainly.ingest.batch import ENTITY_COLUMNS
from retainly.synth import generate_shop

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def run(customers: int, load: bool = False) -> None:
    phases: list[tuple[str, float]] = []
    began = time.perf_counter()

    def progress(phase: str) -> None:
        phases.append((phase, time.perf_counter()))

    batch = generate_shop(customers, seed=1, progress=progress)
    finished = time.perf_counter()
    print(f"customers={customers:,}")
    marks = phases + [("(frames)", finished)]
    for (phase, at), (_next, until) in zip(marks, marks[1:]):
        print(f"  {phase:<14}{until - at:8.2f} s")
    print(f"  {'total':<14}{finished - began:8.2f} s")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {'peak RSS':<14}{peak_mb:8.0f} MB")
    for name in ENTITY_COLUMNS:
        frame = getattr(batch, name)
        print(f"  rows {name:<14}{0 if frame is None else len(frame):>12,}")
    if load:
        load_into_store(batch, customers)
    print(flush=True)


def load_into_store(batch, customers: int) -> None:
    """The same batch loaded into a fresh DuckDB store in one transaction, as `retainly generate` does."""
    import tempfile

    from retainly.synth.files import load_generated
    from retainly.store import connect, schema

    with tempfile.TemporaryDirectory() as folder:
        store = connect(f"duckdb:///{folder}/bench.duckdb")
        schema.upgrade(store)
        began = time.perf_counter()
        load_generated(store, batch, customers, seed=1)
        print(f"  {'load DuckDB':<14}{time.perf_counter() - began:8.2f} s")
        store.close()


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--one":
        run(int(argv[1]), load=argv[2:] == ["--load"])
        return
    load = "--load" in argv
    sizes = [int(arg.replace("_", "")) for arg in argv if arg != "--load"] or list(DEFAULT_SIZES)
    print(f"generate_shop(N, seed=1): Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} cores\n", flush=True)
    for customers in sizes:
        subprocess.run([sys.executable, __file__, "--one", str(customers), *(["--load"] if load else [])], check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
