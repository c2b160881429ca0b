"""Time the simulated shop and the measurement of what playbooks added.

    PYTHONPATH=src python benchmarks/simulate.py [--customers 20000] [--days 7] [--seed 1] [--replications 200]

A shop of ``--customers`` generated customers goes into a fresh DuckDB file in a temporary folder
(file channels in a temporary RETAINLY_OUTBOX_DIR), every built-in playbook is enabled, and then,
each timed in this process:

1. ``ws.simulation.run(days)``: per day, the day's orders imported, ``retainly run`` as of the day
   (derived results, enrolments, planning, delivery) and the responses recorded;
2. ``ws.experiments.effects(window_days=days - 2)``: every playbook against its holdout;
3. ``--replications`` replications of win-back-60's experiment on 2,000 customers
   (retainly.synth.replications), as the coverage test runs them;
4. the offer model of loyal-slowing-discount fitted on an offer test of 20,000 units.

There is no reference tool for a closed-loop simulation; the figures are for planning test and
demo time. Results go in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--replications", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["RETAINLY_OUTBOX_DIR"] = str(Path(folder) / "outbox")
        (Path(folder) / "retainly.toml").write_text("", encoding="utf-8")
        from retainly import Workspace
        from retainly.experiments import targeting
        from retainly.playbooks.library import builtin
        from retainly.settings import ExperimentSettings
        from retainly.synth.replications import Treatment, experiment_units, population, replicate

        ws = Workspace.open(f"duckdb:///{folder}/shop.duckdb", settings=Path(folder) / "retainly.toml")
        started = time.perf_counter()
        ws.data.generate(args.customers, args.seed)
        print(f"generated {args.customers:,} customers: {time.perf_counter() - started:.1f} s")
        ws.playbooks.enable(["all"])
        moments = [time.perf_counter()]
        found = ws.simulation.run(args.days, seed=args.seed, progress=lambda _: moments.append(time.perf_counter()))
        lasted = np.diff(moments)
        for day, seconds in zip(found.days, lasted):
            print(f"  {day.day}: {seconds:5.1f} s  orders {day.orders:,}, delivered {day.delivered:,}, "
                  f"new customers {day.new_customers:,}")
        print(f"simulated {args.days} days: {lasted.sum():.1f} s; after the first, "
              f"{np.median(lasted[1:]) if len(lasted) > 1 else lasted[0]:.1f} s a day (median)")

        started = time.perf_counter()
        window = max(1, args.days - 2)
        effects = ws.experiments.effects(window_days=window)
        print(f"experiments (every playbook, window {window} days): {time.perf_counter() - started:.2f} s, "
              f"{sum(e.treated + e.held_out for e in effects):,} enrolments")

        people = population(ws.store, "win-back-60")
        started = time.perf_counter()
        runs = [replicate(people, Treatment("win-back-60", "message", 0.0, 30), n, units=2000)
                for n in range(args.replications)]
        print(f"{args.replications} replications of win-back-60 on 2,000 customers: "
              f"{time.perf_counter() - started:.1f} s ({sum(r.covered for r in runs)} covered)")

        book = builtin("loyal-slowing-discount")
        people = population(ws.store, book.name)
        known = targeting.features(ws.store, people["customer_id"].to_numpy(), date(2026, 1, 1)).to_pandas()
        known = known.set_index("customer_id")
        past = experiment_units(people, Treatment(book.name, "offer", 0.1, book.goal_days, others="message"), 1,
                                units=20_000)
        units = pa.Table.from_pandas(known.loc[past["source_id"]].reset_index(drop=True).assign(
            arm=past["arm"].to_numpy(), outcome=past["outcome"].to_numpy()))
        started = time.perf_counter()
        model = targeting.from_units(units, book.name, date(2026, 1, 1), ExperimentSettings())
        print(f"offer model on 20,000 offer-test units: {time.perf_counter() - started:.1f} s ({model.text})")
        ws.close()


if __name__ == "__main__":
    main()
