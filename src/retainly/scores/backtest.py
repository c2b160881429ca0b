"""Backtests: fit on the history before a cut-off, predict the holdout after it, compare.

For each model, over the customers who had bought by the cut-off:

* ``predicted_purchases`` / ``actual_purchases``: holdout purchase days, summed; ``aggregate_error``
  = predicted / actual - 1 (+0.53 is a 53 % over-prediction);
* ``mae``, ``rmse``: per-customer error of expected vs actual holdout purchase days;
* ``brier``: mean squared error of P(a purchase in the holdout) against who bought (0 is
  perfect, 0.25 a coin); ``roc_auc``: how well that probability ranks buyers above
  non-buyers (0.5 is chance); ``p_alive_auc``: the same ranking by P(alive) at the cut-off;
* ``predicted_revenue`` / ``actual_revenue`` and ``revenue_error``: expected purchases times
  expected net spend per purchase, against net holdout spend (bought in the holdout less
  everything returned in it, credit notes included); ``spend_mae``: per-purchase net spend
  error over the customers who bought in the holdout;
* ``tracking``: cumulative predicted and actual purchase days week by week;
* ``reliability``: P(a purchase in the holdout) against the share who bought, per tenth of the
  customers ranked by it; given a ``calibrator`` (scores.calibration, learnt on the history
  before the calibration end only), ``calibrated_brier``, ``calibrated_roc_auc`` and
  ``calibrated_reliability`` score that probability as ``retainly score`` shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from retainly.errors import ConvergenceError
from retainly.features.model_summary import ModelInputs
from retainly.models import PURCHASE_MODELS
from retainly.models.heuristic import HeuristicModel
from retainly.scores.calibration import brier, reliability
from retainly.settings import TIME_UNITS


@dataclass
class BacktestData:
    """What a backtest reads (``scores.holdout``): the models' inputs at the calibration end, the
    holdout outcomes per distinct (history, holdout purchases) with weights, the per-purchase spend
    error, the holdout's purchases per day, and the dates."""

    inputs: ModelInputs
    outcomes: pd.DataFrame  # history, purchases, weight, expected_spend, spend
    spend_mae: float | None
    by_day: pd.DataFrame
    calibration_end: date
    holdout_end: date
    unit: str

    @property
    def unit_days(self) -> float:
        return TIME_UNITS[self.unit]

    @property
    def holdout_days(self) -> int:
        return (self.holdout_end - self.calibration_end).days


def fit_model(name: str, summary, unit_days: float, penalizer: float = 0.0):
    """A fitted purchase model by name ('heuristic' included), on a per-customer summary or on the
    engine's distinct ``ModelInputs``."""
    if name == HeuristicModel.name:
        return HeuristicModel(unit_days).fit(summary, spend=summary.spend if isinstance(summary, ModelInputs) else None)
    return PURCHASE_MODELS[name](penalizer=penalizer).fit(summary)


def short_title(name: str) -> str:
    """A purchase model's short title ("MBG/NBD"), or the heuristics'."""
    return PURCHASE_MODELS[name].title if name in PURCHASE_MODELS else HeuristicModel.title


def evaluate(data: BacktestData, models: list[str], penalizer: float = 0.0, calibrator=None,
             progress=None) -> list[dict]:
    """One result dict per model: the metrics of the module docstring, or ``error`` when it did not fit.

    Each model is fitted and predicts once per distinct history; the metrics weigh each outcome row
    by the customers who share it. ``calibrator(fitted model) -> (Calibration | None, note)`` learns
    the chance-to-order map; ``progress`` hears a line per model.
    """
    horizon = data.holdout_days / data.unit_days
    outcomes = data.outcomes
    history = outcomes["history"].to_numpy()
    weight = outcomes["weight"].to_numpy(dtype=float)
    purchases = outcomes["purchases"].to_numpy(dtype=float)
    bought = purchases > 0
    actual_curve = _actual_tracking(data)
    results = []
    for name in models:
        if progress is not None:
            progress(f"backtesting {short_title(name)} on {data.calibration_end} to {data.holdout_end}")
        try:
            model = fit_model(name, data.inputs, data.unit_days, penalizer)
        except ConvergenceError as error:
            results.append({"model": name, "error": str(error)})
            continue
        predicted = model.predict(data.inputs, horizon)
        if not np.isfinite(predicted.to_numpy(dtype=float)).all():
            results.append({"model": name, "error": f"{name} gave predictions that are not finite numbers"})
            continue
        expected = predicted["expected_purchases"].to_numpy()[history]
        chance = predicted["probability_of_purchase"].to_numpy()[history]
        alive = predicted["probability_alive"].to_numpy()[history]
        results.append({
            "model": name,
            "params": {k: round(v, 6) for k, v in (model.params_ or {}).items()},
            "log_likelihood": getattr(model, "log_likelihood_", None),
            **_count_errors(expected, purchases, weight),
            "brier": brier(chance, bought, weight),
            "roc_auc": _auc(bought, chance, weight),
            "p_alive_auc": _auc(bought, alive, weight),
            "reliability": reliability(chance, bought, weights=weight),
            **_calibrated(calibrator, model, chance, bought, weight),
            **_spend_errors(expected, data),
            "tracking": _tracking(model, data, actual_curve),
        })
    return results


def _calibrated(calibrator, model, chance: np.ndarray, bought: np.ndarray, weight: np.ndarray) -> dict:
    """The chance to order after the calibration ``retainly score`` applies, scored on the holdout."""
    if calibrator is None:
        return {}
    calibration, note = calibrator(model)
    if calibration is None:
        return {"calibration": note}
    calibrated = calibration.apply(chance)
    return {"calibration": note, "calibrated_brier": brier(calibrated, bought, weight),
            "calibrated_roc_auc": _auc(bought, calibrated, weight),
            "calibrated_reliability": reliability(calibrated, bought, weights=weight)}


def _count_errors(expected: np.ndarray, purchases: np.ndarray, weight: np.ndarray) -> dict:
    total, actual_total = float(weight @ expected), float(weight @ purchases)
    customers = float(weight.sum())
    return {
        "customers": int(round(customers)),
        "predicted_purchases": total,
        "actual_purchases": actual_total,
        "aggregate_error": total / actual_total - 1 if actual_total else None,
        "mae": float(weight @ np.abs(expected - purchases)) / customers,
        "rmse": float(np.sqrt(weight @ (expected - purchases) ** 2 / customers)),
    }


def _spend_errors(expected: np.ndarray, data: BacktestData) -> dict:
    """Revenue: expected purchases times the expected spend of the customers who share them."""
    outcomes = data.outcomes
    revenue = float(expected @ outcomes["expected_spend"].to_numpy(dtype=float))
    actual_revenue = float(outcomes["spend"].sum())
    return {
        "predicted_revenue": revenue,
        "actual_revenue": actual_revenue,
        "revenue_error": revenue / actual_revenue - 1 if actual_revenue else None,
        "spend_mae": data.spend_mae,
    }


def _auc(bought: np.ndarray, score: np.ndarray, weight: np.ndarray) -> float | None:
    if bought.all() or not bought.any():
        return None  # undefined with one class only
    from sklearn.metrics import roc_auc_score  # imported when used: it costs a second of every CLI start

    return float(roc_auc_score(bought, score, sample_weight=weight))


def week_ends(data: BacktestData) -> list[int]:
    """Days after the cut-off at which tracking is read: every 7 days, and the holdout's last day."""
    ends = list(range(7, data.holdout_days, 7)) + [data.holdout_days]
    return ends


def _actual_tracking(data: BacktestData) -> list[float]:
    days = data.by_day
    offsets = np.array([(day - data.calibration_end).days for day in days["day"]], dtype=float)
    counts = days["purchases"].to_numpy(dtype=float)
    return [float(counts[offsets <= end].sum()) for end in week_ends(data)]


def _tracking(model, data: BacktestData, actual_curve: list[float]) -> list[dict]:
    ends = week_ends(data)
    horizons = [end / data.unit_days for end in ends]
    inputs = data.inputs
    if hasattr(model, "expected_purchases_curve"):  # the purchase models: one pass over the histories
        predicted = model.expected_purchases_curve(horizons, inputs)
    else:
        predicted = [float(inputs.weight @ model.expected_purchases(t, inputs)) for t in horizons]
    return [{"date": (data.calibration_end + timedelta(days=end)).isoformat(), "day": end,
             "predicted": float(value), "actual": actual}
            for end, value, actual in zip(ends, predicted, actual_curve)]
