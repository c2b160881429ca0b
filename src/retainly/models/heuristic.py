"""Transparent rules for shops with too little history to fit a model.

Each customer's *rhythm* is their mean time between purchases (recency / frequency), or the
shop's median rhythm for one-time buyers (``DEFAULT_RHYTHM_DAYS`` without any repeat buyer).
Then, with ``gap`` = T - recency (time since the last purchase):

* P(alive) = 1 while the gap is within twice the rhythm, then halves with every further
  rhythm: 2^-(gap/rhythm - 2);
* expected purchases in t = P(alive) · t / rhythm;
* P(a purchase in t) = P(alive) · (1 - e^(-t / rhythm));
* time to the next purchase for an alive customer: the median of that wait, rhythm · ln 2;
* spend per purchase: the customer's mean repeat spend, else the shop's mean.

The same ``predict`` columns as the fitted models, so every caller treats both alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retainly.models.base import Histories, column_names, read_columns

DEFAULT_RHYTHM_DAYS = 90.0
ALIVE_WITHIN_RHYTHMS = 2.0


class HeuristicModel:
    """Rule-based predictions; ``fit`` only learns the shop's median rhythm and mean spend."""

    name = "heuristic"
    title = "heuristic rules"

    def __init__(self, unit_days: float = 7.0):
        self.unit_days = unit_days
        self.params_: dict[str, float] | None = None

    def fit(self, data, weights: np.ndarray | None = None, spend=None) -> HeuristicModel:
        """Learn the shop's rhythm (and mean spend, when ``data`` has ``monetary_value``) from a summary,
        or from distinct histories with ``weights`` (a ``Histories`` carries its own); ``spend``, a frame
        of frequency, monetary_value and weight, gives the mean spend of distinct rows instead."""
        columns = _history_columns(data)
        x, tx = columns["frequency"], columns["recency"]
        given = data.weight if isinstance(data, Histories) else weights
        w = np.ones(len(x)) if given is None else np.asarray(given, dtype=float)
        repeat = x > 0
        rhythm = weighted_median(tx[repeat] / x[repeat], w[repeat]) if repeat.any() \
            else DEFAULT_RHYTHM_DAYS / self.unit_days
        mean_spend = float("nan")
        if spend is not None:
            columns = read_columns(spend, ("frequency", "monetary_value", "weight"))
            mean_spend = self.mean_spend_of(columns["frequency"], columns["monetary_value"], columns["weight"])
        elif "monetary_value" in column_names(data):
            mean_spend = self.mean_spend_of(x, read_columns(data, ("monetary_value",))["monetary_value"], given)
        self.params_ = {"shop_rhythm": max(rhythm, 1.0 / self.unit_days), "mean_spend": mean_spend}
        self.log_likelihood_ = None
        self.customers_ = int(round(w.sum()))
        return self

    @staticmethod
    def mean_spend_of(frequency: np.ndarray, spend: np.ndarray, weights: np.ndarray | None = None) -> float:
        """The mean repeat spend of repeat buyers with positive spend (NaN without one)."""
        own = (frequency > 0) & (spend > 0)
        if not own.any():
            return float("nan")
        if weights is None:
            return float(spend[own].mean())
        weights = np.asarray(weights, dtype=float)[own]
        return float(weights @ spend[own] / weights.sum())

    def _rhythm(self, x, tx) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            own = np.where(x > 0, tx / np.maximum(x, 1), np.nan)
        return np.where((x > 0) & (own > 0), own, self.params_["shop_rhythm"])

    def predict(self, data, horizon: float, probability: float = 0.5) -> pd.DataFrame:
        """One row per row of ``data`` (per distinct history for a ``Histories``)."""
        columns = _history_columns(data)
        x, tx, T = columns["frequency"], columns["recency"], columns["T"]
        rhythm = self._rhythm(x, tx)
        alive = np.minimum(1.0, 2.0 ** -((T - tx) / rhythm - ALIVE_WITHIN_RHYTHMS))
        return pd.DataFrame({
            "probability_alive": alive,
            "expected_purchases": alive * horizon / rhythm,
            "probability_of_purchase": alive * -np.expm1(-horizon / rhythm),
            "time_to_next_purchase": rhythm * -np.log1p(-probability),
        })

    def expected_purchases(self, t: float, data) -> np.ndarray:
        return self.predict(data, t)["expected_purchases"].to_numpy()

    def expected_spend(self, data) -> np.ndarray:
        columns = read_columns(data, ("frequency", "monetary_value"))
        own = (columns["frequency"] > 0) & (columns["monetary_value"] > 0)
        return np.where(own, columns["monetary_value"], self.params_["mean_spend"])

    def to_dict(self) -> dict:
        return {"model": self.name, "params": dict(self.params_ or {})}


def _history_columns(data) -> dict[str, np.ndarray]:
    if isinstance(data, Histories):
        return {"frequency": data.frequency, "recency": data.recency, "T": data.T}
    return read_columns(data, ("frequency", "recency", "T"))


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """np.median of ``values`` each repeated ``weights`` times (whole numbers), without repeating them."""
    order = np.argsort(values, kind="stable")
    values, cumulative = values[order], np.cumsum(weights[order])
    count = cumulative[-1]
    # The middle one or two of count values (0-based positions), as np.median takes them.
    low = values[np.searchsorted(cumulative, (count - 1) // 2, side="right")]
    high = values[np.searchsorted(cumulative, count // 2, side="right")]
    return float(low) if low == high else float((low + high) / 2)


def heuristic_from_dict(saved: dict, unit_days: float) -> HeuristicModel:
    """A heuristic model from stored parameters (``to_dict()['params']``)."""
    model = HeuristicModel(unit_days)
    model.params_ = {"shop_rhythm": float(saved["shop_rhythm"]),
                     "mean_spend": float("nan") if saved.get("mean_spend") is None else float(saved["mean_spend"])}
    model.log_likelihood_ = None
    return model
