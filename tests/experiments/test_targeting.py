"""Offers where they pay (retainly.experiments.targeting): the offer's rate, the customers' features
on a hand-made store, the offer test's groups (both engines), and the uplift learner (an S-learner)
on synthetic offer-test units whose truth is known.

The features' expected values are worked out by hand below from the orders written, as of
2024-06-15 (2024 is a leap year: the 365 days before start on 2023-06-16).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from retainly.experiments.targeting import FEATURES, HIT_AND_RUN, OfferModel, features, from_units, offer_rate
from retainly.experiments.targeting import test_groups as offer_test_groups  # not a test: renamed for pytest
from retainly.playbooks.enrol import arm
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


# -- the offer test's groups ----------------------------------------------------------------------
def test_the_offer_test_takes_its_share_at_random_whatever_the_arm(workspace):
    ids = np.arange(1, 20_001, dtype=np.int64)
    group = offer_test_groups(workspace.store, "win-back-180", ids, 0.2)
    # Each group is Binomial(20,000, 0.1): mean 2,000, sd √(20,000 × 0.1 × 0.9) = 42.4; 170 is 4 sd.
    counts = np.bincount(group, minlength=3)
    assert counts.sum() == 20_000 and abs(counts[1] - 2_000) <= 170 and abs(counts[2] - 2_000) <= 170
    # The salted hash: SHA-256 of "offer-test␞playbook␞customer", its first 8 bytes over 2^64 (any engine).
    drawn = np.array([int.from_bytes(hashlib.sha256(f"offer-test\x1ewin-back-180\x1e{i}".encode()).digest()[:8],
                                     "big") / 2**64 for i in ids])
    assert group.tolist() == np.where(drawn < 0.1, 1, np.where(drawn < 0.2, 2, 0)).tolist()
    # Independent of the playbook's arm (half held out): χ² of arm × group, 2 degrees of freedom.
    held = np.array([arm("win-back-180", int(i), 0.5) == "holdout" for i in ids])
    table = [[int(np.sum(held & (group == g))), int(np.sum(~held & (group == g)))] for g in (0, 1, 2)]
    assert stats.chi2_contingency(table).pvalue > 0.001, table
    # Another playbook draws its own groups: they differ for 1 − (0.8² + 2 × 0.1²) = 34 % (sd 0.3 %).
    other = offer_test_groups(workspace.store, "win-back-365", ids, 0.2)
    assert (other != group).mean() == pytest.approx(0.34, abs=0.02)
    assert not offer_test_groups(workspace.store, "win-back-180", ids, 0.0).any()


# -- the learner on synthetic units ---------------------------------------------------------------
SETTINGS = ExperimentSettings(margin=0.4, min_per_arm=200)
RATE = 0.1


def synthetic_units(seed: int = 7) -> pa.Table:
    """Offer-test units of three groups, told apart by their history, 500 offered (arm ``treatment``)
    and 500 not (``holdout``) each, all of them messaged. The truth at a 10 % offer and margin 0.4,
    by hand (gain = 0.4 (G1 - G0) - 0.1 G1; no contact cost: the message goes either way):

    * ``offer``: buys (60.00 net of the discount) half the time when offered, 2 % of the time
      (66.67) when not: G1 = 33.33, G0 = 1.33, gain = 0.4 x 32 - 3.33 = +9.47: offer;
    * ``anyway``: buys 80 % of the time either way (45.00 with the discount, 50.00 without):
      G1 = G0 = 40, gain = -4.00: no offer (it pays the discount on what they spend anyway);
    * ``never``: never buys: G1 = G0 = 0, gain = 0: the offer neither costs nor brings anything."""
    rng = np.random.default_rng(seed)
    parts = []
    for group in ("offer", "anyway", "never"):
        for offered in (True, False):
            u = rng.uniform(0, 1, 500)
            history = {
                "offer": dict(revenue_365=20 + 60 * u, orders_365=1, orders=2, days_since_last=100 + 100 * u,
                              days_since_first=300 + 100 * u, mean_order_value=30 + 30 * u, promo_share=1.0),
                "anyway": dict(revenue_365=300 + 200 * u, orders_365=6, orders=10, days_since_last=10 + 30 * u,
                               days_since_first=700 + 200 * u, mean_order_value=50 + 20 * u, promo_share=0.0),
                "never": dict(revenue_365=0, orders_365=0, orders=1, days_since_last=500 + 200 * u,
                              days_since_first=500 + 200 * u, mean_order_value=5 + 10 * u, promo_share=0.0),
            }[group]
            chance, value = {("offer", True): (0.5, 60.0), ("offer", False): (0.02, 60 / 0.9),
                             ("anyway", True): (0.8, 45.0), ("anyway", False): (0.8, 50.0)}.get((group, offered),
                                                                                                 (0.0, 0.0))
            parts.append(pa.table({
                "customer_id": pa.array(np.arange(500) + 10_000 * len(parts), pa.int64()),
                "arm": ["treatment" if offered else "holdout"] * 500, "group": [group] * 500,
                **{name: np.broadcast_to(np.asarray(history[name], float), 500) for name in FEATURES},
                "outcome": (rng.uniform(0, 1, 500) < chance) * value}))
    return pa.concat_tables(parts)


def test_the_learner_offers_only_to_those_the_offer_moves():
    units = synthetic_units()
    model = from_units(units, "p", AS_OF, SETTINGS)
    assert model.fitted and (model.offered, model.not_offered) == (1500, 1500)
    assert model.text == ("uplift learner (gradient boosting) on the offer test's 1,500 offered and 1,500 not "
                          "offered, ended by 2024-06-15")
    decided = model.decide(units, RATE)
    group = np.asarray(units["group"].to_pylist())
    offered = {name: decided.offered[group == name].mean() for name in ("offer", "anyway")}
    assert offered["offer"] >= 0.95 and offered["anyway"] <= 0.02, offered
    # The expected figures are near the truth (docstring), and the gain and cost follow from them by the rule.
    mean = {(name, figure): getattr(decided, figure)[group == name].mean() for name in ("offer", "anyway", "never")
            for figure in ("expected_with", "expected_without", "expected_gain")}
    assert mean["offer", "expected_with"] == pytest.approx(30.0, abs=3.0)
    assert mean["offer", "expected_without"] == pytest.approx(1.33, abs=2.0)
    assert mean["offer", "expected_gain"] == pytest.approx(9.47, abs=1.5)
    assert mean["anyway", "expected_without"] == pytest.approx(40.0, abs=3.0)
    assert mean["anyway", "expected_gain"] == pytest.approx(-4.0, abs=1.5)
    never = group == "never"  # a tie at 0, below the cent an offer must be expected to gain: not offered
    assert decided.expected_with[never].max() < 0.1 and np.abs(decided.expected_gain[never]).max() < 0.01
    assert not decided.offered[never].any()
    gross = decided.expected_with / 0.9
    assert decided.expected_gain == pytest.approx(0.4 * (gross - decided.expected_without) - 0.1 * gross)
    assert decided.expected_cost == pytest.approx(0.1 * gross)
    assert list(decided.customer_id) == units["customer_id"].to_pylist()
    assert (decided.expected_gain[~decided.offered] < 0.01).all()
    assert (decided.expected_gain[decided.offered] >= 0.01).all()
    assert all(why.startswith("not expected to pay (expected gain ") for why in decided.withheld[~decided.offered])


def test_hit_and_run_buyers_never_get_it_and_the_rule_by_hand():
    class Fixed:  # one model of both (an S-learner): 36 with the offer (its flag, the last column, 1), else 10
        def predict(self, x):
            return np.where(x[:, -1] == 1, 36.0, 10.0)

    model = OfferModel("p", AS_OF, 500, 500, 200, 0.4, Fixed())
    found = pa.table({"customer_id": pa.array([1, 2], pa.int64()), **{name: [1.0, 1.0] for name in FEATURES}})
    decided = model.decide(found, 0.1, hit_and_run=np.array([False, True]))
    assert decided.expected_with.tolist() == [36.0, 36.0] and decided.expected_without.tolist() == [10.0, 10.0]
    # By hand: G1 = 36 / 0.9 = 40; gain = 0.4 (40 - 10) - 0.1 x 40 = 8.00; cost = 0.1 x 40 = 4.00.
    assert decided.expected_gain == pytest.approx([8.0, 8.0]) and decided.expected_cost == pytest.approx([4.0] * 2)
    assert decided.offered.tolist() == [True, False] and decided.withheld.tolist() == [None, HIT_AND_RUN]
    # At 40 % off the discount costs more than the offer brings: G1 = 36 / 0.6 = 60, 0.4 x 50 - 24 = -4.00.
    assert model.decide(found, 0.4).withheld.tolist() == ["not expected to pay (expected gain -4.00)"] * 2


def test_too_few_units_keep_the_default_and_say_so():
    units = synthetic_units().slice(0, 1200)  # offer group (500 offered, 500 not) and 200 offered of anyway
    model = from_units(units, "p", AS_OF, ExperimentSettings(min_per_arm=600))
    assert not model.fitted
    assert model.text == ("default: 700 offered and 500 not offered in the offer test have ended; targeting "
                          "needs 600 of each")
    decided = model.decide(units.slice(0, 3), RATE, hit_and_run=np.array([False, True, False]))
    assert decided.offered.tolist() == [True, False, True]
    assert np.isnan(decided.expected_gain).all() and np.isnan(decided.expected_with).all()


def test_a_group_in_which_nobody_bought_is_expected_to_spend_next_to_nothing():
    units = synthetic_units()
    offered, group = np.asarray(units["arm"].to_pylist()) == "treatment", np.asarray(units["group"].to_pylist())
    column = units.column_names.index("outcome")
    spent = units.set_column(column, "outcome", pa.array(np.where(offered, units["outcome"].to_numpy(), 0.0)))
    decided = from_units(spent, "p", AS_OF, SETTINGS).decide(spent, RATE)
    # Without the offer nobody buys: μ0 near 0, so it pays wherever the offered buy (0.4 x G1 > 0.1 x G1).
    assert decided.expected_without.max() < 0.5 and decided.offered[group != "never"].all()
    # Nobody at all: everyone is expected to spend 0, and the offer, gaining nothing, goes to nobody.
    nothing = units.set_column(column, "outcome", pa.array(np.zeros(units.num_rows)))
    decided = from_units(nothing, "p", AS_OF, SETTINGS).decide(nothing, RATE)
    assert not decided.expected_with.any() and not decided.expected_without.any() and not decided.offered.any()
    assert set(decided.withheld) == {"not expected to pay (expected gain 0.00)"}
