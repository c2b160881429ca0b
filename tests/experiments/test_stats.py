"""The holdout statistics against independent implementations and published figures.

Welch's interval against SciPy's own Welch test (``ttest_ind(equal_var=False)`` and its
``confidence_interval``); the bootstrap against Welch on large normal samples (the two agree
to a few per cent there); the sample size against ../shared/ACTIONS.md ("+1 on a mean of 5 with
sd 25 at 50/50 needs about 9,800 per arm"); the chi-square of a split worked out by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from retainly.experiments.stats import (bootstrap, cuped, customers_needed, detectable_effect, sample_ratio,
                                        welch)


def arms(seed: int = 7, n1: int = 4000, n0: int = 500):
    rng = np.random.default_rng(seed)
    return rng.gamma(0.3, 20.0, n1) + 1.0, rng.gamma(0.3, 20.0, n0)


def test_welch_equals_scipys_welch_test():
    treated, held = arms()
    ours = welch(treated, held)
    theirs = stats.ttest_ind(treated, held, equal_var=False)
    interval = theirs.confidence_interval(0.95)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)
    assert (ours.low, ours.high) == (pytest.approx(interval.low, rel=1e-9), pytest.approx(interval.high, rel=1e-9))
    assert ours.difference == pytest.approx(treated.mean() - held.mean())


def test_the_bootstrap_agrees_with_welch_on_large_samples_and_is_reproducible():
    treated, held = arms(n1=20000, n0=20000)
    boot, exact = bootstrap(treated, held), welch(treated, held)
    assert boot.low == pytest.approx(exact.low, abs=0.05 * (exact.high - exact.low))
    assert boot.high == pytest.approx(exact.high, abs=0.05 * (exact.high - exact.low))
    assert bootstrap(treated, held) == boot  # seeded: the same data, the same interval


def test_cuped_keeps_the_difference_and_narrows_the_interval():
    """Outcome = covariate + noise + 1 for the treated: the covariate explains most of the variance."""
    rng = np.random.default_rng(3)
    covariate = rng.gamma(1.0, 50.0, 6000)
    treated_mask = rng.random(6000) < 0.5
    outcome = covariate + rng.normal(0, 10, 6000) + treated_mask * 1.0
    adjusted, theta, removed = cuped(outcome, covariate)
    plain, narrowed = welch(outcome[treated_mask], outcome[~treated_mask]), \
        welch(adjusted[treated_mask], adjusted[~treated_mask])
    assert theta == pytest.approx(1.0, abs=0.02) and removed > 0.9
    assert narrowed.high - narrowed.low < 0.4 * (plain.high - plain.low)
    assert narrowed.low < 1.0 < narrowed.high


def test_a_split_far_from_its_share_is_caught():
    # 880 treated and 120 held out against 10 %: expected 900 and 100, chi2 = 400/900 + 400/100 = 4.444...
    assert sample_ratio(880, 120, 0.1) == pytest.approx(stats.chi2.sf(400 / 900 + 400 / 100, 1), rel=1e-12)
    assert sample_ratio(900, 100, 0.1) == pytest.approx(1.0)


def test_sizes_as_published_and_by_hand():
    # ACTIONS.md: about 9,800 customers per arm for +1 on sd 25 at 50/50 (z 1.96 + 0.8416, squared x 2 x 625).
    assert customers_needed(1.0, 25.0, 0.5) / 2 == pytest.approx(9811, abs=1)
    # And back: with 9,811 per arm, the detectable effect is 1.
    assert detectable_effect(25.0, 9811, 9811) == pytest.approx(1.0, abs=1e-3)
    assert detectable_effect(25.0, 0, 10) == math.inf
