"""The models' per-customer summary on the hand-checked model shop, on DuckDB and PostgreSQL.

The shop is described in tests/features/model_shop.py; every expected number below is worked
out by hand in the comment beside it. 2024 is a leap year: Jan has 31 days, Feb 29.
"""

from datetime import date

import pytest

from retainly.features.model_summary import holdout_activity, holdout_by_day, model_summary
from tests.features.model_shop import AS_OF, HOLDOUT_END, customer_ids

COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value", "first_spend", "bought", "returned"]


@pytest.fixture
def shop(model_shop_store):
    return model_shop_store  # the model shop alone, in a fresh store of its own on each engine (tests/conftest.py)


def _by_customer(ws, frame) -> dict[str, dict]:
    names = {number: name for name, number in customer_ids(ws).items()}
    return {names[row["customer_id"]]: {k: v for k, v in row.items() if k != "customer_id"}
            for row in frame.to_dict("records")}


def test_summary_in_weeks(shop):
    frame = model_summary(shop.store, AS_OF, "week")
    assert list(frame.columns) == COLUMNS
    assert str(frame["customer_id"].dtype) == "int64" and str(frame["frequency"].dtype) == "int64"
    rows = _by_customer(shop, frame)
    # U first bought on Apr 10 and V only cancelled by AS_OF; the guest order has no customer.
    assert sorted(rows) == ["P", "Q", "R", "S"]
    # P: Jan 7 (two orders, 100 + 50: one purchase day), Jan 21, Feb 4 -> 3 purchase days, frequency 2.
    # recency Jan 7 -> Feb 4 = 28 days = 4 weeks; T Jan 7 -> Mar 31 = 24 + 29 + 31 = 84 days = 12 weeks.
    # Repeat days, gross: Jan 21 80, Feb 4 120 -> monetary (80 + 120) / 2 = 100. First day: 100 + 50 = 150.
    # Bought 150 + 80 + 120 = 350; returned by AS_OF: 20 on Jan 25 (Feb 4's 40 comes back on Apr 5).
    assert rows["P"] == pytest.approx({"frequency": 2, "recency": 4.0, "T": 12.0, "monetary_value": 100.0,
                                       "first_spend": 150.0, "bought": 350.0, "returned": 20.0})
    # Q: Jan 14 only (Mar 20's cancelled order is no purchase); T = 17 + 29 + 31 = 77 days = 11 weeks.
    # No repeat day -> monetary 0; the first day 200 (gross), 50 of it returned on Jan 20.
    assert rows["Q"] == pytest.approx({"frequency": 0, "recency": 0.0, "T": 11.0, "monetary_value": 0.0,
                                       "first_spend": 200.0, "bought": 200.0, "returned": 50.0})
    # R: first purchase on AS_OF itself (23:00, still that day) -> T = 0; Apr 1 00:30 is after AS_OF.
    assert rows["R"] == pytest.approx({"frequency": 0, "recency": 0.0, "T": 0.0, "monetary_value": 0.0,
                                       "first_spend": 70.0, "bought": 70.0, "returned": 0.0})
    # S: Feb 1, Feb 11, Mar 31 -> frequency 2; recency = T = 28 + 31 = 59 days = 59/7 weeks.
    # Repeat days 60 and 30 -> 45; the refund of 10 tied to no order (Feb 20) is S's by its customer.
    assert rows["S"] == pytest.approx({"frequency": 2, "recency": 59 / 7, "T": 59 / 7, "monetary_value": 45.0,
                                       "first_spend": 40.0, "bought": 130.0, "returned": 10.0})


def test_summary_in_days(shop):
    rows = _by_customer(shop, model_summary(shop.store, AS_OF, "day"))
    # The same spans as above, counted in days.
    assert {name: (row["frequency"], row["recency"], row["T"]) for name, row in rows.items()} == {
        "P": (2, 28.0, 84.0), "Q": (0, 0.0, 77.0), "R": (0, 0.0, 0.0), "S": (2, 59.0, 59.0)}
    # Money does not depend on the unit.
    assert {name: row["monetary_value"] for name, row in rows.items()} == {"P": 100.0, "Q": 0.0, "R": 0.0, "S": 45.0}


def test_later_as_of_sees_later_orders_and_returns(shop):
    rows = _by_customer(shop, model_summary(shop.store, date(2024, 4, 30), "day"))
    assert sorted(rows) == ["P", "Q", "R", "S", "U"]  # U bought on Apr 10 and 14 now; V still not (May 1)
    # P: Jan 7, Jan 21, Feb 4, Apr 14 (90 + 10, one day) -> frequency 3; recency Jan 7 -> Apr 14 =
    # 24 + 29 + 31 + 14 = 98 days; T to Apr 30 = 114 days. Repeat days 80, 120, 100 -> monetary 100;
    # bought 350 + 100 = 450; Feb 4's return of 40 (Apr 5) now counts: returned 20 + 40 = 60.
    assert rows["P"] == pytest.approx({"frequency": 3, "recency": 98.0, "T": 114.0, "monetary_value": 100.0,
                                       "first_spend": 150.0, "bought": 450.0, "returned": 60.0})
    # R: Mar 31 and Apr 1 are two purchase days, one day apart (30 minutes in time); T 30 days.
    assert rows["R"] == pytest.approx({"frequency": 1, "recency": 1.0, "T": 30.0, "monetary_value": 30.0,
                                       "first_spend": 70.0, "bought": 100.0, "returned": 0.0})
    # U: Apr 10 25, Apr 14 45 -> recency 4 days, T 20 days.
    assert rows["U"] == pytest.approx({"frequency": 1, "recency": 4.0, "T": 20.0, "monetary_value": 45.0,
                                       "first_spend": 25.0, "bought": 70.0, "returned": 0.0})
    # Q's Apr 20 order is cancelled: nothing changes but T (77 + 30 = 107 days).
    assert rows["Q"]["frequency"] == 0 and rows["Q"]["T"] == 107.0


def test_before_any_purchase_the_summary_is_empty(shop):
    frame = model_summary(shop.store, date(2024, 1, 6), "week")
    assert frame.empty and list(frame.columns) == COLUMNS


def test_holdout_activity(shop):
    frame = holdout_activity(shop.store, AS_OF, HOLDOUT_END)
    assert list(frame.columns) == ["customer_id", "purchases", "spend"]
    rows = _by_customer(shop, frame)
    # Only customers who bought by AS_OF and bought or returned in (Mar 31, Jun 30]; Q's Apr 20 order
    # is cancelled, U and V first bought after AS_OF, so none of them has a row.
    assert rows == {
        # Apr 14 (90 + 10, one day) and May 5 60; Jul 1 is after the holdout. Returned in the holdout:
        # 40 on Apr 5 (of Feb 4's order: net spend counts returns when they happen) and 15 on May 10
        # -> 160 - 55 = 105.
        "P": {"purchases": 2, "spend": 105.0},
        # Apr 1 00:30 (the first minute after AS_OF counts) and Jun 30 23:59 (the holdout's last day
        # counts, whole); the return of 5 on Jul 5 is after the holdout end.
        "R": {"purchases": 2, "spend": 55.0},
        "S": {"purchases": 1, "spend": 80.0},  # Jun 1
    }


def test_holdout_by_day_sums_to_the_same_total(shop):
    frame = holdout_by_day(shop.store, AS_OF, HOLDOUT_END)
    assert list(frame.columns) == ["day", "purchases"]
    # One purchase day each; on Apr 14 U bought as well, but U was not a customer by AS_OF.
    assert list(zip(frame["day"], frame["purchases"])) == [
        (date(2024, 4, 1), 1), (date(2024, 4, 14), 1), (date(2024, 5, 5), 1), (date(2024, 6, 1), 1),
        (date(2024, 6, 30), 1)]
    assert frame["purchases"].sum() == holdout_activity(shop.store, AS_OF, HOLDOUT_END)["purchases"].sum() == 5


def test_holdout_from_a_later_cut_off(shop):
    # Cut-off Apr 30, holdout to Jul 31: U (Apr 10) is now a calibration customer but does not
    # come back; P buys on May 5 and Jul 1, S on Jun 1, R on Jun 30 -> 4 purchase days.
    frame = holdout_activity(shop.store, date(2024, 4, 30), date(2024, 7, 31))
    assert {name: row["purchases"] for name, row in _by_customer(shop, frame).items()} == {"P": 2, "R": 1, "S": 1}
    # P's spend: May 5 60 - 15 + Jul 1 40 = 85.
    assert _by_customer(shop, frame)["P"]["spend"] == 85.0
    # R's: Jun 30 25 less the 5 returned on Jul 5, within this holdout.
    assert _by_customer(shop, frame)["R"]["spend"] == 20.0
    assert holdout_by_day(shop.store, date(2024, 4, 30), date(2024, 7, 31))["purchases"].sum() == 4
