"""The KPI formulas against the seed articles' worked examples (numbers quoted by the issue)."""

import pytest

from retainly.features import formulas


def test_cac_worked_example():
    # Seed: 125,000 spent on marketing brought 250 customers -> CAC 500.
    assert formulas.cac(125_000, 250) == 500


def test_ltv_worked_example():
    # Seed: a customer brings 399 a month and stays 12 months -> LTV 4,788.
    assert formulas.simple_ltv(399, 12) == 4_788


def test_aov_worked_example():
    # Seed: revenue 1,675,000 over 250 orders -> AOV 6,700.
    assert formulas.aov(1_675_000, 250) == 6_700


def test_crr_worked_example():
    # Seed: 122,000 customers at the start, 120,700 at the end, 1,200 of them new:
    # (120,700 - 1,200) / 122,000 = 97.95 % (the article rounds down to 97 %).
    assert formulas.crr(120_700, 1_200, 122_000) == pytest.approx(0.97951, abs=1e-5)


def test_undefined_ratios_are_none_not_zero():
    assert formulas.aov(100, 0) is None
    assert formulas.crr(10, 2, 0) is None
    assert formulas.expected_lifetime(0) is None
    assert formulas.simple_ltv(None, 3) is None
    assert formulas.churn_rate(1, 4) == 0.25
    assert formulas.expected_lifetime(0.25) == 4
