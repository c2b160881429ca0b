"""Time the shop generator: per-phase and total seconds, and row counts, as plain text.

    PYTHONPATH=src python benchmarks/generate.py            # 10_000, 100_000, 1_000_000
    PYTHONPATH=src python benchmarks/generate.py 50000      # one size

Peak memory is the process's maximum resident set size (Linux), which only grows, so
run one size per process to read a size's own peak.
"""

from __future__ import annotations

import platform
import resource
import sys
import time

from retainly.ingest.batch import ENTITY_COLUMNS
from retainly.synth import generate_shop

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def run(customers: int) -> None:
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
    print(flush=True)


def main(argv: list[str]) -> None:
    sizes = [int(arg.replace("_", "")) for arg in argv] or list(DEFAULT_SIZES)
    print(f"generate_shop(N, seed=1) on {platform.python_version()}, {platform.machine()}\n")
    for customers in sizes:
        run(customers)


if __name__ == "__main__":
    main(sys.argv[1:])
