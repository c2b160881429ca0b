"""Basket pairs, sequence pairs and next products on the hand-checked basket shop, on DuckDB and PostgreSQL.

The shop is drawn in tests/features/basket_shop.py. Through AS_OF there are 18 baskets;
baskets holding M 2, F 9, T 5, L 4, S 3, K 1; both M and F 2, both L and S 2, every other
pair 1. Thresholds are scaled to the shop: two baskets for a basket pair, one customer for a
sequence, a 30-day window.
"""

import pytest

from retainly.features.associations import basket_pairs, next_products, sequence_pairs
from tests.features.basket_shop import AS_OF, customer_ids

RULES = dict(min_orders=2, within_days=30, min_customers=1)


@pytest.fixture
def shop(basket_shop_store):
    return basket_shop_store  # the basket shop alone, in a fresh store of its own on each engine (tests/conftest.py)


def rows(frame, columns):
    """The frame's rows as tuples, floats rounded to 4 places."""
    return [tuple(round(v, 4) if isinstance(v, float) else v for v in row)
            for row in frame[columns].itertuples(index=False)]


def test_basket_pairs(shop):
    pairs = basket_pairs(shop.store, AS_OF, min_orders=2)
    assert set(pairs["baskets"]) == {18}
    # support = both / 18; confidence = both / baskets with A; lift = confidence / (baskets with B / 18).
    assert rows(pairs, ["sku_a", "sku_b", "orders_a", "orders_b", "orders_both", "support", "confidence", "lift"]) == [
        ("S", "L", 3, 4, 2, round(1 / 9, 4), round(2 / 3, 4), 3.0),  # (2/3) / (4/18)
        ("L", "S", 4, 3, 2, round(1 / 9, 4), 0.5, 3.0),  # (2/4) / (3/18)
        ("M", "F", 2, 9, 2, round(1 / 9, 4), 1.0, 2.0),  # 1 / (9/18)
        ("F", "M", 9, 2, 2, round(1 / 9, 4), round(2 / 9, 4), 2.0),  # (2/9) / (2/18)
    ]  # highest lift first, then confidence; M-T, F-T, T-L are in one basket each: below 2


def test_basket_pairs_default_threshold(shop):
    assert basket_pairs(shop.store, AS_OF).empty  # no pair is in 5 baskets
    assert len(basket_pairs(shop.store, AS_OF, min_orders=1)) == 10  # 5 pairs, both ways; K is alone in H2


def test_sequence_pairs(shop):
    pairs = sequence_pairs(shop.store, AS_OF, within_days=30, min_customers=1)
    # Cutoff: Jul 1 00:00 - 30 days = Jun 1 00:00; all 7 customers first bought before it.
    # First purchases followed within 30 days, strictly later: D tea Jan 10 -> laptop Jan 12;
    # E laptop Mar 1 -> mouse Mar 20; H laptop and mouse Apr 1 -> cable Apr 15. C's machine and
    # filters (Jun 1) come 31 days after C's laptop and mouse (May 1): too late.
    # Base rates, customers who ever bought B of 7: laptop 4 (C, D, E, H), mouse 3, cable 1.
    assert rows(pairs, ["sku_a", "sku_b", "customers_a", "customers_then_b", "customers", "support", "confidence",
                        "base_rate", "lift"]) == [
        # mouse first bought by C, E, H: 1/3; lift (1/3) / (1/7)
        ("S", "K", 3, 1, 7, round(1 / 7, 4), round(1 / 3, 4), round(1 / 7, 4), round(7 / 3, 4)),
        # laptop first bought by C, D, E, H: 1/4; lift (1/4) / (1/7)
        ("L", "K", 4, 1, 7, round(1 / 7, 4), 0.25, round(1 / 7, 4), 1.75),
        # tea first bought by A, D, J (Mar 26, before the cutoff): 1/3; lift (1/3) / (4/7)
        ("T", "L", 3, 1, 7, round(1 / 7, 4), round(1 / 3, 4), round(4 / 7, 4), round(7 / 12, 4)),
        # (1/4) / (3/7): the same lift, lower confidence
        ("L", "S", 4, 1, 7, round(1 / 7, 4), 0.25, round(3 / 7, 4), round(7 / 12, 4)),
    ]
    # With a 31-day window C's laptop and mouse are followed by the machine and the filters.
    wider = sequence_pairs(shop.store, AS_OF, within_days=31, min_customers=1)
    assert {("L", "M"), ("L", "F"), ("S", "M"), ("S", "F")} <= set(zip(wider.sku_a, wider.sku_b))
    assert sequence_pairs(shop.store, AS_OF, within_days=30, min_customers=2).empty


def test_next_products(shop):
    ids = customer_ids(shop)
    letters = {number: letter for letter, number in ids.items()}
    offers = next_products(shop.store, AS_OF, limit=3, **RULES)
    offers["who"] = offers["customer_id"].map(letters)
    # Rules with lift > 1: basket S->L .667, L->S .5, M->F 1, F->M .222; sequence S->K .333,
    # L->K .25 (T->L and L->S as sequences have lift 7/12: not offered).
    assert rows(offers, ["who", "rank", "sku", "score", "because_of", "kind"]) == [
        ("B", 1, "M", round(2 / 9, 4), "F", "basket"),  # B owns F
        ("C", 1, "K", round(1 / 3, 4), "S", "sequence"),  # S->K (.333) beats L->K (.25)
        ("D", 1, "S", 0.5, "L", "basket"),  # D owns T, L: ranked by confidence
        ("D", 2, "K", 0.25, "L", "sequence"),
        ("E", 1, "K", round(1 / 3, 4), "S", "sequence"),  # E's Jul 5 filters come after AS_OF
        ("J", 1, "M", round(2 / 9, 4), "F", "basket"),  # J owns F and T; T->L has lift below 1
    ]  # A (M, F, T) and H (L, S, K) already own every product a rule offers them
    assert offers.loc[offers.who == "D", "lift"].round(4).tolist() == [3.0, 1.75]


def test_next_products_for_one_customer_with_a_limit(shop):
    ids = customer_ids(shop)
    offers = next_products(shop.store, AS_OF, customer_id=ids["D"], limit=1, **RULES)
    assert rows(offers, ["customer_id", "rank", "sku", "because_of"]) == [(ids["D"], 1, "S", "L")]
    assert next_products(shop.store, AS_OF, customer_id=ids["H"], **RULES).empty
