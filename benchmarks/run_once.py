"""Time one first `retainly run` on a fresh copy of a kept shop: planning and delivery, nothing else.

    PYTHONPATH=src python benchmarks/run_once.py --shop shop.duckdb [--label TEXT]

``--shop`` is a DuckDB store that ``benchmarks/actions.py --out shop.duckdb --keep`` generated
(the derived results stored). It is copied to a temporary folder before anything runs, so every
call measures the same first run, never the leftovers of an earlier one; the copy is deleted at
the end. On the copy: every built-in playbook enabled, a dry run (untimed: it computes nothing
the real run would not, and warms the file cache the same for every commit), then the real run
into file channels in a temporary RETAINLY_OUTBOX_DIR, timed from its progress lines.

For an A/B between commits on the same machine and day, run it with ``PYTHONPATH`` pointing at a
worktree of the other commit (``git worktree add /tmp/old COMMIT``); what the two print is
comparable, unlike figures taken on different days (the same commit's run took 129.5 s one day and
216.5 s the next on this machine). Results go in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from retainly import Workspace

RUN_AIM = 60.0  # seconds, issue 13 ("Speed"), at 1 M customers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shop", type=Path, required=True, help="a kept DuckDB shop (benchmarks/actions.py --keep)")
    parser.add_argument("--label", default="", help="printed with the figures (a commit, a variant)")
    args = parser.parse_args()
    if not args.shop.is_file():
        raise SystemExit(f"{args.shop}: no such file; make one with benchmarks/actions.py --out FILE --keep")
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "shop.duckdb"
        shutil.copy(args.shop, copy)
        os.environ["RETAINLY_OUTBOX_DIR"] = str(Path(folder) / "outbox")
        os.mkdir(os.environ["RETAINLY_OUTBOX_DIR"])
        started, delivering = time.perf_counter(), []

        def hear(line: str) -> None:
            if line.startswith("delivering"):
                delivering.append(time.perf_counter())

        with Workspace.open(f"duckdb:///{copy}", progress=hear) as ws:
            ws.playbooks.enable(["all"])
            ws.playbooks.run(dry_run=True)
            delivering.clear()
            started = time.perf_counter()
            summary = ws.playbooks.run()
            finished = time.perf_counter()
    planning = (delivering[-1] if delivering else finished) - started
    total = finished - started
    print(f"{args.label or 'run'}: {total:.1f} s ({total / RUN_AIM:.2f}x the {RUN_AIM:.0f} s aim): planning "
          f"{planning:.1f} s, delivery {total - planning:.1f} s (the final checkpoint included); {summary.delivered}; "
          f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
