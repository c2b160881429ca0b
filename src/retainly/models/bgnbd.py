"""BG/NBD: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", Marketing Science 24(2).

While alive, a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after each
repeat purchase they drop out for good with probability p ~ Beta(a, b). The formulas below
are written once for the BG/NBD and its modified form (MBG/NBD, ``mbgnbd.py``), which also
lets a customer drop out right after the first purchase: ``shift`` counts that extra
chance (0 for BG/NBD, 1 for MBG/NBD), so ``b + x + shift - 1`` is the paper's ``b + x - 1``
for one and Batislam et al.'s ``b + x`` for the other, and ``dropout_possible`` is the
paper's ``δ_{x>0}``.

Everything is in log space (the likelihood computed directly overflows a spreadsheet, the
"#NUM!" of the note on implementing it): L = A(r, α, x) · B(a, b, x) · [e^{u1} + e^{u2}] with
u1 = -(r+x) ln(α+T), u2 = ln a - ln(b+x+shift-1) - (r+x) ln(α+t_x), summed by logaddexp.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, expit, gammaln, hyp2f1

from retainly.models.base import Histories, distinct_pairs, frequency_terms
from retainly.models.purchase_model import PurchaseModel


class BetaGeoModel(PurchaseModel):
    """BG/NBD with parameters ``r, alpha`` (purchase rate) and ``a, b`` (dropout)."""

    name = "bgnbd"
    title = "BG/NBD"
    param_names = ("r", "alpha", "a", "b")
    shift = 0

    def _dropout_possible(self, x: np.ndarray) -> np.ndarray:
        return x > 0 if self.shift == 0 else np.ones_like(x, dtype=bool)

    def _log_likelihood(self, params: np.ndarray, h: Histories) -> tuple[float, np.ndarray]:
        r, alpha, a, b = params
        k = self.shift
        x, tx, T, w = h.frequency, h.recency, h.T, h.weight
        xs, at = frequency_terms(x)  # terms in x alone: computed once per distinct frequency

        def by_x(function, offset):
            return function(offset + xs)[at]

        possible = self._dropout_possible(x)
        denominator = np.where(possible, b + x + k - 1, 1.0)
        u1 = -(r + x) * np.log(alpha + T)
        u2 = np.where(possible, np.log(a) - np.log(denominator) - (r + x) * np.log(alpha + tx), -np.inf)
        log_bracket = np.logaddexp(u1, u2)
        second = np.exp(u2 - log_bracket)  # share of the "dropped out after t_x" term
        rows = (by_x(gammaln, r) - gammaln(r) + r * np.log(alpha)
                + by_x(gammaln, b + k) + gammaln(a + b) - gammaln(b) - by_x(gammaln, a + b + k) + log_bracket)
        d_r = by_x(digamma, r) - digamma(r) + np.log(alpha) - (1 - second) * np.log(alpha + T) - second * np.log(alpha + tx)
        d_alpha = r / alpha - (r + x) * ((1 - second) / (alpha + T) + second / (alpha + tx))
        common = digamma(a + b) - by_x(digamma, a + b + k)
        d_a = common + second / a
        d_b = by_x(digamma, b + k) - digamma(b) + common - second / denominator
        gradient = np.array([w @ d_r, w @ d_alpha, w @ d_a, w @ d_b])
        return float(w @ rows), gradient

    def _alive(self, p, x, tx, T):
        r, alpha, a, b = p
        possible = self._dropout_possible(x)
        denominator = np.where(possible, b + x + self.shift - 1, 1.0)
        log_odds = np.log(a) - np.log(denominator) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return np.where(possible, expit(-log_odds), 1.0)

    def _expected(self, p, t, x, tx, T):
        """E[Y(t) | x, t_x, T]: equation (10) of the paper (Batislam et al.'s analogue for MBG/NBD).

        Written as c/(a-1) · [1 - (1-z)^(a-1) · 2F1(a+b+shift-1-r, a-1; c; z)] · P(alive) with
        c = a+b+x+shift-1 and z = t/(α+T+t): the paper's ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x+shift; c; z)
        through Euler's transformation, which keeps heavy buyers' terms finite (no huge power
        times a huge hypergeometric value). At a = 1, and for the BG/NBD at a + b = 1 with x = 0,
        the formula is 0/0: there it is the mean of the values just either side of a, the limit.
        """
        value = self._expected_at(p, t, x, tx, T)
        r, alpha, a, b = p
        broken = ~np.isfinite(value) | (abs(a - 1) < 1e-6)
        if np.any(broken):
            step = 1e-5 * max(a, 1.0)
            x_b, tx_b, T_b = (np.broadcast_to(v, value.shape)[broken] for v in (x, tx, T))
            sides = [self._expected_at(np.array([r, alpha, a + d, b]), t, x_b, tx_b, T_b) for d in (step, -step)]
            value = np.array(value, dtype=float)
            value[broken] = (sides[0] + sides[1]) / 2
        return value

    def _expected_at(self, p, t, x, tx, T):
        r, alpha, a, b = p
        k = self.shift
        # The bracket depends on x and T alone: computed once per distinct (x, T) pair.
        pair, xs, Ts = distinct_pairs(x, T)
        z = t / (alpha + Ts + t)
        with np.errstate(all="ignore"):
            bracket = 1 - np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b + k - 1 - r, a - 1, a + b + xs + k - 1, z)
            return (a + b + x + k - 1) / (a - 1) * bracket[pair] * self._alive(p, x, tx, T)

    def _expected_new(self, p, t):
        """E[X(t)] from the first purchase: the conditional expectation at x = t_x = T = 0."""
        zero = np.zeros(1)
        return self._expected(p, t, zero, zero, zero)[0]

    def _alive_later(self, p, t, x, tx, T):
        """P(alive at T + t): alive now, and p·λ·t of the dropout hazard not yet struck.

        Given alive at T, λ ~ Gamma(r+x, α+T) and p ~ Beta(a, b+x+shift) independently, and
        P(no dropout in t | λ, p) = e^{-pλt}; its expectation is 2F1(r+x, a; a+b+x+shift; -u)
        with u = t/(α+T), taken through Pfaff's transformation to an argument in [0, 1).
        """
        r, alpha, a, b = p
        pair, xs, Ts = distinct_pairs(x, T)  # the survival term depends on x and T alone
        c = a + b + xs + self.shift
        u = t / (alpha + Ts)
        survive = (1 + u) ** (-a) * hyp2f1(c - r - xs, a, c, u / (1 + u))
        return self._alive(p, x, tx, T) * survive[pair]
