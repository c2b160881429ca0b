"""Pareto/NBD: Schmittlein, Morrison & Colombo (1987), in the form of Fader & Hardie (2005),
"A Note on Deriving the Pareto/NBD Model and Related Expressions".

While alive, a customer buys with rate λ ~ Gamma(r, α) and dies at an exponential time
with rate μ ~ Gamma(s, β), independent of purchases. The likelihood (the note's eq. 18) is

    L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^-(r+x) (β+T)^-s + s/(r+s+x) · A0 ]

where A0 (eqs. 19–20) is a difference of two Gauss hypergeometric terms, taken here in log
space (log-sum-exp with a sign) so that large x and long histories cannot overflow.

The hypergeometric term has no closed-form derivative in r and s. It is also an integral
over the time of death, s/(r+s+x) · A0 = s ∫_{t_x}^T (α+τ)^-(r+x) (β+τ)^-(s+1) dτ, and the
derivatives of an integral are integrals of the integrand's elementary derivatives: the
gradient is those integrals, done by a fixed double-exponential quadrature, while the value
stays the exact closed form. Both depend on (x, t_x) and (x, T) pairs only, a few percent of
the distinct histories on a day grid, so a fit of a million customers takes about a second.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import digamma, expit, gammaln, hyp2f1, roots_legendre

from retainly.errors import ConvergenceError
from retainly.models.base import Histories, distinct_pairs, fit_log_parameters, frequency_terms
from retainly.models.bgnbd import BetaGeoModel
from retainly.models.purchase_model import PurchaseModel

NODES, NODE_WEIGHTS = roots_legendre(64)  # Gauss-Legendre on [-1, 1], for P(purchase in t)
GRADE = 4  # v = w^4 in that integral
BLOCK = 65_536  # distinct (x, T) pairs per block of that quadrature: 64 nodes each, a few arrays of 34 MB
# The likelihood's derivatives: a double-exponential rule, t = e^(π/2 sinh u) in 54 steps of 1/10 in u
_U = np.linspace(-3.5, 1.8, 54)
DE_NODES = np.exp(np.pi / 2 * np.sinh(_U))
# log(dt/du · step), with the integrand's e^-(a+b-1)t folded in: (a+b-1)t is DE_NODES at every x
DE_LOG_WEIGHTS = np.log(np.pi / 2 * np.cosh(_U) * DE_NODES * (_U[1] - _U[0])) - DE_NODES


class _Layout(NamedTuple):
    """Where each history's terms come from, found once per fit: the likelihood's terms depend on
    x alone or on a pair (x, y) with y = t_x or T."""

    xs: np.ndarray  # distinct frequencies
    x_weight: np.ndarray  # customers with each
    pair_x: np.ndarray  # each distinct (x, y) pair's index into xs
    pair_y: np.ndarray  # and its y
    early: np.ndarray  # each history's pair for y = t_x
    late: np.ndarray  # and for y = T


class ParetoNBDModel(PurchaseModel):
    """Pareto/NBD with parameters ``r, alpha`` (purchase rate) and ``s, beta`` (lifetime)."""

    name = "paretonbd"
    title = "Pareto/NBD"
    param_names = ("r", "alpha", "s", "beta")
    # Where the data show hardly any dropout, the likelihood is a flat ridge (s and β growing
    # together) along which a search can wander: a well-posed fit takes 20 to 40 evaluations, and
    # one that has not settled in 200 ends in ConvergenceError rather than in minutes.
    max_evaluations = 200

    def fit(self, data, weights: np.ndarray | None = None) -> ParetoNBDModel:
        try:
            return super().fit(data, weights)
        finally:
            self._layout_of = None  # the histories' layout served this fit only; do not keep them alive

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
        """The weighted log-likelihood and its analytic gradient in (r, α, s, β).

        Write the likelihood as Γ(r+x)α^r β^s/Γ(r) · [E + s·I], E = (α+T)^-(r+x) (β+T)^-s and
        I = G(t_x) - G(T), G(y) = ∫_y^∞ (α+τ)^-(r+x) (β+τ)^-(s+1) dτ (death at τ after the last
        purchase). G is the note's hypergeometric term, taken exactly (``_log_tail``); its
        derivatives are integrals of the integrand times -log(α+τ), -(r+x)/(α+τ), -log(β+τ),
        -(s+1)/(β+τ), done by quadrature (``_tail_slopes``). Both depend on (x, y) alone: on a
        day grid a million customers have about 15 thousand such pairs.
        """
        r, alpha, s, beta = params
        k = self._layout(h)
        with np.errstate(all="ignore"):
            pair_x = k.xs[k.pair_x]
            log_alpha_y, log_beta_y = np.log(alpha + k.pair_y), np.log(beta + k.pair_y)
            log_tail = self._log_tail(params, pair_x, k.pair_y)
            log_e = -(r + pair_x) * log_alpha_y - s * log_beta_y  # log E, for the pairs (x, T)
            early, late, log_e = log_tail[k.early], log_tail[k.late], log_e[k.late]
            gap = late - early  # log(G(T)/G(t_x)), 0 when t_x = T
            kept = -np.expm1(gap)  # I / G(t_x)
            log_si = np.log(s) + early + np.log(kept)
            both = np.logaddexp(log_e, log_si)
            constant = gammaln(r + k.xs) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
            value = float(h.weight @ both + k.x_weight @ constant)
            shift = log_e - both
            we, wi = h.weight * np.exp(shift), h.weight * -np.expm1(shift)  # weights times E/L, s·I/L
            # d log I = (dG(t_x) - dG(T)) / I with dG = G · d log G: summed per pair, nothing where I = 0
            per_i = np.where(kept > 0, wi / kept, 0.0)
            on_tail = (np.bincount(k.early, per_i, len(pair_x))
                       - np.bincount(k.late, per_i * np.exp(gap), len(pair_x)))
            on_e = np.bincount(k.late, we, len(pair_x))
            gradient = self._tail_slopes(params, pair_x, k.pair_y) @ on_tail + np.array([
                k.x_weight @ (digamma(r + k.xs) - digamma(r)) + h.customers * np.log(alpha) - on_e @ log_alpha_y,
                h.customers * r / alpha - on_e @ ((r + pair_x) / (alpha + k.pair_y)),
                h.customers * np.log(beta) - on_e @ log_beta_y + wi.sum() / s,
                h.customers * s / beta - on_e @ (s / (beta + k.pair_y)),
            ])
        return value, gradient

    def _rows(self, p, h: Histories) -> np.ndarray:
        """Per-history log-likelihood in the note's closed form (the reference for tests)."""
        r, alpha, s, beta = p
        x, tx, T = h.frequency, h.recency, h.T
        xs, at = frequency_terms(x)
        rsx = r + s + x
        first = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        second = np.log(s) - np.log(rsx) + self._log_a0(p, x, tx, T)
        return gammaln(r + xs)[at] - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + np.logaddexp(first, second)

    def _layout(self, h: Histories) -> _Layout:
        """The terms' layout for these histories, kept while the same ``Histories`` is being fitted."""
        cached = getattr(self, "_layout_of", None)
        if cached is not None and cached[0] is h:
            return cached[1]
        n = len(h.frequency)
        x_of, xs = pd.factorize(h.frequency)
        y_of, ys = pd.factorize(np.concatenate([h.recency, h.T]))
        pair_of, _ = pd.factorize(np.concatenate([x_of, x_of]).astype(np.int64) * len(ys) + y_of)
        first = np.zeros(pair_of.max() + 1 if n else 0, dtype=np.int64)
        first[pair_of[::-1]] = np.arange(2 * n)[::-1]  # a history-column position holding each pair
        layout = _Layout(xs, np.bincount(x_of, h.weight, len(xs)), np.concatenate([x_of, x_of])[first],
                         ys[y_of[first]], pair_of[:n], pair_of[n:])
        self._layout_of = (h, layout)
        return layout

    @staticmethod
    def _log_tail(p, x, y) -> np.ndarray:
        """log G(y) = log ∫_y^∞ (α+τ)^-(r+x) (β+τ)^-(s+1) dτ = log F(y) - (r+s+x) log(M+y) - log(r+s+x).

        F is the note's 2F1(r+s+x, s+1 or r+x; r+s+x+1; |α-β|/(M+y)), M = max(α, β), taken
        through Euler's transformation to (1-z)^(-s or 1-r-x) · 2F1(1, r+x or s+1; r+s+x+1; z):
        a modest series times a power done in logs, so heavy buyers cannot overflow it.
        """
        r, alpha, s, beta = p
        rsx = r + s + x
        if alpha >= beta:
            top, power, second_parameter = alpha, -s, r + x
        else:
            top, power, second_parameter = beta, 1 - r - x, s + 1
        z = abs(alpha - beta) / (top + y)
        return (power * np.log1p(-z) + np.log(hyp2f1(1.0, second_parameter, rsx + 1, z))
                - rsx * np.log(top + y) - np.log(rsx))

    @staticmethod
    def _tail_slopes(p, x, y) -> np.ndarray:
        """d log G(y) / d(r, α, s, β): minus the means of log(α+τ), (r+x)/(α+τ), log(β+τ),
        (s+1)/(β+τ) under the integrand of G, as rows of a (4, pairs) array.

        With a = r+x, b = s+1 and c + y = (a(α+y) + b(β+y)) / (a+b), the power law (c+τ)^-(a+b)
        decays like the integrand at infinity, and in t = log((c+τ)/(c+y)) the integrand is
        e^(-(a+b-1)t) times ((c+τ)/(α+τ))^a ((c+τ)/(β+τ))^b, a smooth factor that tends to 1.
        The double-exponential rule t = e^(π/2 sinh u) / (a+b-1), trapezoids in u, integrates
        that over [0, ∞) in a fixed 54 nodes: against a 500-node rule, within 1e-10 relative for
        parameters like real fits' and 1e-8 over r, s in [0.05, 5], α, β in [0.1, 1000], x up
        to 300 (other choices of c, e.g. the harmonic mean, were 1e-7 and 1e-2 off).
        """
        r, alpha, s, beta = p
        a, b = r + x, s + 1.0
        scale = (a * (alpha + y) + b * (beta + y)) / (a + b)  # c + y
        xs, at = np.unique(x, return_inverse=True)
        shrink = np.exp(-DE_NODES / (r + s + xs)[:, None])[at]  # e^-t = (c+y)/(c+τ): per distinct x
        ratio_a = 1 + ((alpha + y) / scale - 1)[:, None] * shrink  # (α+τ)/(c+τ)
        ratio_b = 1 + ((beta + y) / scale - 1)[:, None] * shrink
        log_a, log_b = np.log(ratio_a), np.log(ratio_b)
        log_f = DE_LOG_WEIGHTS - a[:, None] * log_a - b * log_b
        log_f -= log_f.max(axis=1, keepdims=True)
        weight = np.exp(log_f, out=log_f)
        weight /= weight.sum(axis=1, keepdims=True)
        shrink *= weight  # from here on: weight / (c+τ), up to the factor 1/(c+y)
        base = np.log(scale) + (weight @ DE_NODES) / (r + s + x)  # mean of log(c+τ)
        return -np.stack([
            base + np.einsum("ij,ij->i", weight, log_a),
            a / scale * np.einsum("ij,ij->i", shrink, 1 / ratio_a),
            base + np.einsum("ij,ij->i", weight, log_b),
            b / scale * np.einsum("ij,ij->i", shrink, 1 / ratio_b),
        ])

    @classmethod
    def _log_a0(cls, p, x, tx, T) -> np.ndarray:
        """log A0 = log((r+s+x) · (G(t_x) - G(T))); -inf when t_x = T."""
        r, alpha, s, beta = p
        early, late = cls._log_tail(p, x, tx), cls._log_tail(p, x, T)
        with np.errstate(divide="ignore"):
            return np.log(r + s + x) + early + np.log(-np.expm1(late - early))

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

    def expected_purchases_curve(self, horizons, data) -> np.ndarray:
        """As the base class, with P(alive) (the costly hypergeometric term) computed once, not per horizon."""
        h = self._histories(data)
        p = self._params()
        r, alpha, s, beta = p
        x, T = h.frequency, h.T
        now = (r + x) * (beta + T) / (alpha + T) * self._alive(p, x, h.recency, T)
        return np.array([float(h.weight @ (now * _lifetime_integral(s, np.log(beta + T) - np.log(beta + T + t))))
                         for t in horizons])

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

        It depends on (x, T) alone: computed once per distinct pair, in blocks of ``BLOCK`` pairs,
        because the quadrature holds a few arrays of 64 nodes per row (at 4.8 M histories in one
        block they took 6 GB).
        """
        pair, xs, Ts = distinct_pairs(x, T)
        parts = [self._buys_block(p, t, xs[i:i + BLOCK], Ts[i:i + BLOCK]) for i in range(0, len(xs), BLOCK)]
        return (np.concatenate(parts) if parts else np.empty(0))[pair].reshape(np.shape(pair))

    @staticmethod
    def _buys_block(p, t, x, T):
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
