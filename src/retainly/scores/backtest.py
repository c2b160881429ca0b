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
from retainly.models import PURCHASE_MODELS, GammaGammaModel
from retainly.models.heuristic import HeuristicModel
from retainly.models.returns import fit_net_spend
from retainly.scores.calibration import brier, reliability
from retainly.settings import TIME_UNITS


@dataclass
class BacktestData:
    """Calibration summary, holdout activity per customer and per day, and the dates."""

    calibration: pd.DataFrame
    holdout: pd.DataFrame
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

    def actual(self) -> pd.DataFrame:
        """Holdout purchase days and spend per calibration customer (0 for those who did not buy)."""
        merged = self.calibration[["customer_id"]].merge(self.holdout, on="customer_id", how="left")
        return merged.fillna({"purchases": 0, "spend": 0.0})


def fit_model(name: str, summary, unit_days: float, penalizer: float = 0.0):
    """A fitted purchase model by name ('heuristic' included), on a per-customer summary or on the
    engine's distinct ``ModelInputs``."""
    if name == HeuristicModel.name:
        return HeuristicModel(unit_days).fit(summary, spend=summary.spend if isinstance(summary, ModelInputs) else None)
    return PURCHASE_MODELS[name](penalizer=penalizer).fit(summary)


def short_title(name: str) -> str:
    """A purchase model's short title ("MBG/NBD"), or the heuristics'."""
    return PURCHASE_MODELS[name].title if name in PURCHASE_MODELS else HeuristicModel.title


def fit_spend(summary: pd.DataFrame, unit_days: float):
    """Expected net spend per purchase, returns taken off (``retainly.models.returns``): Gamma-Gamma
    on gross spend when it can be fitted, else the heuristic's mean spend; returns (model, note)."""
    try:
        gross, note = GammaGammaModel().fit(summary), None
    except ConvergenceError as error:
        gross, note = HeuristicModel(unit_days).fit(summary), str(error)
    return fit_net_spend(gross, summary), note


def evaluate(data: BacktestData, models: list[str], penalizer: float = 0.0, calibrator=None,
             progress=None) -> list[dict]:
    """One result dict per model: the metrics of the module docstring, or ``error`` when it did not fit.

    ``calibrator(fitted model) -> (Calibration | None, note)`` learns the chance-to-order map;
    ``progress`` hears a line per model.
    """
    horizon = data.holdout_days / data.unit_days
    actual = data.actual()
    bought = (actual["purchases"] > 0).to_numpy()
    spend_model, _ = fit_spend(data.calibration, data.unit_days)
    spend = spend_model.expected_spend(data.calibration)
    actual_curve = _actual_tracking(data)
    results = []
    for name in models:
        if progress is not None:
            progress(f"backtesting {short_title(name)} on {data.calibration_end} to {data.holdout_end}")
        try:
            model = fit_model(name, data.calibration, data.unit_days, penalizer)
        except ConvergenceError as error:
            results.append({"model": name, "error": str(error)})
            continue
        predicted = model.predict(data.calibration, horizon)
        if not np.isfinite(predicted.to_numpy(dtype=float)).all():
            results.append({"model": name, "error": f"{name} gave predictions that are not finite numbers"})
            continue
        expected = predicted["expected_purchases"].to_numpy()
        chance = predicted["probability_of_purchase"].to_numpy()
        calibrated = _calibrated(calibrator, model, chance, bought)
        results.append({
            "model": name,
            "params": {k: round(v, 6) for k, v in (model.params_ or {}).items()},
            "log_likelihood": getattr(model, "log_likelihood_", None),
            **_count_errors(expected, actual["purchases"].to_numpy()),
            "brier": brier(chance, bought),
            "roc_auc": _auc(bought, chance),
            "p_alive_auc": _auc(bought, predicted["probability_alive"].to_numpy()),
            "reliability": reliability(chance, bought),
            **calibrated,
            **_spend_errors(expected, spend, actual, bought),
            "tracking": _tracking(model, data, actual_curve),
        })
    return results


def _calibrated(calibrator, model, chance: np.ndarray, bought: np.ndarray) -> dict:
    """The chance to order after the calibration ``retainly score`` applies, scored on the holdout."""
    if calibrator is None:
        return {}
    calibration, note = calibrator(model)
    if calibration is None:
        return {"calibration": note}
    calibrated = calibration.apply(chance)
    return {"calibration": note, "calibrated_brier": brier(calibrated, bought),
            "calibrated_roc_auc": _auc(bought, calibrated), "calibrated_reliability": reliability(calibrated, bought)}


def _count_errors(expected: np.ndarray, purchases: np.ndarray) -> dict:
    total, actual_total = float(expected.sum()), float(purchases.sum())
    return {
        "customers": len(expected),
        "predicted_purchases": total,
        "actual_purchases": actual_total,
        "aggregate_error": total / actual_total - 1 if actual_total else None,
        "mae": float(np.mean(np.abs(expected - purchases))),
        "rmse": float(np.sqrt(np.mean((expected - purchases) ** 2))),
    }


def _spend_errors(expected: np.ndarray, spend: np.ndarray, actual: pd.DataFrame, bought: np.ndarray) -> dict:
    revenue, actual_revenue = float(np.nansum(expected * spend)), float(actual["spend"].sum())
    per_purchase = actual["spend"].to_numpy()[bought] / actual["purchases"].to_numpy()[bought]
    return {
        "predicted_revenue": revenue,
        "actual_revenue": actual_revenue,
        "revenue_error": revenue / actual_revenue - 1 if actual_revenue else None,
        "spend_mae": float(np.nanmean(np.abs(spend[bought] - per_purchase))) if bought.any() else None,
    }


def _auc(bought: np.ndarray, score: np.ndarray) -> float | None:
    if bought.all() or not bought.any():
        return None  # undefined with one class only
    from sklearn.metrics import roc_auc_score  # imported when used: it costs a second of every CLI start

    return float(roc_auc_score(bought, score))


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
    if hasattr(model, "expected_purchases_curve"):  # the purchase models: one pass over the histories
        predicted = model.expected_purchases_curve(horizons, data.calibration)
    else:
        predicted = [float(np.sum(model.expected_purchases(t, data.calibration))) for t in horizons]
    return [{"date": (data.calibration_end + timedelta(days=end)).isoformat(), "day": end,
             "predicted": float(value), "actual": actual}
            for end, value, actual in zip(ends, predicted, actual_curve)]
