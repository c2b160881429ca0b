"""The statistics of a holdout comparison: pure functions over two arrays of outcomes.

Everyone assigned counts (intention to treat): ``treated`` and ``held`` are the outcomes of all
the customers assigned to each arm, whether a message reached them or not.

* ``welch``: the difference in means with a Welch t interval (unequal variances);
* ``bootstrap``: a percentile interval of the same difference from resampling each arm (seeded:
  the same data give the same interval);
* ``cuped``: outcomes less theta times their pre-period covariate's deviation from its mean,
  theta = cov(outcome, covariate) / var(covariate) over both arms. The covariate is measured
  before assignment, so the adjustment leaves the difference unbiased and narrows its interval
  by the share of variance the covariate explains (Deng et al., 2013);
* ``sample_ratio``: whether the split matches its target share (a chi-square test);
* ``detectable_effect`` and ``customers_needed``: the smallest difference a test of this size
  finds with the given power, and the customers per arm a given difference needs;
* ``skewed_difference`` and ``customers_for_symmetry``: whether the difference in means is still
  too skewed for a t interval, and how many customers it needs not to be. Revenue per customer
  is very skewed (most spend nothing in a window, a few spend a lot). The difference of two arms'
  means has skewness G1 (1/n0² − 1/n1²) / (1/n0 + 1/n1)^1.5 for an outcome of skewness G1: zero
  at an even split, large when one arm is small. Cochran's rule for one mean, n > 25 G1²
  (Cochran 1977), keeps the mean's skewness G1/√n under 0.2; the same bound is asked of the
  difference. Without it a 10 % holdout of a few hundred customers gave intervals that missed
  the truth in up to a quarter of repeated experiments (docs/simulation.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05
POWER = 0.8
BOOTSTRAP_SAMPLES = 2000


@dataclass(frozen=True)
class Difference:
    """Mean of the treated less mean of the held out, with a two-sided interval."""

    treated_mean: float
    held_mean: float
    difference: float
    low: float
    high: float
    p_value: float | None = None


def welch(treated: np.ndarray, held: np.ndarray, alpha: float = ALPHA) -> Difference:
    """Welch's t interval for the difference in means (each arm needs two outcomes or more)."""
    treated, held = np.asarray(treated, float), np.asarray(held, float)
    n1, n0 = len(treated), len(held)
    if n1 < 2 or n0 < 2:
        raise ValueError("each arm needs at least two outcomes")
    m1, m0 = float(treated.mean()), float(held.mean())
    v1, v0 = treated.var(ddof=1) / n1, held.var(ddof=1) / n0
    difference = m1 - m0
    se = math.sqrt(v1 + v0)
    if se == 0:
        return Difference(m1, m0, difference, difference, difference, 0.0 if difference else 1.0)
    df = (v1 + v0) ** 2 / (v1 ** 2 / (n1 - 1) + v0 ** 2 / (n0 - 1))
    half = stats.t.ppf(1 - alpha / 2, df) * se
    p = 2 * stats.t.sf(abs(difference) / se, df)
    return Difference(m1, m0, difference, difference - half, difference + half, float(p))


def bootstrap(treated: np.ndarray, held: np.ndarray, alpha: float = ALPHA, samples: int = BOOTSTRAP_SAMPLES,
              seed: int = 20240615) -> Difference:
    """A percentile bootstrap interval for the difference in means, each arm resampled on its own."""
    treated, held = np.asarray(treated, float), np.asarray(held, float)
    if not len(treated) or not len(held):
        raise ValueError("each arm needs at least one outcome")
    rng = np.random.default_rng(seed)
    spread = _resampled_means(treated, samples, rng) - _resampled_means(held, samples, rng)
    low, high = np.quantile(spread, [alpha / 2, 1 - alpha / 2])
    return Difference(float(treated.mean()), float(held.mean()), float(treated.mean() - held.mean()), float(low),
                      float(high))


def _resampled_means(values: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    """The means of ``samples`` resamples (with replacement) of ``values``, drawn a block at a time
    so that a large arm never holds every resample in memory at once."""
    block = max(1, 20_000_000 // len(values))
    means = [values[rng.integers(0, len(values), size=(min(block, samples - done), len(values)))].mean(axis=1)
             for done in range(0, samples, block)]
    return np.concatenate(means)


def cuped(outcomes: np.ndarray, covariate: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(adjusted outcomes, theta, the share of variance removed) over both arms together."""
    outcomes, covariate = np.asarray(outcomes, float), np.asarray(covariate, float)
    spread = covariate.var(ddof=1) if len(covariate) > 1 else 0.0
    if spread == 0:
        return outcomes.copy(), 0.0, 0.0
    theta = float(np.cov(outcomes, covariate, ddof=1)[0, 1] / spread)
    adjusted = outcomes - theta * (covariate - covariate.mean())
    before = outcomes.var(ddof=1)
    removed = 0.0 if before == 0 else max(0.0, 1 - adjusted.var(ddof=1) / before)
    return adjusted, theta, float(removed)


def sample_ratio(treated: int, held: int, held_share: float) -> float:
    """The p-value of the split against its target share (chi-square, one degree of freedom);
    a tiny one (under 0.001) says the assignment or the counting is broken."""
    total = treated + held
    if total == 0 or not 0 < held_share < 1:
        return 1.0
    expected = np.array([total * (1 - held_share), total * held_share])
    return float(stats.chisquare([treated, held], expected).pvalue)


def detectable_effect(sd: float, treated: int, held: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest difference in means a two-sided test at ``alpha`` finds with ``power``,
    with outcomes of standard deviation ``sd`` and these arm sizes (infinite for an empty arm)."""
    if treated < 1 or held < 1:
        return math.inf
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * sd * math.sqrt(1 / treated + 1 / held))


def customers_needed(effect: float, sd: float, held_share: float, alpha: float = ALPHA,
                     power: float = POWER) -> int:
    """Customers to enrol in all (both arms, split by ``held_share``) for ``effect`` to be found
    with ``power``: ACTIONS.md's +1 on a mean of 5 with sd 25 at 50/50 needs about 9,800 per arm."""
    if effect <= 0:
        return 0 if sd == 0 else 2**62
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    # n_total * held_share * (1 - held_share) = z^2 sd^2 / effect^2
    return int(math.ceil((z * sd / effect) ** 2 / (held_share * (1 - held_share))))


MAX_SKEWNESS = 0.2  # Cochran's rule, 25 G1^2 customers for one mean, as a bound on the mean's skewness


def _split_factor(held_share: float) -> float:
    """c(h) in skew(D) = G1 c(h) / sqrt(n): |h^-2 - (1-h)^-2| / (h^-1 + (1-h)^-1)^1.5."""
    h = held_share
    return abs(h ** -2 - (1 - h) ** -2) / (1 / h + 1 / (1 - h)) ** 1.5


def skewed_difference(outcomes: np.ndarray, treated: int, held: int) -> bool:
    """Whether the difference in means of arms of these sizes is too skewed for a t interval, with
    ``outcomes`` (both arms together) giving the skewness G1."""
    outcomes = np.asarray(outcomes, float)
    if treated < 1 or held < 1 or len(outcomes) < 3 or outcomes.std() == 0:
        return False
    g1 = float(stats.skew(outcomes))
    skew = g1 * (held ** -2 - treated ** -2) / (1 / held + 1 / treated) ** 1.5
    return abs(skew) > MAX_SKEWNESS


def customers_for_symmetry(outcomes: np.ndarray, held_share: float) -> int:
    """Customers in all, split by ``held_share``, for the difference in means to pass
    ``skewed_difference``: (G1 c(h) / 0.2)^2 (0 at an even split)."""
    outcomes = np.asarray(outcomes, float)
    if not 0 < held_share < 1 or len(outcomes) < 3 or outcomes.std() == 0:
        return 0
    return int(math.ceil((float(stats.skew(outcomes)) * _split_factor(held_share) / MAX_SKEWNESS) ** 2))
