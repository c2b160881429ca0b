"""MBG/NBD with a learned correction: a candidate of ``retainly score``'s automatic choice.

MBG/NBD sets the level; a gradient-boosted Poisson regressor (scikit-learn's
``HistGradientBoostingRegressor``) learns, on the shop's own history, which customers buy more
or less than MBG/NBD expects. Trained at cut-offs ``c = as_of - w - 28 k`` (k < 4, each with at
least 8 weeks of history before it), with ``w = min(horizon, history / 3)`` (the chooser's
holdout length): features per customer who had bought by ``c`` (``FEATURES``: x, t_x, T, days
since the last purchase, purchase days in the last 30/90/180/365 days, mean repeat and first
spend, MBG/NBD's expected purchases in ``w`` and P(alive), MBG/NBD fitted at ``c``, with a
light penalizer only where it cannot be fitted without), target the purchase days in
``(c, c + w]``; every target ends by ``as_of``, so nothing after it is read.

The loss is Poisson with MBG/NBD's expectation ``b`` as offset (target ``y / b``, weight ``b``),
so the learner fits the ratio actual / MBG/NBD. Scores are MBG/NBD's ``E[Y(t)]`` times that
ratio at every ``t`` (spread along MBG/NBD's curve month by month, so CLV's discounting works
as for MBG/NBD), the ratios scaled to average 1 over the shop (weighted by MBG/NBD's
expectation): the learner re-ranks customers, MBG/NBD keeps the total. Why: the level of the
last window carries that window's season (on Online Retail II a learner's own level moved
the totals by -35 % to +100 %), while who out-buys MBG/NBD (recent activity, spend) carries
over. P(alive), P(order) and the next-order date are MBG/NBD's. The ratio is kept per distinct
history (x, t_x, T in days), the unit the models predict on.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from retainly.errors import ConvergenceError
from retainly.features.model_summary import purchase_days
from retainly.models import ModifiedBetaGeoModel
from retainly.scores import backtest
from retainly.scores.backtest import BacktestData
from retainly.settings import TIME_UNITS
from retainly.store.backends import Store

LEARNED = "learned"
CUTOFFS, CUTOFF_STEP_DAYS, MIN_HISTORY_DAYS = 4, 28, 56
TRAINING_PENALIZER = 0.001  # for MBG/NBD at a training cut-off, only when it cannot be fitted without
WINDOWS = (30, 90, 180, 365)  # recent purchase-day counts, days
FEATURES = ("x", "tx_days", "T_days", "since_days", *(f"last_{d}" for d in WINDOWS), "monetary", "first_spend",
            "base_expected", "base_alive")
BOOSTING = {"loss": "poisson", "max_iter": 100, "learning_rate": 0.05, "min_samples_leaf": 100,
            "early_stopping": False, "random_state": 0}  # deterministic; large leaves keep a small shop near 1


class LearnedModel(ModifiedBetaGeoModel):
    """MBG/NBD whose expected purchases are multiplied by a learned per-history ratio (1 when unknown)."""

    name = LEARNED
    title = "MBG/NBD with a learned correction"
    saved_extras = ("training",)

    def __init__(self, penalizer: float = 0.0, unit_days: float = 7.0):
        super().__init__(penalizer)
        self.unit_days = unit_days
        self.ratio_: pd.Series | None = None  # indexed by (x, t_x days, T days)
        self.training_: dict | None = None

    def _ratio(self, x, tx, T) -> np.ndarray:
        if self.ratio_ is None:
            return np.ones(np.broadcast(x, tx, T).shape)
        x, tx, T = np.broadcast_arrays(x, tx, T)
        keys = pd.MultiIndex.from_arrays([np.asarray(x, float), *_days(tx, T, self.unit_days)])
        found = self.ratio_.index.get_indexer(keys)
        return np.where(found >= 0, self.ratio_.to_numpy()[found], 1.0)

    def _expected(self, p, t, x, tx, T):
        return super()._expected(p, t, x, tx, T) * self._ratio(x, tx, T)

    def _expected_new(self, p, t):  # a brand-new customer has no history to correct
        zero = np.zeros(1)
        return ModifiedBetaGeoModel._expected(self, p, t, zero, zero, zero)[0]


def fit_model(name: str, summary: pd.DataFrame, unit_days: float, penalizer: float = 0.0):
    """``backtest.fit_model``; for the learned model its MBG/NBD, whose probabilities (P(alive),
    P(order)) it shows unchanged, so calibrating those needs only MBG/NBD on the summary."""
    return backtest.fit_model(ModifiedBetaGeoModel.name if name == LEARNED else name, summary, unit_days, penalizer)


def fit_learned(store: Store, as_of: date, horizon_days: int, unit: str, penalizer: float = 0.0) -> LearnedModel:
    """The learned model for scores as of ``as_of``, trained on the history before it only."""
    days = purchase_days(store, as_of).to_pandas()
    days["day"] = pd.to_datetime(days["day"])
    days["spend"] = days["spend"].astype(float)
    return train(days, as_of, horizon_days, unit, penalizer)


def train(days: pd.DataFrame, as_of: date, horizon_days: int, unit: str, penalizer: float = 0.0) -> LearnedModel:
    """Fit on purchase days (customer_id, day, spend) through ``as_of``: module docstring."""
    days = days[days["day"] <= pd.Timestamp(as_of)]
    if days.empty:
        raise ConvergenceError(f"no purchase by {as_of} to learn from")
    unit_days = TIME_UNITS[unit]
    first = days["day"].min().date()
    window = min(horizon_days, (as_of - first).days // 3)
    rows, targets, offsets, failures = [], [], [], []
    for k in range(CUTOFFS):
        cut = as_of - timedelta(days=window + k * CUTOFF_STEP_DAYS)
        if window < 1 or (cut - first).days < MIN_HISTORY_DAYS:
            break
        try:  # at a training cut-off MBG/NBD is only a feature and the offset: a light penalizer may pin it down
            features = _features(days, cut, window, unit_days, penalizer, TRAINING_PENALIZER)[0]
        except ConvergenceError as error:
            failures.append(f"{cut}: {error}")
            continue
        later = days[(days["day"] > pd.Timestamp(cut)) & (days["day"] <= pd.Timestamp(cut + timedelta(days=window)))]
        rows.append(features)
        targets.append(later.groupby("customer_id").size().reindex(features.index, fill_value=0).to_numpy(float))
        offsets.append(np.maximum(features["base_expected"].to_numpy(), 1e-6))
    if not rows:
        raise ConvergenceError(f"no cut-off before {as_of} with {MIN_HISTORY_DAYS} days of history and a fitted "
                               f"MBG/NBD to learn from" + (f" ({failures[0]})" if failures else ""))
    y, b = np.concatenate(targets), np.concatenate(offsets)
    now, base = _features(days, as_of, window, unit_days, penalizer)
    # One OpenMP thread, as for BLAS in models.base: on a busy machine spinning threads made it 3x slower.
    with threadpool_limits(1, user_api="openmp"):
        learner = HistGradientBoostingRegressor(**BOOSTING).fit(pd.concat(rows)[list(FEATURES)].to_numpy(), y / b,
                                                               sample_weight=b)
        ratio = learner.predict(now[list(FEATURES)].to_numpy())
    weight = now["base_expected"].to_numpy()
    ratio = ratio / (np.sum(ratio * weight) / np.sum(weight)) if np.sum(weight) > 0 else np.ones_like(ratio)
    model = LearnedModel(penalizer, unit_days)
    model.params_, model.log_likelihood_ = base.params_, base.log_likelihood_
    model.standard_errors_, model.customers_ = base.standard_errors_, base.customers_
    keys = [now["x"].to_numpy(float), now["tx_days"].to_numpy(float), now["T_days"].to_numpy(float)]
    model.ratio_ = pd.Series(ratio).groupby(keys).mean()
    model.training_ = {"window_days": window, "cutoffs": len(rows), "rows": int(len(y)),
                       "ratio_range": [round(float(ratio.min()), 4), round(float(ratio.max()), 4)]}
    return model


def _features(days: pd.DataFrame, cut: date, window: int, unit_days: float, penalizer: float,
              fallback: float | None = None):
    """(features per customer who bought by ``cut``, the MBG/NBD fitted on them, with ``fallback``
    as its penalizer when it cannot be fitted with ``penalizer``)."""
    seen = days[days["day"] <= pd.Timestamp(cut)]
    per = seen.sort_values("day").groupby("customer_id")
    first, last = per["day"].first(), per["day"].last()
    count, total, first_spend = per.size(), per["spend"].sum(), per["spend"].first()
    end = pd.Timestamp(cut)
    frame = pd.DataFrame({"x": (count - 1).astype(float), "tx_days": (last - first).dt.days.astype(float),
                          "T_days": (end - first).dt.days.astype(float)})
    frame["since_days"] = frame["T_days"] - frame["tx_days"]
    for d in WINDOWS:
        recent = seen[seen["day"] > end - pd.Timedelta(days=d)]
        frame[f"last_{d}"] = recent.groupby("customer_id").size().reindex(frame.index, fill_value=0).astype(float)
    frame["monetary"] = ((total - first_spend) / frame["x"].where(frame["x"] > 0)).fillna(0.0)
    frame["first_spend"] = first_spend
    summary = pd.DataFrame({"frequency": frame["x"], "recency": frame["tx_days"] / unit_days,
                            "T": frame["T_days"] / unit_days})
    try:
        base = ModifiedBetaGeoModel(penalizer).fit(summary)
    except ConvergenceError:
        if fallback is None or fallback <= penalizer:
            raise
        base = ModifiedBetaGeoModel(fallback).fit(summary)
    predicted = base.predict(summary, window / unit_days)
    frame["base_expected"] = predicted["expected_purchases"].to_numpy()
    frame["base_alive"] = predicted["probability_alive"].to_numpy()
    return frame, base


def _days(tx, T, unit_days: float) -> list[np.ndarray]:
    """t_x and T in whole days, the key the ratios are kept under (the summary's unit is exact days / unit)."""
    return [np.rint(np.asarray(v, float) * unit_days) for v in (tx, T)]


def evaluate_learned(store: Store, data: BacktestData, penalizer: float = 0.0) -> dict:
    """The learned model's backtest result, with ``backtest.evaluate``'s keys: trained on the history
    before ``data.calibration_end`` only, scored on its holdout."""
    try:
        model = fit_learned(store, data.calibration_end, data.holdout_days, data.unit, penalizer)
    except ConvergenceError as error:
        return {"model": LEARNED, "error": str(error)}
    horizon = data.holdout_days / data.unit_days
    actual = data.actual()
    bought = (actual["purchases"] > 0).to_numpy()
    predicted = model.predict(data.calibration, horizon)
    if not np.isfinite(predicted.to_numpy(dtype=float)).all():
        return {"model": LEARNED, "error": "the learned model gave predictions that are not finite numbers"}
    expected = predicted["expected_purchases"].to_numpy()
    chance = predicted["probability_of_purchase"].to_numpy()
    spend_model, _ = backtest.fit_spend(data.calibration, data.unit_days)
    return {
        "model": LEARNED,
        "params": {k: round(v, 6) for k, v in model.params_.items()},
        "training": model.training_,
        "log_likelihood": model.log_likelihood_,
        **backtest._count_errors(expected, actual["purchases"].to_numpy()),
        "brier": float(np.mean((chance - bought) ** 2)),
        "roc_auc": backtest._auc(bought, chance),
        "p_alive_auc": backtest._auc(bought, predicted["probability_alive"].to_numpy()),
        **backtest._spend_errors(expected, spend_model.expected_spend(data.calibration), actual, bought),
        "tracking": backtest._tracking(model, data, backtest._actual_tracking(data)),
    }
