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


def test_window_histories_match_the_engines_summary_and_holdout(workspace):
    # The calibration reads every window as distinct (history, ordered) rows with weights, from one pass
    # over one set of purchase days; the per-customer model_summary and holdout_activity at each cut,
    # counted per distinct row here, are the independent implementation to match.
    from retainly.features.model_summary import customer_days, holdout_activity, model_summary
    from retainly.scores.calibration import windows_histories
    from tests.features.model_shop import load_model_shop

    shop = load_model_shop(workspace)
    cuts = [date(2024, 1, 31), date(2024, 3, 31), date(2024, 5, 15)]
    found_by_cut = windows_histories(shop.store, customer_days(shop.store, date(2024, 6, 30)), cuts, 45, 7.0)
    assert len(found_by_cut) == len(cuts)
    for cut, found in zip(cuts, found_by_cut):
        expected = model_summary(shop.store, cut, "week")
        activity = holdout_activity(shop.store, cut, cut + (date(2024, 1, 2) - date(2024, 1, 1)) * 45)
        buyers = set(activity.loc[activity["purchases"] > 0, "customer_id"])
        expected["bought"] = [float(c in buyers) for c in expected["customer_id"]]
        counted = expected.groupby(["frequency", "recency", "T", "bought"]).size()
        assert len(found) == len(counted) and found["weight"].sum() == len(expected), cut
        assert found["bought"].sum() > 0 and (found["bought"] == 0).any(), cut  # both outcomes are there
        for row in found.itertuples():
            assert row.weight == counted[(row.frequency, row.recency, row.T, row.bought)], (cut, row)


def test_reliability_splits_tied_predictions_in_proportion_and_takes_weights():
    # Three customers at 0.5 (one bought) and one at 0.9 (bought), in two groups of two: the first takes
    # two of the tied three, who bought 1/3 of the time whatever their order; the second takes the
    # third (1/3 a buyer) and the 0.9 buyer: observed (1/3 + 1) / 2 = 2/3, predicted (0.5 + 0.9) / 2.
    want = [
        {"group": 1, "customers": 2, "low": 0.5, "high": 0.5, "predicted": pytest.approx(0.5),
         "observed": pytest.approx(1 / 3)},
        {"group": 2, "customers": 2, "low": 0.5, "high": 0.9, "predicted": pytest.approx(0.7),
         "observed": pytest.approx(2 / 3)},
    ]
    assert reliability([0.5, 0.5, 0.5, 0.9], [1, 0, 0, 1], groups=2) == want
    assert reliability([0.5, 0.5, 0.5, 0.9], [0, 0, 1, 1], groups=2) == want
    assert reliability([0.9, 0.5, 0.5], [1, 1, 0], groups=2, weights=[1, 1, 2]) == want
