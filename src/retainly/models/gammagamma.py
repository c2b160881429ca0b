"""Gamma-Gamma spend model: Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves
for Customer Base Analysis", JMR 42(4), and Fader & Hardie's note "The Gamma-Gamma Model of
Monetary Value" (2013).

Each purchase's value z ~ Gamma(p, ν), with ν ~ Gamma(q, γ) across customers (``v`` here is
the literature's γ, as lifetimes names it). A customer with x repeat purchases of mean value
m̄ contributes the density of m̄:

    ln L = lnΓ(px+q) - lnΓ(px) - lnΓ(q) + q ln γ + (px-1) ln m̄ + px ln x - (px+q) ln(γ + x m̄)

Only ``(px+q) ln(γ + x m̄)`` needs a pass over the buyers; the rest reduces to sums over
distinct x and two sufficient statistics, Σ x ln m̄ and Σ ln m̄.

The model needs positive spend. retainly's summary gives it gross spend (what a purchase was
worth when made) and takes returns off afterwards (``retainly.models.returns``: expected spend
times the share a customer keeps), so nothing is lost. A summary of net spend (a caller's own)
can hold customers whose repeat purchases were all returned (mean ≤ 0): they are left out of
the fit (``excluded_`` counts them) and are predicted the population mean, like a new customer.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from retainly.errors import ConvergenceError, InputError
from retainly.models.base import FittedModel, fit_log_parameters, read_columns


class GammaGammaModel(FittedModel):
    """Spend per purchase, with parameters ``p, q, v``; fit on repeat buyers' mean repeat spend."""

    name = "gammagamma"
    title = "Gamma-Gamma"
    param_names = ("p", "q", "v")
    saved_extras = ("excluded",)

    def fit(self, data, weights: np.ndarray | None = None) -> GammaGammaModel:
        """Fit on a summary with ``frequency`` and ``monetary_value`` (mean repeat spend); ``weights``
        counts the customers of each row, for a summary of distinct rows."""
        columns = read_columns(data, ("frequency", "monetary_value"))
        x, spend = columns["frequency"], columns["monetary_value"]
        w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
        usable = (x > 0) & (spend > 0)
        self.excluded_ = int(round(w[(x > 0) & (spend <= 0)].sum()))
        x, spend, w = x[usable], spend[usable], w[usable]
        n = float(w.sum())
        if n < 2:
            raise ConvergenceError("the spend model needs repeat buyers with positive spend, and the summary "
                                   f"has {n:g}; predicted spend falls back to the mean order value")
        xs, at = np.unique(x, return_counts=False, return_inverse=True)
        count_per_x = np.bincount(at, weights=w).astype(float)
        wx, log_m = w * x, np.log(spend)
        sum_x_log_m = float(wx @ log_m)
        sum_log_m = float(w @ log_m)
        sum_x_log_x = float(wx @ np.log(x))

        def total(params: np.ndarray) -> tuple[float, np.ndarray]:
            p, q, v = params
            px_q = p * xs + q
            log_terms = np.log(v + x * spend)
            weights = w * (p * x + q)
            value = (count_per_x @ (gammaln(px_q) - gammaln(p * xs)) - n * gammaln(q) + n * q * np.log(v)
                     + p * sum_x_log_m - sum_log_m + p * sum_x_log_x - weights @ log_terms)
            d_p = (count_per_x @ (xs * (digamma(px_q) - digamma(p * xs))) + sum_x_log_m + sum_x_log_x
                   - wx @ log_terms)
            d_q = count_per_x @ digamma(px_q) - n * digamma(q) + n * np.log(v) - w @ log_terms
            d_v = n * q / v - (weights / (v + x * spend)).sum()
            return float(value), np.array([d_p, d_q, d_v])

        mean = float(w @ spend / n)
        start = np.array([1.0, 2.0, mean])  # q > 1 keeps the population mean p v / (q - 1) finite
        params, log_likelihood, errors = fit_log_parameters(
            self.param_names, start, total, n, self.penalizer, self.title)
        if params["q"] <= 1:
            raise ConvergenceError(f"the spend model's q came out {params['q']:.3g} (at most 1): spend is so heavy-"
                                   "tailed that its mean does not exist in the model; expected spend falls back to "
                                   "each customer's own mean")
        self.params_, self.log_likelihood_, self.standard_errors_ = params, log_likelihood, errors
        self.customers_ = int(round(n))
        return self

    def mean_spend(self) -> float:
        """E[Z] for a new customer: p v / (q - 1) (a fit ensures q > 1)."""
        p, q, v = self._params()
        return p * v / (q - 1)

    def expected_spend(self, data) -> np.ndarray:
        """E[Z | x, m̄] per customer: a weighted mean of the population mean and
        the customer's own mean. One-time buyers and non-positive spenders get the population mean."""
        p, q, v = self._params()
        columns = read_columns(data, ("frequency", "monetary_value"))
        x, spend = columns["frequency"], columns["monetary_value"]
        own = (x > 0) & (spend > 0)
        x = np.where(own, x, 0.0)
        spend = np.where(own, spend, 0.0)
        return p * (v + x * spend) / (p * x + q - 1)

    def _params(self) -> np.ndarray:
        params = super()._params()
        if params[1] <= 1:
            raise InputError(f"Gamma-Gamma parameters with q = {params[1]:g} (at most 1) have no finite "
                             "mean spend, so they cannot predict spend; refit on the shop's data")
        return params
