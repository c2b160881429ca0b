"""Accuracy on real shops with a seasonal time warp (research harness for issue 12).

    PYTHONPATH=src python benchmarks/accuracy_seasonal.py --keep /tmp/sw        # all three splits
    PYTHONPATH=src python benchmarks/accuracy_seasonal.py --keep /tmp/sw --splits cdnow --index glm --weight 1

Hypothesis: a shop's buying has seasons; a stationary model fitted right after a peak projects
the peak's rate over the next year. Remedy: a seasonal intensity s(t) by month of year, learnt
on the calibration history only, and operational time τ(t) = ∫ s (one year of τ = one year).
Recency, T and the horizon are measured in τ (the future with the same month-of-year index) and
BG/NBD, MBG/NBD, Pareto/NBD are fitted and predicted unchanged in τ.

How s is estimated (separating season from the growth of the customer base and from dropout):
fit the model in τ, compute what it expects of repeat purchases in each calendar month given
who had been acquired when (Σ over customers of E[X(τ(end) − τ(first))] − E[X(τ(start) − τ(first))],
the model's own curve for a new customer, so growth and dropout are the model's), and multiply s
by observed / expected per month of year; three rounds. The index is shrunk toward 1 on the log
scale by the amount of history: weight min(1, years / 2) (one year 0.5, two years 1), fixed in
advance, not tuned. ``--index glm`` learns s instead by a Poisson GLM (month-of-year and weekday
effects, a quadratic trend, exposure = customers acquired before the day). A variant chooses warped vs plain by the chooser's own backtest (the last
min(horizon, history / 3) before the scoring date, the index re-learnt before that cut).

Purchase days come from ``retainly.features.model_summary.purchase_days`` on a DuckDB store
imported as benchmarks/accuracy.py does; the plain summary is checked against ``model_summary``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from accuracy import SPLITS, open_store
from retainly.errors import ConvergenceError
from retainly.features.model_summary import model_summary, purchase_days
from retainly.models import PURCHASE_MODELS

MODELS = ("bgnbd", "mbgnbd", "paretonbd")
PENALIZERS = (0.0, 0.001, 0.01)  # the first that fits; the tables say which
ROUNDS = 3
METHOD = "model"  # how the index is learnt: "model" (observed / the model's expectation) or "glm"
UNIT = 7.0  # weeks


def load_days(folder: Path, name: str) -> pd.DataFrame:
    cache = folder / f"{name}_purchase_days.parquet"
    if not cache.exists():
        with open_store(folder, name) as ws:
            days = purchase_days(ws.store, date(2100, 1, 1)).to_pandas()
        days.to_parquet(cache)
    days = pd.read_parquet(cache)[["customer_id", "day"]]
    days["day"] = pd.to_datetime(days["day"])
    return days


# -- operational time ----------------------------------------------------------------------

def clock(index: np.ndarray, start: pd.Timestamp, end: pd.Timestamp):
    """τ(d) in days at the end of each day d in [start, end], from a month-of-year index (12 values)."""
    days = pd.date_range(start, end, freq="D")
    s = index[days.month.to_numpy() - 1]
    return pd.Series(np.cumsum(s), index=days)


def normalise(index: np.ndarray) -> np.ndarray:
    """Scale so a (non-leap) year of τ is 365 days."""
    lengths = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    return index * 365.0 / (lengths @ index)


def summary(days: pd.DataFrame, cal: pd.Timestamp, tau: pd.Series | None) -> pd.DataFrame:
    """frequency, recency, T (weeks of τ, or of calendar time without ``tau``) per customer by ``cal``."""
    h = days[days.day <= cal]
    g = h.groupby("customer_id").day
    first, last, n = g.min(), g.max(), g.size()
    if tau is None:
        at = lambda d: (d - pd.Timestamp("1970-01-01")).dt.days.astype(float)  # noqa: E731
        cal_at = float((cal - pd.Timestamp("1970-01-01")).days)
    else:
        at = lambda d: pd.Series(tau.reindex(d.to_numpy()).to_numpy(), index=d.index)  # noqa: E731
        cal_at = float(tau[cal])
    return pd.DataFrame({"frequency": n - 1, "recency": (at(last) - at(first)) / UNIT,
                         "T": (cal_at - at(first)) / UNIT, "first": first})


def fit(name: str, frame: pd.DataFrame, penalizers=PENALIZERS):
    errors = []
    for pen in penalizers:
        try:
            return PURCHASE_MODELS[name](penalizer=pen).fit(frame[["frequency", "recency", "T"]]), pen
        except ConvergenceError as error:
            errors.append(str(error)[:80])
    raise ConvergenceError("; ".join(errors))


def expected_new(model, t: np.ndarray) -> np.ndarray:
    """E[X(t)] for a brand-new customer, vectorised over t (0 for t <= 0)."""
    out = np.zeros_like(t, dtype=float)
    positive = t > 0
    if positive.any():
        values, where = np.unique(t[positive], return_inverse=True)
        out[positive] = np.array([model.expected_purchases(float(v)) for v in values])[where]
    return np.nan_to_num(out)


def glm_index(days: pd.DataFrame, cal: pd.Timestamp) -> np.ndarray:
    """Month-of-year index by a Poisson GLM on daily repeat purchase days, exposure = customers
    acquired before the day, with month-of-year and day-of-week effects and a quadratic trend in
    time (the trend takes the base's ageing and dropout); the history through ``cal`` only."""
    from sklearn.linear_model import PoissonRegressor

    h = days[days.day <= cal]
    first = h.groupby("customer_id").day.min()
    repeat = h[h.day > h.customer_id.map(first)]
    span = pd.date_range(h.day.min(), cal, freq="D")
    counts = repeat.groupby("day").size().reindex(span).fillna(0).to_numpy()
    exposure = first.value_counts().reindex(span).fillna(0).cumsum().shift(1).fillna(0).to_numpy()
    keep = exposure > 0
    t = np.arange(len(span)) / 365.25
    months = np.eye(12)[span.month - 1]
    weekdays = np.eye(7)[span.day_of_week][:, 1:]
    X = np.column_stack([months, weekdays, t, t ** 2])[keep]
    glm = PoissonRegressor(alpha=1e-4, fit_intercept=False, max_iter=1000)
    glm.fit(X, counts[keep] / exposure[keep], sample_weight=exposure[keep])  # rate with exposure weights = offset
    seen = np.isin(np.arange(12), span[keep].month - 1)
    return normalise(np.where(seen, np.exp(glm.coef_[:12] - glm.coef_[:12][seen].mean()), 1.0))


def learn_index(days: pd.DataFrame, cal: pd.Timestamp, name: str, weight: float, penalizers=PENALIZERS):
    """Month-of-year index (12 values, normalised) from the history through ``cal`` only."""
    start = days.day.min()
    years = (cal - start).days / 365.25
    w = min(1.0, years / 2) if weight is None else weight
    if METHOD == "glm":
        return normalise(np.exp(w * np.log(glm_index(days, cal)))), w
    index = np.ones(12)
    h = days[days.day <= cal]
    first = h.groupby("customer_id").day.min()
    repeat = h[h.day > h.customer_id.map(first)]
    months = pd.period_range(start, cal, freq="M")
    observed = repeat.groupby(repeat.day.dt.to_period("M")).size().reindex(months).fillna(0).to_numpy()
    cohorts = first.value_counts()  # customers per first purchase day
    for _ in range(ROUNDS):
        tau = clock(index, start, cal)
        model, _ = fit(name, summary(days, cal, tau), penalizers)
        t_first = tau.reindex(cohorts.index).to_numpy()
        expected = np.zeros(len(months))
        for k, m in enumerate(months):
            lo = max(m.start_time.normalize(), start) - pd.Timedelta(days=1)
            hi = min(m.end_time.normalize(), cal)
            tau_lo = tau[lo] if lo >= start else 0.0
            e = expected_new(model, (tau[hi] - t_first) / UNIT) - expected_new(model, (tau_lo - t_first) / UNIT)
            expected[k] = cohorts.to_numpy() @ e
        moy = months.month.to_numpy() - 1
        ratio = np.ones(12)
        for m in range(12):
            o, e = observed[moy == m].sum(), expected[moy == m].sum()
            if e > 0 and o > 0:
                ratio[m] = o / e
        index = normalise(index * ratio)
    return normalise(np.exp(w * np.log(index))), w


# -- scoring -------------------------------------------------------------------------------

def actual_counts(days: pd.DataFrame, cal: pd.Timestamp, end: pd.Timestamp, customers) -> np.ndarray:
    later = days[(days.day > cal) & (days.day <= end)]
    return later.groupby("customer_id").size().reindex(customers).fillna(0).to_numpy(float)


def predict(days, cal, horizon_days, name, index):
    """Expected purchase days in (cal, cal + horizon] per customer, warped by ``index`` (None = plain)."""
    end = cal + pd.Timedelta(days=horizon_days)
    tau = None if index is None else clock(index, days.day.min(), end)
    frame = summary(days, cal, tau)
    model, pen = fit(name, frame)
    horizon = horizon_days / UNIT if tau is None else (tau[end] - tau[cal]) / UNIT
    return frame.index, np.asarray(model.expected_purchases(horizon, frame[["frequency", "recency", "T"]])), pen


def metrics(p, a) -> dict:
    return {"error": p.sum() / a.sum() - 1, "mae": float(np.mean(np.abs(p - a))),
            "rmse": float(np.sqrt(np.mean((p - a) ** 2))), "predicted": p.sum(), "actual": a.sum()}


def evaluate(days, cal, horizon_days, name, warped: bool, weight=None, index_penalizers=PENALIZERS):
    index, w = (learn_index(days, cal, name, weight, index_penalizers) if warped else (None, 0.0))
    customers, p, pen = predict(days, cal, horizon_days, name, index)
    a = actual_counts(days, cal, cal + pd.Timedelta(days=horizon_days), customers)
    return {"model": name, "warp": warped, "w": w, "penalizer": pen, "index": index, **metrics(p, a)}


def run_split(days, label, cal_date, weeks, args):
    cal = pd.Timestamp(cal_date)
    horizon = 7 * weeks
    history = (cal - days.day.min()).days
    bt_days = min(horizon, history // 3)
    bt_cut = cal - pd.Timedelta(days=bt_days)
    print(f"\n## {label}: history {history} days; chooser's backtest cut {bt_cut.date()} ({bt_days} days)")
    print(f"{'model':<10} {'warp':<5} {'w':>4} {'pen':>6} {'predicted':>9} {'actual':>7} {'error':>7} "
          f"{'MAE':>6} {'RMSE':>6} | backtest: {'error':>7} {'RMSE':>6}")
    rows = []
    for name in args.models:
        for warped in (False, True):
            started = time.perf_counter()
            try:
                r = evaluate(days, cal, horizon, name, warped, args.weight)
            except ConvergenceError as error:
                print(f"{name:<10} {str(warped):<5} not fitted: {str(error)[:100]}")
                continue
            try:  # the chooser's view: the same recipe as of the backtest cut, scored on its holdout
                b = evaluate(days[days.day <= cal], bt_cut, bt_days, name, warped, args.weight)
            except ConvergenceError as error:
                b = {"error": np.nan, "rmse": np.nan, "penalizer": np.nan, "why": str(error)[:60]}
            r["bt"] = b
            rows.append(r)
            print(f"{name:<10} {str(warped):<5} {r['w']:>4.2f} {r['penalizer']:>6g} {r['predicted']:>9,.0f} "
                  f"{r['actual']:>7,.0f} {r['error']:>+7.1%} {r['mae']:>6.3f} {r['rmse']:>6.3f} | "
                  f"{b['error']:>+15.1%} {b['rmse']:>6.3f} pen {b['penalizer']:g} ({time.perf_counter() - started:.0f} s)")
            if warped:
                print("    index J..D: " + " ".join(f"{v:.2f}" for v in r["index"]))
    base = next(r for r in rows if r["model"] == "bgnbd" and not r["warp"])
    ok = [r for r in rows if np.isfinite(r["bt"]["rmse"])]
    for rule, key in (("backtest RMSE", lambda r: r["bt"]["rmse"]), ("backtest |error|", lambda r: abs(r["bt"]["error"]))):
        if ok:
            c = min(ok, key=key)
            print(f"choice by {rule}: {c['model']} warp={c['warp']}: error {c['error']:+.1%}, MAE {c['mae']:.3f} "
                  f"(MAE {c['mae'] / base['mae'] - 1:+.1%} vs BG/NBD), RMSE {c['rmse']:.3f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", nargs="*", default=None)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--weight", type=float, default=None, help="shrink weight (default min(1, years / 2))")
    parser.add_argument("--keep", type=Path, help="a folder for the stores, reused across runs")
    parser.add_argument("--check", action="store_true", help="check the plain summary against model_summary")
    parser.add_argument("--index", choices=("model", "glm"), default="model", help="how the index is learnt")
    args = parser.parse_args()
    global METHOD
    METHOD = args.index
    chosen = [s for s in SPLITS if not args.splits or s[0] in args.splits or s[1] in args.splits]
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for name in dict.fromkeys(s[1] for s in chosen):
            days = load_days(folder, name)
            for label, _, cal, weeks in (s for s in chosen if s[1] == name):
                if args.check:
                    with open_store(folder, name) as ws:
                        ref = model_summary(ws.store, cal, "week").set_index("customer_id")
                    mine = summary(days, pd.Timestamp(cal), None)
                    diff = np.abs(ref[["frequency", "recency", "T"]].to_numpy() - mine[["frequency", "recency", "T"]]
                                  .reindex(ref.index).to_numpy()).max()
                    print(f"{label}: {len(ref)} customers, max |difference| from model_summary {diff:.2e}")
                run_split(days, label, cal, weeks, args)


if __name__ == "__main__":
    main()
