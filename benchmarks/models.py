"""Time retainly's models (fit, P(alive), expected purchases, Gamma-Gamma, CLV) against lifetimes 0.11.3.

    PYTHONPATH=src python benchmarks/models.py                     # 1M and 10M, Pareto/NBD at both
    PYTHONPATH=src python benchmarks/models.py --sizes 1000000 --skip-lifetimes-at 10000000
    PYTHONPATH=src python benchmarks/models.py --sizes 10000000 --no-lifetimes --profile 20
    PYTHONPATH=src python benchmarks/models.py --no-lifetimes --blas-threads 1   # OpenBLAS on one thread
    PYTHONPATH=src python benchmarks/models.py --clock cpu --blas-threads 1      # on a busy machine

On a machine shared with other work, wall-clock seconds measure the neighbours as much as the
code; ``--clock cpu`` times each step by the process's CPU time instead (with one BLAS thread,
so idle threads spinning do not count), close to what a quiet machine's wall clock shows.

Customers are simulated from the BG/NBD process on a day grid, times in weeks (as in
../shared/PERFORMANCE.md): r=0.25, alpha=4, a=0.8, b=2.5 per week, T uniform over whole days
between 1 and 78 weeks, purchase times floored to whole days (two purchases on one day count
once), so identical histories repeat as in real data; repeat buyers' mean spend from a
Gamma-Gamma process (p=6, q=4, v=15). Each size runs in a fresh process, so its peak memory
(maximum resident set size) is its own; retainly runs first, so the peak after its steps is
retainly's alone. retainly's steps are the best of --repeat runs (3), lifetimes' one run each.
On a shared machine, --wait-for-memory waits before a size rather than push others into the
OOM killer (10M with lifetimes needs about 6 GB).

Both libraries time the same steps on the same summary. lifetimes fits with its own
optimiser; then it is given retainly's parameters for the predictions (``params_`` by name),
so timings are comparable and any difference in the outputs is a difference in the formulas.
Agreement checks (PASS/FAIL): log-likelihoods at each library's own optimum equal to 1e-6
relative (lifetimes' ``_negative_log_likelihood_`` converted to a total in retainly's time
unit: a mean per customer for BG/NBD, MBG/NBD and Gamma-Gamma, a sum for Pareto/NBD, in time
scaled so that max T = 1, which shifts the total by Σx·log(scale)); predictions from the same
parameters equal to rtol = atol = 1e-8 (np.allclose).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy

DEFAULT_SIZES = (1_000_000, 10_000_000)
CDNOW = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cdnow" / "cdnow_customers_summary.csv"
SEED = 7
BGNBD = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}  # per week
GAMMA_GAMMA = {"p": 6.0, "q": 4.0, "v": 15.0}
MAX_DAYS = 78 * 7
HORIZON = 52.0  # weeks
MONTHS, DISCOUNT, WEEKS_PER_MONTH = 12, 0.01, 4.345  # lifetimes' freq="W" month is 4.345 weeks
LL_RTOL = 1e-6
# peak RSS per customer, measured at 10M: retainly alone 1.5 GB; with lifetimes' BG/NBD fit about 4.4 GB more
BYTES_PER_CUSTOMER, BYTES_PER_CUSTOMER_WITH_LIFETIMES = 160, 600
PREDICTION_TOL = {"rtol": 1e-8, "atol": 1e-8}

# ../shared/PERFORMANCE.md, lifetimes 0.11.3 on this kind of machine, seconds.
REFERENCE_10M = {"BG/NBD fit": 138.0, "E[purchases in 52 weeks]": 6.75, "P(alive)": 0.27,
                 "Gamma-Gamma fit": 19.5, "12-month CLV": 151.0}


@contextlib.contextmanager
def quiet():
    """lifetimes warns on modern pandas and calls warnings.simplefilter itself; catch_warnings undoes both."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def simulate(customers: int, seed: int = SEED) -> pd.DataFrame:
    """Per-customer (frequency, recency, T, monetary_value) from BG/NBD + Gamma-Gamma, on a day grid in weeks."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(BGNBD["r"], 1.0 / BGNBD["alpha"], customers)  # purchases per week while alive
    dropout = rng.beta(BGNBD["a"], BGNBD["b"], customers)  # chance of dropping out after each repeat purchase
    days = rng.integers(7, MAX_DAYS + 1, customers)  # observed for T = days / 7 weeks after the first purchase
    horizon = days / 7.0
    clock = np.zeros(customers)  # continuous time of the latest purchase, weeks
    last_day = np.zeros(customers, dtype=np.int64)  # day of the latest counted purchase (first purchase: day 0)
    frequency = np.zeros(customers, dtype=np.int64)
    active = np.arange(customers)
    while active.size:  # one round per purchase index, over the customers still buying
        at = clock[active] + rng.exponential(1.0, active.size) / rate[active]
        inside = at < horizon[active]
        active, at = active[inside], at[inside]
        clock[active] = at
        day = np.floor(at * 7.0).astype(np.int64)
        new_day = day > last_day[active]  # a second purchase on the same day is not a new purchase day
        counted = active[new_day]
        frequency[counted] += 1
        last_day[counted] = day[new_day]
        active = active[rng.random(active.size) >= dropout[active]]
    nu = rng.gamma(GAMMA_GAMMA["q"], 1.0 / GAMMA_GAMMA["v"], customers)  # each customer's spend rate
    repeat = frequency > 0
    spend = np.zeros(customers)
    # the mean of x Gamma(p, nu) purchase values is Gamma(p x, nu) / x
    spend[repeat] = rng.gamma(GAMMA_GAMMA["p"] * frequency[repeat], 1.0 / nu[repeat]) / frequency[repeat]
    return pd.DataFrame({"frequency": frequency.astype(float), "recency": last_day / 7.0, "T": horizon,
                         "monetary_value": spend})


def distinct_histories(data: pd.DataFrame) -> int:
    key = ((data["frequency"].to_numpy(np.int64) * (MAX_DAYS + 1) + np.rint(data["recency"].to_numpy() * 7).astype(np.int64))
           * (MAX_DAYS + 1) + np.rint(data["T"].to_numpy() * 7).astype(np.int64))
    return int(np.unique(key).size)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timer:
    """Collects (section, step) -> seconds for both libraries; best of ``repeat`` runs where asked."""

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.seconds: dict[tuple[str, str], dict[str, float]] = {}
        self.failed: set[tuple[str, str]] = set()  # lifetimes steps that raised

    def run(self, library: str, section: str, step: str, call, repeat: int = 1):
        """``call()``'s result; for lifetimes an exception (e.g. its ConvergenceError) is reported and gives None."""
        best, result = np.inf, None
        for _ in range(repeat):
            began = self.clock()
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # lifetimes prints the optimiser's output on failure
                    result = call()
            except Exception as error:  # lifetimes raises when BFGS reports precision loss at the optimum
                if library == "retainly":
                    raise
                seconds = self.clock() - began
                self.failed.add((section, step))
                self.seconds.setdefault((section, step), {})[library] = seconds
                print(f"    {library:<9} {section:<10} {step:<28}{seconds:9.3f} s  FAILED: "
                      f"{type(error).__name__}: {str(error).strip()}", flush=True)
                return None
            best = min(best, self.clock() - began)
        self.seconds.setdefault((section, step), {})[library] = best
        print(f"    {library:<9} {section:<10} {step:<28}{best:9.3f} s", flush=True)
        return result


class Checks:
    def __init__(self, histories: tuple[np.ndarray, np.ndarray, np.ndarray]):
        self.row = histories  # frequency, recency, T: to show where the largest difference is
        self.lines: list[tuple[str, bool, str]] = []

    def log_likelihood(self, what: str, ours: float, theirs: float) -> None:
        relative = abs(ours - theirs) / abs(ours)
        self.lines.append((f"{what} log-likelihood", relative <= LL_RTOL,
                           f"retainly {ours:.6f}, lifetimes {theirs:.6f}, relative difference {relative:.2e} "
                           f"(tolerance {LL_RTOL:g}; retainly {'higher' if ours > theirs else 'lower or equal'})"))

    def failed(self, what: str, why: str) -> None:
        self.lines.append((what, False, why))

    def values(self, what: str, ours: np.ndarray, theirs) -> None:
        if theirs is None:
            return self.failed(what, "lifetimes raised")
        ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
        finite = np.isfinite(theirs)
        absolute = np.abs(ours - theirs)
        relative = absolute / np.maximum(np.abs(theirs), 1e-300)
        ok = bool(np.all(np.isfinite(ours))) and bool(np.allclose(ours, theirs, **PREDICTION_TOL))
        worst = int(np.nanargmax(np.where(finite, relative, -1.0)))
        self.lines.append((what, ok,
                           f"max abs {np.nanmax(absolute[finite]):.2e}, max rel {relative[finite].max():.2e} "
                           f"(at x={self.row[0][worst]:g}, t_x={self.row[1][worst]:.4g}, T={self.row[2][worst]:.4g}); "
                           f"{(~finite).sum()} non-finite in lifetimes; {(~np.isfinite(ours)).sum()} in retainly"))

    def show(self) -> None:
        print("  agreement:")
        for what, ok, detail in self.lines:
            print(f"    {'PASS' if ok else 'FAIL'}  {what}: {detail}")


def lifetimes_total_ll(fitter, data: pd.DataFrame, rows: int, kind: str) -> float:
    """lifetimes' log-likelihood at its optimum as a total in the data's own time unit."""
    if kind == "gammagamma":
        return -fitter._negative_log_likelihood_ * rows  # mean per buyer; no time unit involved
    total = -fitter._negative_log_likelihood_ * (1 if kind == "paretonbd" else rows)  # Pareto: sum / mean(weights)
    # lifetimes fits in time scaled by 1/max T: each of the x purchase-time densities gains log(scale)
    return total + float(data["frequency"].sum()) * np.log(fitter._scale)


def check_conversion(path: Path) -> None:
    """The log-likelihood conversion on the CDNOW summary (retainly's BG/NBD: -9582.43), before trusting it at scale."""
    from retainly.models import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel

    with quiet():
        import lifetimes
    if not path.exists():
        print(f"CDNOW summary not found at {path}: log-likelihood conversion not checked on it")
        return
    data = pd.read_csv(path)
    print(f"log-likelihood conversion on the CDNOW summary ({len(data):,} customers, weeks):")
    for model, fitter_class, kind in ((BetaGeoModel, lifetimes.BetaGeoFitter, "bgnbd"),
                                      (ModifiedBetaGeoModel, lifetimes.ModifiedBetaGeoFitter, "mbgnbd"),
                                      (ParetoNBDModel, lifetimes.ParetoNBDFitter, "paretonbd")):
        ours = model().fit(data).log_likelihood_
        state = np.random.get_state()
        np.random.seed(0)
        with quiet():
            fitter = fitter_class().fit(data["frequency"], data["recency"], data["T"])
        np.random.set_state(state)
        theirs = lifetimes_total_ll(fitter, data, len(data), kind)
        relative = abs(ours - theirs) / abs(ours)
        print(f"  {'PASS' if relative <= LL_RTOL else 'FAIL'}  {model.title}: retainly {ours:.4f}, "
              f"lifetimes converted {theirs:.4f}, relative difference {relative:.1e}", flush=True)


def lifetimes_with(fitter_class, params: dict):
    fitter = fitter_class()
    fitter.params_ = pd.Series(params, dtype=float)
    fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time  # what fit() binds, for CLV
    return fitter


def measure(customers: int, lifetimes_on: bool, skip_steps: set[str], pareto: bool, repeat: int,
            profile: int, clock: str = "wall") -> None:
    from retainly.models import (BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel, ParetoNBDModel,
                                 customer_lifetime_value)
    from retainly.models.base import Histories

    print(f"customers={customers:,} (load average at start {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f})", flush=True)
    began = time.perf_counter()
    data = simulate(customers)
    simulated = time.perf_counter() - began
    distinct = distinct_histories(data)
    buyers = int((data["frequency"] > 0).sum())
    print(f"  simulated in {simulated:.1f} s: {distinct:,} distinct (frequency, recency, T) histories "
          f"({distinct / customers:.1%}), {buyers:,} repeat buyers, max frequency {data['frequency'].max():g}, "
          f"mean spend {data.loc[data['frequency'] > 0, 'monetary_value'].mean():.2f}", flush=True)
    timer = Timer(time.process_time if clock == "cpu" else time.perf_counter)
    checks = Checks((data["frequency"].to_numpy(), data["recency"].to_numpy(), data["T"].to_numpy()))
    sections = [("BG/NBD", BetaGeoModel), ("MBG/NBD", ModifiedBetaGeoModel)] + ([("Pareto/NBD", ParetoNBDModel)]
                                                                                if pareto else [])
    # -- retainly ---------------------------------------------------------------------------
    ours: dict[str, dict] = {}
    # As `retainly score` does: identical histories merged once, for the fit and every prediction.
    merged = timer.run("retainly", "shared", "merge identical histories", lambda: Histories.from_data(data), repeat)
    gg = timer.run("retainly", "G-G", "Gamma-Gamma fit", lambda: GammaGammaModel().fit(data), repeat)
    for section, model in sections:
        fitted = timer.run("retainly", section, "fit", lambda: model().fit(merged), repeat)
        out = {"model": fitted}
        out["alive"] = timer.run("retainly", section, "P(alive)", lambda: fitted.probability_alive(merged), repeat)
        out["expected"] = timer.run("retainly", section, f"E[purchases in {HORIZON:g} weeks]",
                                    lambda: fitted.expected_purchases(HORIZON, merged), repeat)
        if section != "Pareto/NBD":
            out["clv"] = timer.run("retainly", section, f"{MONTHS}-month CLV",
                                   lambda: customer_lifetime_value(fitted, gg, data, months=MONTHS,
                                                                   discount_rate=DISCOUNT,
                                                                   units_per_month=WEEKS_PER_MONTH,
                                                                   histories=merged), repeat)
        ours[section] = out
        print(f"    retainly {section} {fitted!r}: {fitted.distinct_histories_:,} distinct histories", flush=True)
    print(f"    retainly {gg!r}", flush=True)
    retainly_peak = peak_mb()

    # -- lifetimes ----------------------------------------------------------------------------
    if lifetimes_on:
        with quiet():
            import lifetimes
        fitters = {"BG/NBD": lifetimes.BetaGeoFitter, "MBG/NBD": lifetimes.ModifiedBetaGeoFitter,
                   "Pareto/NBD": lifetimes.ParetoNBDFitter}
        kinds = {"BG/NBD": "bgnbd", "MBG/NBD": "mbgnbd", "Pareto/NBD": "paretonbd"}
        frequency, recency, T, spend = data["frequency"], data["recency"], data["T"], data["monetary_value"]
        repeat_buyers = frequency > 0
        gg_params = dict(gg.params_)
        if "gg-fit" not in skip_steps:
            with quiet():
                ggf = timer.run("lifetimes", "G-G", "Gamma-Gamma fit",
                                lambda: lifetimes.GammaGammaFitter().fit(frequency[repeat_buyers],
                                                                         spend[repeat_buyers]))
            if ggf is None:
                checks.failed("Gamma-Gamma log-likelihood", "lifetimes' fit raised, so it has no optimum")
            else:
                checks.log_likelihood("Gamma-Gamma", gg.log_likelihood_,
                                      lifetimes_total_ll(ggf, data, buyers, "gammagamma"))
                print(f"    lifetimes Gamma-Gamma {dict(ggf.params_.round(6))}", flush=True)
        ggf = lifetimes.GammaGammaFitter()
        ggf.params_ = pd.Series(gg_params, dtype=float)
        for section, _ in sections:
            out = ours[section]
            kind = kinds[section]
            if f"{kind}-fit" not in skip_steps:
                state = np.random.get_state()
                np.random.seed(0)  # lifetimes' Pareto/NBD starts from np.random
                with quiet():
                    fitter = timer.run("lifetimes", section, "fit",
                                       lambda: fitters[section]().fit(frequency, recency, T))
                np.random.set_state(state)
                if fitter is None:
                    checks.failed(f"{section} log-likelihood", "lifetimes' fit raised, so it has no optimum")
                else:
                    checks.log_likelihood(section, out["model"].log_likelihood_,
                                          lifetimes_total_ll(fitter, data, customers, kind))
                    print(f"    lifetimes {section} {dict(fitter.params_.round(6))}", flush=True)
            fitter = lifetimes_with(fitters[section], out["model"].params_)  # retainly's parameters
            if f"{kind}-alive" not in skip_steps:
                with quiet():
                    alive = timer.run("lifetimes", section, "P(alive)",
                                      lambda: fitter.conditional_probability_alive(frequency, recency, T))
                checks.values(f"{section} P(alive)", out["alive"], alive)
            if f"{kind}-expected" not in skip_steps:
                with quiet():
                    expected = timer.run(
                        "lifetimes", section, f"E[purchases in {HORIZON:g} weeks]",
                        lambda: fitter.conditional_expected_number_of_purchases_up_to_time(HORIZON, frequency,
                                                                                          recency, T))
                checks.values(f"{section} E[purchases in {HORIZON:g} weeks]", out["expected"], expected)
            if "clv" in out and f"{kind}-clv" not in skip_steps:
                with quiet():
                    clv = timer.run("lifetimes", section, f"{MONTHS}-month CLV",
                                    lambda: ggf.customer_lifetime_value(fitter, frequency, recency, T, spend,
                                                                        time=MONTHS, discount_rate=DISCOUNT,
                                                                        freq="W"))
                checks.values(f"{section} + Gamma-Gamma {MONTHS}-month CLV", out["clv"], clv)
            del fitter
    overall_peak = peak_mb()

    # -- table --------------------------------------------------------------------------------
    print(f"\n  customers={customers:,}: seconds of {'CPU time' if clock == 'cpu' else 'wall clock'} "
          f"(load average now {os.getloadavg()[0]:.2f} "
          f"{os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f})")
    print(f"    {'step':<42}{'retainly':>10}{'lifetimes':>11}{'ratio':>9}")
    rows = [("merge identical histories (once)", timer.seconds[("shared", "merge identical histories")])]
    for section, _ in sections:
        for step in ("fit", "P(alive)", f"E[purchases in {HORIZON:g} weeks]", f"{MONTHS}-month CLV"):
            if (section, step) in timer.seconds:
                rows.append((f"{section} {step}", timer.seconds[(section, step)]))
        if section == "BG/NBD":
            rows.append(("Gamma-Gamma fit", timer.seconds[("G-G", "Gamma-Gamma fit")]))
    total = {}
    for library in ("retainly", "lifetimes"):
        merging = [("shared", "merge identical histories")] if library == "retainly" else []
        parts = [timer.seconds.get(key, {}).get(library) for key in merging +
                 [("BG/NBD", "fit"), ("BG/NBD", "P(alive)"), ("BG/NBD", f"E[purchases in {HORIZON:g} weeks]"),
                  ("G-G", "Gamma-Gamma fit"), ("BG/NBD", f"{MONTHS}-month CLV")]]
        total[library] = sum(parts) if all(p is not None for p in parts) else None
    rows.append(("BG/NBD + G-G: fit plus all scoring", total))
    for name, seconds in rows:
        ours_s, theirs_s = seconds.get("retainly"), seconds.get("lifetimes")
        if any(name == (f"{sec} {st}" if sec != "G-G" else st) for sec, st in timer.failed):
            name += " (lifetimes raised)"
        shown = [f"{ours_s:10.3f}" if ours_s is not None else f"{'—':>10}",
                 f"{theirs_s:11.2f}" if theirs_s is not None else f"{'—':>11}",
                 _ratio(theirs_s / ours_s) if ours_s and theirs_s else f"{'—':>9}"]
        print(f"    {name:<42}{''.join(shown)}")
    print(f"    peak RSS: retainly steps {retainly_peak:,.0f} MB; whole process (with lifetimes) {overall_peak:,.0f} MB")
    if customers == 10_000_000:
        print("    against ../shared/PERFORMANCE.md (lifetimes, 10M): "
              + ", ".join(f"{step} {seconds:g} s" for step, seconds in REFERENCE_10M.items()))
    aim = total["retainly"]
    if customers >= 10_000_000:
        print(f"    aim (under 5 s at 10M for BG/NBD + G-G fit plus all scoring): {aim:.2f} s, "
              f"{'met' if aim < 5 else 'MISSED'}")
    if lifetimes_on:
        checks.show()
    if profile:
        profile_pipeline(data, profile)
    print(flush=True)


def _ratio(value: float) -> str:
    return f"{value:8.0f}x" if value >= 10 else f"{value:8.1f}x" if value >= 1 else f"{value:8.2f}x"


def profile_pipeline(data: pd.DataFrame, top: int) -> None:
    """cProfile of retainly's BG/NBD + Gamma-Gamma pipeline: fit, P(alive), 52 weeks, G-G fit, CLV."""
    import cProfile
    import pstats

    from retainly.models import BetaGeoModel, GammaGammaModel, customer_lifetime_value
    from retainly.models.base import Histories

    def pipeline():
        merged = Histories.from_data(data)
        bg = BetaGeoModel().fit(merged)
        bg.probability_alive(merged)
        bg.expected_purchases(HORIZON, merged)
        gg = GammaGammaModel().fit(data)
        customer_lifetime_value(bg, gg, data, months=MONTHS, discount_rate=DISCOUNT, units_per_month=WEEKS_PER_MONTH,
                                histories=merged)

    profiler = cProfile.Profile()
    profiler.runcall(pipeline)
    print(f"\n  cProfile of the retainly BG/NBD + G-G pipeline, top {top} by own time:")
    pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats("tottime").print_stats(top)
    pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats("cumulative").print_stats(top)


def available_memory() -> int:
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return sys.maxsize


def wait_for_memory(needed: int, wait: bool) -> None:
    """On a shared machine, do not start a size that would push another job into the OOM killer."""
    while (free := available_memory()) < needed:
        message = f"only {free / 2**30:.1f} GiB available, this size needs about {needed / 2**30:.1f} GiB"
        if not wait:
            sys.exit(message + "; pass --wait-for-memory to wait for it")
        print(message + "; waiting", flush=True)
        time.sleep(60)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=list(DEFAULT_SIZES), help="customers per run")
    parser.add_argument("--pareto-sizes", nargs="*", type=int, default=list(DEFAULT_SIZES),
                        help="sizes that also run Pareto/NBD (default 1000000 10000000; lifetimes' fit takes "
                             "about 5 minutes at 1M: skip it at 10M with --skip-lifetimes-at or a second run "
                             "with --skip-lifetimes-steps paretonbd-fit)")
    parser.add_argument("--skip-lifetimes-at", nargs="*", type=int, default=[], metavar="SIZE",
                        help="sizes at which lifetimes is not run at all")
    parser.add_argument("--skip-lifetimes-steps", nargs="*", default=[], metavar="STEP",
                        help="lifetimes steps to skip everywhere, e.g. bgnbd-fit mbgnbd-clv paretonbd-fit gg-fit "
                             "(MODEL-{fit,alive,expected,clv} with MODEL bgnbd, mbgnbd, paretonbd)")
    parser.add_argument("--no-lifetimes", action="store_true", help="retainly only")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="time steps by the wall clock (default) or by the process's CPU time (busy machines)")
    parser.add_argument("--repeat", type=int, default=3, help="retainly steps: best of this many runs (default 3)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also cProfile retainly's BG/NBD + G-G pipeline and print the top N functions")
    parser.add_argument("--blas-threads", type=int, metavar="N",
                        help="set OPENBLAS_NUM_THREADS=N (and OMP_NUM_THREADS) in the child processes; default: "
                             "leave the environment as it is")
    parser.add_argument("--wait-for-memory", action="store_true",
                        help="before each size, wait until the machine has the memory it needs (shared machines)")
    parser.add_argument("--cdnow", type=Path, default=CDNOW,
                        help="CDNOW summary for checking the log-likelihood conversion (default ../shared/datasets/...)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.one:
        measure(args.one, not args.no_lifetimes and args.one not in args.skip_lifetimes_at,
                set(args.skip_lifetimes_steps), args.one in args.pareto_sizes, args.repeat, args.profile, args.clock)
        return
    with quiet():
        import lifetimes
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, SciPy {scipy.__version__}, pandas {pd.__version__}, "
          f"lifetimes {lifetimes.__version__}", flush=True)
    import retainly

    source = Path(retainly.__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(source), "log", "-1", "--format=%h %ci"], capture_output=True,
                                text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--", "models"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        commit += " (uncommitted changes in models/)" if changed else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "not a git checkout"
    print(f"retainly from {source}: {commit}", flush=True)
    environment = dict(os.environ)
    if args.blas_threads:
        environment.update(OPENBLAS_NUM_THREADS=str(args.blas_threads), OMP_NUM_THREADS=str(args.blas_threads))
    print(f"OPENBLAS_NUM_THREADS={environment.get('OPENBLAS_NUM_THREADS', '(unset)')}, load average "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()), flush=True)
    if not args.no_lifetimes:
        check_conversion(args.cdnow)
    passthrough = list(argv if argv is not None else sys.argv[1:])
    for size in args.sizes:
        lifetimes_on = not args.no_lifetimes and size not in args.skip_lifetimes_at
        wait_for_memory(size * (BYTES_PER_CUSTOMER_WITH_LIFETIMES if lifetimes_on else BYTES_PER_CUSTOMER),
                        args.wait_for_memory)
        subprocess.run([sys.executable, __file__, *passthrough, "--one", str(size)], check=True, env=environment)


if __name__ == "__main__":
    main()
