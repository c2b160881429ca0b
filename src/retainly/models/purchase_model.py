"""The shared shape of the purchase-count models (BG/NBD, MBG/NBD, Pareto/NBD).

Each model class supplies its log-likelihood with gradient and four closed forms, all in
the literature's notation (x = frequency, t_x = recency, T, and a horizon t):
``_alive`` P(alive at T), ``_expected`` E[Y(t) | x, t_x, T], ``_expected_new`` E[X(t)] for a
customer who has just made a first purchase, and ``_alive_later`` P(alive at T + t).
Everything a user calls lives here and runs on distinct histories only, spread back to
customers at the end.

Under all three models a customer who is alive at T buys at a rate λ whose posterior is
Gamma(r + x, α + T), and can only drop out after a purchase (BG/NBD, MBG/NBD) or in
continuous time (Pareto/NBD). That gives two shared closed forms: the chance that an alive
customer buys within t, 1 - ((α + T) / (α + T + t))^(r + x), exact for the BG family and
ignoring dropout before that purchase for Pareto/NBD (``_buys_within_given_alive``), and its
median, the time by which an alive customer has even odds of having bought again.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from retainly.errors import ConvergenceError, InputError
from retainly.models.base import FittedModel, Histories, fit_log_parameters


class PurchaseModel(FittedModel):
    """Base class: ``Model(penalizer=0.0).fit(summary) -> self``, then predictions."""

    max_evaluations: ClassVar[int] = 5000  # of the log-likelihood and its gradient, per search

    # -- fitting ---------------------------------------------------------------------------

    def fit(self, data, weights: np.ndarray | None = None) -> PurchaseModel:
        """Maximum-likelihood fit on a summary with ``frequency``, ``recency`` and ``T``."""
        histories = Histories.from_data(data, weights)
        if histories.customers == 0:
            raise InputError(f"the summary is empty: {self.title} needs customers to fit")
        if histories.weight[histories.frequency > 0].sum() == 0:
            raise ConvergenceError(f"nobody in the summary bought twice, so {self.title} cannot learn a "
                                   "purchase rate; wait for repeat purchases or use retainly's heuristics")
        self.params_, self.log_likelihood_, self.standard_errors_ = fit_log_parameters(
            self.param_names, self._start(histories),
            lambda params: self._log_likelihood(params, histories),
            histories.customers, self.penalizer, self.title, max_evaluations=self.max_evaluations)
        self.customers_ = int(round(histories.customers))
        self.distinct_histories_ = len(histories.weight)
        return self

    def _start(self, histories: Histories) -> np.ndarray:
        """A deterministic starting point: unit shapes, α from the mean purchase rate."""
        rate = (histories.weight @ histories.frequency) / max(histories.weight @ histories.T, 1e-9)
        scale = 1.0 / max(rate, 1e-6)
        return np.array([1.0 if n not in ("alpha", "beta") else scale for n in self.param_names])

    def _log_likelihood(self, params: np.ndarray, h: Histories) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    # -- predictions (x, t_x, T per customer, in the time unit of the fit) ---------------

    def probability_alive(self, data, t: float = 0.0) -> np.ndarray:
        """P(alive) at the end of the summary (``t`` = 0) or ``t`` time units later."""
        h = self._histories(data)
        p = self._params()
        if t:
            return h.spread(self._alive_later(p, float(t), h.frequency, h.recency, h.T))
        return h.spread(self._alive(p, h.frequency, h.recency, h.T))

    def expected_purchases(self, t: float, data=None) -> np.ndarray | float:
        """Expected purchases in the next ``t``; with no ``data``, for a brand-new customer's first ``t``."""
        if data is None:
            return float(self._expected_new(self._params(), float(t)))
        h = self._histories(data)
        return h.spread(self._expected(self._params(), float(t), h.frequency, h.recency, h.T))

    def expected_purchases_curve(self, horizons, data) -> np.ndarray:
        """Expected purchases summed over all customers, for each horizon: one pass over the histories."""
        h = self._histories(data)
        p = self._params()
        return np.array([float(h.weight @ self._expected(p, float(t), h.frequency, h.recency, h.T))
                         for t in horizons])

    def probability_of_purchase(self, t: float, data) -> np.ndarray:
        """P(at least one purchase in the next ``t``)."""
        h = self._histories(data)
        p = self._params()
        return h.spread(self._alive(p, h.frequency, h.recency, h.T) * self._buys_within_given_alive(
            p, float(t), h.frequency, h.recency, h.T))

    def time_to_next_purchase(self, data, probability: float = 0.5) -> np.ndarray:
        """Time by which a customer who is still alive has ``probability`` of having bought again."""
        h = self._histories(data)
        return h.spread(self._wait(self._params(), probability, h.frequency, h.T))

    def predict(self, data, horizon: float, probability: float = 0.5) -> pd.DataFrame:
        """All per-customer predictions at once: P(alive), expected purchases and P(purchase)
        in ``horizon``, and the time to the next purchase, one row per input row."""
        h = self._histories(data)
        p = self._params()
        alive = self._alive(p, h.frequency, h.recency, h.T)
        frame = {
            "probability_alive": alive,
            "expected_purchases": self._expected(p, float(horizon), h.frequency, h.recency, h.T),
            "probability_of_purchase": alive * self._buys_within_given_alive(p, float(horizon), h.frequency,
                                                                             h.recency, h.T),
            "time_to_next_purchase": self._wait(p, probability, h.frequency, h.T),
        }
        return pd.DataFrame({name: h.spread(values) for name, values in frame.items()})

    @staticmethod
    def _wait(p, probability, x, T) -> np.ndarray:
        """The ``probability`` quantile of an alive customer's wait, whose rate is Gamma(r+x, α+T)."""
        r, alpha = p[:2]
        return (alpha + T) * np.expm1(-np.log1p(-probability) / (r + x))

    def _buys_within_given_alive(self, p, t, x, tx, T) -> np.ndarray:
        r, alpha = p[:2]
        return -np.expm1((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))

    # -- closed forms each model supplies --------------------------------------------------

    def _alive(self, p, x, tx, T) -> np.ndarray:
        raise NotImplementedError

    def _expected(self, p, t, x, tx, T) -> np.ndarray:
        raise NotImplementedError

    def _expected_new(self, p, t) -> float:
        raise NotImplementedError

    def _alive_later(self, p, t, x, tx, T) -> np.ndarray:
        raise NotImplementedError

    # -- plumbing ----------------------------------------------------------------------------

    def _histories(self, data) -> Histories:
        self._params()
        return Histories.from_data(data)
