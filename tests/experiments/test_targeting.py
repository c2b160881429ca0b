"""Offers where they pay (retainly.experiments.targeting): the offer's rate, the customers' features
on a hand-made store (both engines), and the two-model learner on synthetic units whose truth is known.

The features' expected values are worked out by hand below from the orders written, as of
2024-06-15 (2024 is a leap year: the 365 days before start on 2023-06-16).
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pytest

from retainly.experiments.targeting import FEATURES, HIT_AND_RUN, OfferModel, features, from_units, offer_rate
from retainly.settings import ExperimentSettings

AS_OF = date(2024, 6, 15)


@pytest.mark.parametrize("offer, rate", [
    ("10 % off the next order", 0.10), ("15% off", 0.15), ("Save 12.5 % today", 0.125), ("7,5 % off", 0.075),
    ("free shipping on the second order", 0.2), ("a birthday gift with the next order", 0.2), (None, 0.2),
    ("100 % off", 0.2), ("0 % off", 0.2),  # nothing, or everything, given away is not a rate: the default
])
def test_offer_rate(offer, rate):
    assert offer_rate(offer, 0.2) == pytest.approx(rate)


def test_features_use_only_the_orders_before_the_day(workspace):
    orders = [  # customer, placed at, revenue, promo code
        (1, datetime(2024, 6, 14, 12), 100.0, "SAVE10"), (1, datetime(2024, 1, 10, 12), 50.0, None),
        (1, datetime(2023, 3, 1, 12), 30.0, ""),  # a blank code is no code
        (1, datetime(2024, 6, 15, 9), 999.0, "SAVE10"),  # on the day itself: not before it
        (2, datetime(2023, 6, 16, 0), 20.0, "X"),  # the first moment of the 365 days: inside
        (2, datetime(2023, 6, 15, 23, 59), 10.0, None),  # a minute earlier: outside
        (4, datetime(2024, 6, 15, 10), 40.0, None),  # only an order on the day: as if none
        (5, datetime(2024, 5, 1, 12), 70.0, None),  # not asked about
    ]
    for customer_id in range(1, 6):
        workspace.store.execute("INSERT INTO customers (customer_id, external_id) VALUES (?, ?)",
                                (customer_id, f"K{customer_id}"))
    for number, (customer_id, placed, revenue, code) in enumerate(orders):
        workspace.store.execute("INSERT INTO purchases (order_id, customer_id, placed_at, channel, promo_code, "
                                "revenue) VALUES (?, ?, ?, 'online', ?, ?)", (f"O{number}", customer_id, placed,
                                                                                code, revenue))
    found = features(workspace.store, [3, 1, 2, 1, 4], AS_OF)
    assert found.column_names == ["customer_id", *FEATURES]
    assert all(found.schema.field(name).type == pa.float64() for name in FEATURES)
    rows = {row.pop("customer_id"): row for row in found.to_pylist()}
    assert list(rows) == [1, 2, 3, 4]
    # Customer 1: 150 in the year before (100 + 50) in 2 orders, 3 ever; last order the day before;
    # first 2023-03-01, 366 + 106 = 472 days before; mean (100 + 50 + 30) / 3 = 60; one of three coded.
    assert rows[1] == pytest.approx({"revenue_365": 150.0, "orders_365": 2.0, "orders": 3.0, "days_since_last": 1.0,
                                     "days_since_first": 472.0, "mean_order_value": 60.0, "promo_share": 1 / 3})
    # Customer 2: 20 in the year (the order at its first moment), 2 ever; 365 and 366 days; mean 15; half coded.
    assert rows[2] == pytest.approx({"revenue_365": 20.0, "orders_365": 1.0, "orders": 2.0, "days_since_last": 365.0,
                                     "days_since_first": 366.0, "mean_order_value": 15.0, "promo_share": 0.5})
    nothing = {"revenue_365": 0.0, "orders_365": 0.0, "orders": 0.0, "days_since_last": None,
               "days_since_first": None, "mean_order_value": None, "promo_share": None}
    assert rows[3] == nothing and rows[4] == nothing
    assert features(workspace.store, [], AS_OF).num_rows == 0


# -- the learner on synthetic units ---------------------------------------------------------------
SETTINGS = ExperimentSettings(margin=0.4, contact_cost=0.01, min_per_arm=200)
RATE = 0.1


def synthetic_units(seed: int = 7) -> pa.Table:
    """Three groups, told apart by their history, 600 treated and 300 held out each. The truth at a
    10 % offer, margin 0.4 and contact cost 0.01 (gain = 0.4 (G1 - G0) - 0.1 G1 - 0.01):

    * ``offer``: buys (60.00 net of the discount) half the time when treated, 2 % of the time
      (66.67) when not: G1 = 33.33, G0 = 1.33, gain = +9.46: offer;
    * ``anyway``: buys 80 % of the time either way (45.00 with the discount, 50.00 without):
      G1 = G0 = 40, gain = -4.01: no offer (it pays the discount on what they spend anyway);
    * ``never``: never buys: gain = -0.01 (the contact): no offer."""
    rng = np.random.default_rng(seed)
    parts = []
    for group in ("offer", "anyway", "never"):
        for treated, n in ((True, 600), (False, 300)):
            u = rng.uniform(0, 1, n)
            history = {
                "offer": dict(revenue_365=20 + 60 * u, orders_365=1, orders=2, days_since_last=100 + 100 * u,
                              days_since_first=300 + 100 * u, mean_order_value=30 + 30 * u, promo_share=1.0),
                "anyway": dict(revenue_365=300 + 200 * u, orders_365=6, orders=10, days_since_last=10 + 30 * u,
                               days_since_first=700 + 200 * u, mean_order_value=50 + 20 * u, promo_share=0.0),
                "never": dict(revenue_365=0, orders_365=0, orders=1, days_since_last=500 + 200 * u,
                              days_since_first=500 + 200 * u, mean_order_value=5 + 10 * u, promo_share=0.0),
            }[group]
            chance, value = {("offer", True): (0.5, 60.0), ("offer", False): (0.02, 60 / 0.9),
                             ("anyway", True): (0.8, 45.0), ("anyway", False): (0.8, 50.0)}.get((group, treated),
                                                                                                 (0.0, 0.0))
            parts.append(pa.table({
                "customer_id": pa.array(np.arange(n) + 10_000 * len(parts), pa.int64()),
                "arm": ["treatment" if treated else "holdout"] * n, "group": [group] * n,
                **{name: np.broadcast_to(np.asarray(history[name], float), n) for name in FEATURES},
                "outcome": (rng.uniform(0, 1, n) < chance) * value}))
    return pa.concat_tables(parts)


def test_the_learner_offers_only_to_those_the_offer_moves():
    units = synthetic_units()
    model = from_units(units, "p", AS_OF, SETTINGS)
    assert model.fitted and (model.treated, model.held_out) == (1800, 900)
    assert model.text == ("two-model uplift learner (gradient boosting) on 1,800 treated and 900 held-out "
                          "enrolments ended by 2024-06-15")
    decided = model.decide(units, RATE)
    group = np.asarray(units["group"].to_pylist())
    offered = {name: decided.offered[group == name].mean() for name in ("offer", "anyway", "never")}
    assert offered["offer"] >= 0.95 and offered["anyway"] <= 0.02 and offered["never"] == 0.0, offered
    # The expected figures are near the truth, and the gain and cost follow from them by the rule.
    assert decided.expected_with[group == "offer"].mean() == pytest.approx(30.0, abs=3.0)
    assert decided.expected_without[group == "anyway"].mean() == pytest.approx(40.0, abs=3.0)
    gross = decided.expected_with / 0.9
    assert decided.expected_gain == pytest.approx(0.4 * (gross - decided.expected_without) - 0.1 * gross - 0.01)
    assert decided.expected_cost == pytest.approx(0.1 * gross + 0.01)
    assert list(decided.customer_id) == units["customer_id"].to_pylist()
    withheld = decided.withheld[~decided.offered]
    assert all(why.startswith("not expected to pay (expected gain -") for why in withheld)


def test_hit_and_run_buyers_never_get_it_and_the_rule_by_hand():
    class Fixed:  # μ1, μ0 fixed by hand: 36 and 10 for everyone
        def __init__(self, value):
            self.value = value

        def predict(self, x):
            return np.full(len(x), self.value)

    model = OfferModel("p", AS_OF, 500, 500, 200, 0.4, 0.01, Fixed(36.0), Fixed(10.0))
    found = pa.table({"customer_id": pa.array([1, 2], pa.int64()), **{name: [1.0, 1.0] for name in FEATURES}})
    decided = model.decide(found, 0.1, hit_and_run=np.array([False, True]))
    # G1 = 36 / 0.9 = 40; gain = 0.4 (40 - 10) - 0.1 x 40 - 0.01 = 7.99; cost = 4 + 0.01.
    assert decided.expected_gain == pytest.approx([7.99, 7.99]) and decided.expected_cost == pytest.approx([4.01] * 2)
    assert decided.offered.tolist() == [True, False] and decided.withheld.tolist() == [None, HIT_AND_RUN]
    # At 40 % off the discount costs more than the offer brings: G1 = 36 / 0.6 = 60, 0.4 x 50 - 24 - 0.01 = -4.01.
    assert model.decide(found, 0.4).withheld.tolist() == ["not expected to pay (expected gain -4.01)"] * 2


def test_too_few_units_keep_the_default_and_say_so():
    units = synthetic_units().slice(0, 1200)  # offer group (600 treated, 300 held out) and 300 treated of anyway
    model = from_units(units, "p", AS_OF, SETTINGS.__class__(min_per_arm=400))
    assert not model.fitted
    assert model.text == "default: 900 treated and 300 held-out enrolments have ended; targeting needs 400 in each"
    decided = model.decide(units.slice(0, 3), RATE, hit_and_run=np.array([False, True, False]))
    assert decided.offered.tolist() == [True, False, True]
    assert np.isnan(decided.expected_gain).all() and np.isnan(decided.expected_with).all()


def test_an_arm_in_which_nobody_bought_is_expected_to_spend_nothing():
    units = synthetic_units()
    spent = np.asarray(units["arm"].to_pylist()) == "treatment"
    units = units.set_column(units.column_names.index("outcome"), "outcome",
                             pa.array(np.where(spent, units["outcome"].to_numpy(), 0.0)))
    decided = from_units(units, "p", AS_OF, SETTINGS).decide(units, RATE)
    assert (decided.expected_without == 0).all() and decided.offered.any()
