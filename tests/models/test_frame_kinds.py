"""The fitter contract accepts pandas, Arrow and Polars frames alike (DESIGN.md, issue 4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from retainly.models import BetaGeoModel, GammaGammaModel

# A small summary whose every row is a possible history (x = 0 implies t_x = 0, t_x <= T).
SUMMARY = pd.DataFrame({
    "frequency": [0, 1, 2, 0, 5, 3, 1, 0, 7, 2, 4, 0],
    "recency": [0.0, 3.5, 20.0, 0.0, 30.1, 12.0, 1.0, 0.0, 35.0, 8.0, 25.0, 0.0],
    "T": [10.0, 20.0, 30.0, 40.0, 38.0, 39.0, 25.0, 5.0, 39.0, 30.0, 33.0, 12.0],
    "monetary_value": [0.0, 20.0, 35.5, 0.0, 18.0, 60.0, 12.5, 0.0, 22.0, 41.0, 30.0, 0.0],
})


@pytest.mark.parametrize("convert", [pa.Table.from_pandas, pl.from_pandas], ids=["arrow", "polars"])
def test_other_frames_give_the_pandas_results(convert):
    """Same data in another frame library: identical parameters and predictions (the pandas fit is the oracle)."""
    expected = BetaGeoModel().fit(SUMMARY)
    other = BetaGeoModel().fit(convert(SUMMARY))
    assert other.params_ == pytest.approx(expected.params_, rel=1e-12)
    np.testing.assert_allclose(other.probability_alive(convert(SUMMARY)), expected.probability_alive(SUMMARY))
    spend = GammaGammaModel().fit(convert(SUMMARY))
    assert spend.params_ == pytest.approx(GammaGammaModel().fit(SUMMARY).params_, rel=1e-12)
