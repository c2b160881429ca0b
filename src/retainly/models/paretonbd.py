"""Pareto/NBD: Schmittlein, Morrison & Colombo (1987), in the form of Fader & Hardie (2005),
"A Note on Deriving the Pareto/NBD Model and Related Expressions".

While alive, a customer buys with rate λ ~ Gamma(r, α) and dies at an exponential time
with rate μ ~ Gamma(s, β), independent of purchases. The likelihood (the note's eq. 18) is

    L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^-(r+x) (β+T)^-s + s/(r+s+x) · A0 ]

where A0 (eqs. 19–20) is a difference of two Gauss hypergeometric terms, taken here in log
space (log-sum-exp with a sign) so that large x and long histories cannot overflow.

The hypergeometric term has no closed-form derivative in r and s, so the gradient is central
differences of this exact log-likelihood (on distinct histories, from a deterministic start),
which still converges in a few dozen evaluations where Nelder-Mead needs hundreds.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, gammaln, hyp2f1, roots_legendre

from retainly.errors import ConvergenceError
from retainly.models.base import Histories, fit_log_parameters, frequency_terms, numeric_gradient
from retainly.models.bgnbd import BetaGeoModel
from retainly.models.purchase_model import PurchaseModel

NODES, NODE_WEIGHTS = roots_legendre(64)  # Gauss-Legendre on [-1, 1], for P(purchase in t)
GRADE = 4  # v = w^4 in that integral


class ParetoNBDModel(PurchaseModel):
    """Pareto/NBD with parameters ``r, alpha`` (purchase rate) and ``s, beta`` (lifetime)."""

    name = "paretonbd"
    title = "Pareto/NBD"
    param_names = ("r", "alpha", "s", "beta")
    # Where the data show hardly any dropout, the likelihood is a flat ridge (s and beta growing
    # together) on which every evaluation is slow (hypergeometric terms near z = 1): a search
    # that has not settled in 60 steps ends in ConvergenceError rather than in minutes.
    max_evaluations = 60

    def _start(self, histories: Histories) -> np.ndarray:
        """Warm start: r and α from a BG/NBD fit (closed-form gradient, milliseconds), s = 1, β = α.

        Both models share the Gamma(r, α) purchase rate, so the Pareto/NBD search starts
        with half its parameters nearly right and needs about half the evaluations.
        """
        try:
            bg, _, _ = fit_log_parameters(BetaGeoModel.param_names, BetaGeoModel()._start(histories),
                                          lambda params: BetaGeoModel()._log_likelihood(params, histories),
                                          histories.customers, with_errors=False)
        except ConvergenceError:
            return super()._start(histories)
        return np.array([bg["r"], bg["alpha"], 1.0, bg["alpha"]])

    def _log_likelihood(self, params: np.ndarray, h: Histories) -> tuple[float, np.ndarray]:
        def total(p: np.ndarray) -> float:
            with np.errstate(all="ignore"):
                return float(h.weight @ self._rows(p, h))

        value = total(params)
        return value, numeric_gradient(total, params)

    def _rows(self, p, h: Histories) -> np.ndarray:
        r, alpha, s, beta = p
        x, tx, T = h.frequency, h.recency, h.T
        xs, at = frequency_terms(x)
        rsx = r + s + x
        first = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        second = np.log(s) - np.log(rsx) + self._log_a0(p, x, tx, T)
        return gammaln(r + xs)[at] - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + np.logaddexp(first, second)

    @staticmethod
    def _log_a0(p, x, tx, T) -> np.ndarray:
        """log A0: F(t_x)/(M+t_x)^(r+s+x) - F(T)/(M+T)^(r+s+x), with M = max(α, β); -inf when t_x = T.

        F is the note's 2F1(r+s+x, s+1 or r+x; r+s+x+1; |α-β|/(M+y)), taken through Euler's
        transformation to (1-z)^(-s or 1-r-x) · 2F1(1, r+x or s+1; r+s+x+1; z): a modest
        series times a power done in logs, so heavy buyers cannot overflow it.
        """
        r, alpha, s, beta = p
        rsx = r + s + x
        if alpha >= beta:
            top, power, second_parameter = alpha, -s, r + x
        else:
            top, power, second_parameter = beta, 1 - r - x, s + 1
        gap = abs(alpha - beta)

        def log_term(y):
            z = gap / (top + y)
            return power * np.log1p(-z) + np.log(hyp2f1(1.0, second_parameter, rsx + 1, z)) - rsx * np.log(top + y)

        early, late = log_term(tx), log_term(T)
        with np.errstate(divide="ignore"):
            return early + np.log(-np.expm1(late - early))

    def _alive(self, p, x, tx, T):
        r, alpha, s, beta = p
        log_odds = (np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T)
                    + self._log_a0(p, x, tx, T))
        return expit(-log_odds)

    def _expected(self, p, t, x, tx, T):
        """(r+x)(β+T)/((α+T)(s-1)) · [1 - ((β+T)/(β+T+t))^(s-1)] · P(alive)."""
        r, alpha, s, beta = p
        growth = _lifetime_integral(s, np.log(beta + T) - np.log(beta + T + t))
        return (r + x) * (beta + T) / (alpha + T) * growth * self._alive(p, x, tx, T)

    def _expected_new(self, p, t):
        r, alpha, s, beta = p
        return r * beta / alpha * _lifetime_integral(s, np.log(beta) - np.log(beta + t))

    def _alive_later(self, p, t, x, tx, T):
        """Alive now and μ's posterior Gamma(s, β+T) spares the next t: ((β+T)/(β+T+t))^s."""
        r, alpha, s, beta = p
        return self._alive(p, x, tx, T) * np.exp(s * (np.log(beta + T) - np.log(beta + T + t)))

    def _buys_within_given_alive(self, p, t, x, tx, T):
        """P(a purchase before both t and death | alive at T).

        E[λ e^{-λu}] E[e^{-μu}] integrated over u in [0, t]; substituting
        v = ((α+T)/(α+T+u))^(r+x) turns the first factor into dv, leaving the bounded
        ∫ ((β+T)/(β+T+u(v)))^s dv over [v(t), 1]. Near v = 0 that integrand behaves like
        v^(s/(r+x)), steep for heavy buyers, so v = w^GRADE spreads the Gauss-Legendre nodes
        toward 0, where the steepness is.
        """
        r, alpha, s, beta = p
        k = (r + x)[:, None]
        low = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)) / GRADE)[:, None]
        tau = (NODES + 1) / 2  # on [0, 1]; the smoothstep below crowds the nodes at both ends, where
        w = low + (1 - low) * tau * tau * (3 - 2 * tau)  # a short-lived customer's survival drops fast
        dw = (1 - low) * 6 * tau * (1 - tau)
        u = (alpha + T)[:, None] * np.expm1(-GRADE * np.log(w) / k)
        survive = np.exp(s * (np.log(beta + T)[:, None] - np.log(beta + T[:, None] + u)))
        return (GRADE * w ** (GRADE - 1) * survive * dw) @ NODE_WEIGHTS / 2


def _lifetime_integral(s: float, log_ratio: np.ndarray) -> np.ndarray:
    """(1 - q^(s-1)) / (s-1) with log q = ``log_ratio``; its limit -log q at s = 1."""
    if abs(s - 1) < 1e-9:
        return -log_ratio
    return -np.expm1((s - 1) * log_ratio) / (s - 1)
