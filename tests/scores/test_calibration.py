"""The calibration map, the reliability table and the Brier score, against hand calculations."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from retainly.scores.calibration import Calibration, brier, fit_calibration, reliability

CUT = date(2024, 1, 1)


def test_isotonic_map_is_the_observed_share_per_raw_value():
    # Raw 0.1 twice (nobody ordered), 0.2 twice (one of two), 0.8 twice (both): already
    # monotone, so the map is the share per value: 0 -> 0.5 -> 1.
    calibration = fit_calibration([0.1, 0.1, 0.2, 0.2, 0.8, 0.8], [0, 0, 0, 1, 1, 1], 90, CUT)
    assert calibration.apply(np.array([0.1, 0.2, 0.8])) == pytest.approx([0.0, 0.5, 1.0])
    # Linear between breakpoints: halfway from 0.1 to 0.2 is halfway from 0 to 0.5.
    assert calibration.apply(np.array([0.15])) == pytest.approx([0.25])
    # Flat beyond the ends.
    assert calibration.apply(np.array([0.0, 1.0])) == pytest.approx([0.0, 1.0])
    assert (calibration.customers, calibration.buyers, calibration.window_days) == (6, 3, 90)


def test_isotonic_map_pools_values_that_break_the_order():
    # Raw 0.1 ordered, 0.2 and 0.3 did not: a rising map cannot follow, so the three pool to 1/3
    # (pool adjacent violators by hand: (1 + 0 + 0) / 3).
    calibration = fit_calibration([0.1, 0.2, 0.3], [1, 0, 0], 30, CUT)
    assert calibration.apply(np.array([0.1, 0.2, 0.3])) == pytest.approx([1 / 3] * 3)


def test_calibration_round_trips_through_its_record():
    calibration = fit_calibration([0.1, 0.4, 0.9], [0, 1, 1], 90, CUT)
    again = Calibration.from_dict(calibration.to_dict())
    assert again == calibration
    assert again.apply(np.array([0.25])) == pytest.approx(calibration.apply(np.array([0.25])))


def test_brier_by_hand():
    # ((0.2 - 0)^2 + (0.7 - 1)^2) / 2 = (0.04 + 0.09) / 2
    assert brier([0.2, 0.7], [0, 1]) == pytest.approx(0.065)


def test_reliability_groups_customers_by_rank_of_the_prediction():
    predicted = [0.9, 0.1, 0.2, 0.8]
    bought = [1, 0, 1, 1]
    rows = reliability(predicted, bought, groups=2)
    # Ranked: 0.1 (no), 0.2 (yes) | 0.8 (yes), 0.9 (yes)
    assert rows == [
        {"group": 1, "customers": 2, "low": 0.1, "high": 0.2, "predicted": pytest.approx(0.15), "observed": 0.5},
        {"group": 2, "customers": 2, "low": 0.8, "high": 0.9, "predicted": pytest.approx(0.85), "observed": 1.0},
    ]


@pytest.mark.parametrize("cut", [date(2024, 1, 31), date(2024, 3, 31), date(2024, 5, 15)])
def test_window_summaries_match_the_engines_summary_and_holdout(workspace, cut):
    # The calibration builds each window's summary from one read of the purchase days, in pandas;
    # the engine's model_summary and holdout_activity are the independent implementation to match.
    import pandas as pd

    from retainly.features.model_summary import holdout_activity, model_summary, purchase_days
    from retainly.scores.calibration import window_summary
    from tests.features.model_shop import load_model_shop

    shop = load_model_shop(workspace)
    days = purchase_days(shop.store, date(2024, 6, 30)).select("customer_id", "day").to_pandas()
    days["day"] = pd.to_datetime(days["day"])
    summary, bought = window_summary(days, cut, 45, 7.0)
    expected = model_summary(shop.store, cut, "week")
    assert summary["customer_id"].tolist() == expected["customer_id"].tolist()
    for column in ("frequency", "recency", "T"):
        assert summary[column].to_numpy(float) == pytest.approx(expected[column].to_numpy(float)), column
    activity = holdout_activity(shop.store, cut, cut + (date(2024, 1, 2) - date(2024, 1, 1)) * 45)
    buyers = set(activity.loc[activity["purchases"] > 0, "customer_id"])
    assert bought.tolist() == [float(c in buyers) for c in expected["customer_id"]]
