"""The summed expected-purchases curve (backtest tracking) equals the per-horizon sums it replaces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retainly.models import PURCHASE_MODELS

SUMMARY = pd.DataFrame({  # weeks; a one-time buyer, steady buyers, a lapsed heavy buyer, a duplicate
    "frequency": [0, 2, 5, 12, 5, 0, 1],
    "recency": [0.0, 10.0, 30.0, 20.0, 30.0, 0.0, 3.0],
    "T": [40.0, 12.0, 35.0, 60.0, 35.0, 2.0, 50.0],
})
PARAMS = {"bgnbd": {"r": 0.8, "alpha": 6.0, "a": 0.7, "b": 2.5}, "mbgnbd": {"r": 0.8, "alpha": 6.0, "a": 0.7, "b": 2.5},
          "paretonbd": {"r": 0.6, "alpha": 9.0, "s": 0.8, "beta": 20.0}}


@pytest.mark.parametrize("name", list(PURCHASE_MODELS))
def test_curve_equals_the_sum_of_each_horizons_expectation(name):
    model = PURCHASE_MODELS[name].from_dict({"params": PARAMS[name]})
    horizons = [0.5, 4.0, 13.0, 52.0]
    expected = [float(np.sum(model.expected_purchases(t, SUMMARY))) for t in horizons]
    assert model.expected_purchases_curve(horizons, SUMMARY) == pytest.approx(expected, rel=1e-12)
