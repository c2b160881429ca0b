"""The report's per-customer parts on a large store, one by one: the store summary and the lifecycle
compute (rhythm facts, stages, the predictions of two dates, warning signs, storing).

    PYTHONPATH=src python benchmarks/report_parts.py /tmp/bench-100m.duckdb

Stores come from benchmarks/bigshop.py; predictions are fitted first when the store has none for the
last order's date (not timed). Each part prints its wall time and the process's peak memory so far.
The reference is ../shared/PERFORMANCE.md's per-customer summary (lifetimes, 10.7 s at 10 M order
rows; DuckDB SQL, 39 s at 100 M): every part reads the same purchases, so a part several times
slower than that points at Python, not at the engine.
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import timedelta
from pathlib import Path

# ../shared/PERFORMANCE.md: the per-customer summary of 10 M and 100 M order rows (as benchmarks/scale.py)
REFERENCE_SUMMARY = {10_000_000: ("lifetimes 0.11.3", 10.7), 100_000_000: ("DuckDB SQL", 39.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path, help="a DuckDB store from benchmarks/bigshop.py")
    args = parser.parse_args()

    from retainly import Workspace
    from retainly.features.rhythm import customer_rhythm
    from retainly.features.summary import store_summary
    from retainly.scores.stored import predictions_at
    from retainly.segments import lifecycle_store
    from retainly.segments.lifecycle import lifecycle_stages
    from retainly.segments.warning_signs import warning_signs

    def clock(name, call):
        wall = time.perf_counter()
        out = call()
        took = time.perf_counter() - wall
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"  {name:<34} {took:7.1f} s  peak {peak:5.1f} GB", flush=True)
        return out, took

    with Workspace.open(f"duckdb:///{args.store}", upgrade=True) as ws:
        as_of = ws.predictions.ensure(None)
        s, analytics = ws.settings, ws.analytics
        summary, took_summary = clock("store summary", lambda: store_summary(ws.store))
        print(f"  ({summary['orders']:,} purchase orders of {summary['customers']:,} customers, as of {as_of})")
        facts, rhythm = clock("customer rhythm facts", lambda: customer_rhythm(analytics, as_of))
        now, p_now = clock("predictions now", lambda: predictions_at(analytics, as_of))
        stages, staged = clock("lifecycle stages and reasons",
                               lambda: lifecycle_stages(analytics, as_of, now, s.lifecycle, facts=facts))
        before, p_before = clock("predictions 90 days before", lambda: predictions_at(
            analytics, as_of - timedelta(days=s.warning_signs.fading_days)))
        signs, signed = clock("warning signs", lambda: warning_signs(analytics, as_of, facts, now, before,
                                                                     s.warning_signs))
        _, stored = clock("storing stages and signs", lambda: lifecycle_store.store_stages(analytics, as_of, stages,
                                                                                          signs))
        total = rhythm + p_now + staged + p_before + signed + stored
        print(f"lifecycle compute: {total:.1f} s for {len(stages):,} customers, "
              f"{int((signs.sign_count > 0).sum()):,} with warning signs")
        size = min(REFERENCE_SUMMARY, key=lambda orders: abs(orders - summary["orders"]))
        tool, seconds = REFERENCE_SUMMARY[size]
        print(f"against the per-customer summary of {size:,} order rows in {tool} ({seconds} s): store summary "
              f"{took_summary / seconds:.2f}x, lifecycle compute {total / seconds:.2f}x")


if __name__ == "__main__":
    main()
