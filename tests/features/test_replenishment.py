"""Repeat intervals, consumables and due re-orders on the hand-checked basket shop, on DuckDB and PostgreSQL.

The shop is drawn in tests/features/basket_shop.py; every expected number is worked out in
the comment beside it. Purchase days of each product through AS_OF = 2024-06-30:

    F  A Jan 1, Jan 21, Feb 20, Mar 31 (gaps 20, 30, 40);  B Feb 1, Mar 22 (50; B2 and B3 are
       one day);  C Jun 1;  J Jan 5  (E's Jul 5 is after AS_OF)
    T  A Jan 1;  D Jan 10, Jan 12, Jun 29 (gaps 2, 169);  J Mar 26
    M  A Jan 1, C Jun 1;  L  C, D, E, H once each;  S  C, E, H once each (D's is cancelled);  K  H
"""

from datetime import date

import pandas as pd
import pytest

from retainly.features.replenishment import (
    category_intervals,
    product_intervals,
    reorders_due,
    repeat_intervals,
)
from tests.features.basket_shop import AS_OF, customer_ids

# Thresholds scaled down to a shop of seven customers (the defaults ask for 10 repeat buyers).
SMALL = dict(min_repeat_buyers=2, min_intervals=4, min_repeat_share=0.5, max_spread=1.0)


@pytest.fixture
def shop(basket_shop_store):
    return basket_shop_store  # the basket shop alone, in a fresh store of its own on each engine (tests/conftest.py)


def test_repeat_intervals(shop):
    ids = customer_ids(shop)
    rows = repeat_intervals(shop.store, AS_OF).to_pandas()
    a_filters = rows[(rows.customer_id == ids["A"]) & (rows.sku == "F")].sort_values("day")
    assert list(pd.to_datetime(a_filters["day"]).dt.date) == [date(2024, 1, 1), date(2024, 1, 21), date(2024, 2, 20),
                                                              date(2024, 3, 31)]
    assert a_filters["interval_days"].isna().tolist() == [True, False, False, False]
    assert a_filters["interval_days"].dropna().astype(int).tolist() == [20, 30, 40]  # 2024 is a leap year
    b_filters = rows[(rows.customer_id == ids["B"]) & (rows.sku == "F")]
    assert len(b_filters) == 2  # B2 and B3 on Mar 22 are one purchase day: no interval of 0
    # Rows: F 8 (A 4, B 2, C 1, J 1), T 5, M 2, L 4, S 3, K 1 = 23; no POSTAGE, no guest, no cancelled S.
    assert len(rows) == 23 and set(rows.sku) == {"M", "F", "T", "L", "S", "K"}


def test_product_intervals(shop):
    table = product_intervals(shop.store, AS_OF, **SMALL).set_index("sku")
    filters = table.loc["F"]
    assert (filters.buyers, filters.repeat_buyers, filters.intervals) == (4, 2, 4)  # A, B, C, J; A and B re-bought
    assert filters.repeat_share == 0.5
    # Gaps 20, 30, 40, 50: median 35; continuous quartiles at positions 0.75 and 2.25 of 0..3:
    # 20 + 0.75 x 10 = 27.5 and 40 + 0.25 x 10 = 42.5; spread (42.5 - 27.5) / 35 = 0.4286.
    assert (filters.median_days, filters.p25_days, filters.p75_days) == (35.0, 27.5, 42.5)
    assert filters.spread == pytest.approx(15 / 35)
    assert filters.consumable and filters["name"] == "Coffee filters" and filters.category == "coffee"
    tea = table.loc["T"]
    # One repeat buyer (D: gaps 2 and 169): median 85.5, quartiles 2 + 0.25 x 167, 2 + 0.75 x 167.
    assert (tea.buyers, tea.repeat_buyers, tea.intervals) == (3, 1, 2)
    assert (tea.median_days, tea.p25_days, tea.p75_days) == (85.5, 43.75, 127.25)
    assert not tea.consumable  # 1 repeat buyer < 2
    laptop = table.loc["L"]
    assert (laptop.buyers, laptop.repeat_buyers, laptop.intervals) == (4, 0, 0)
    assert pd.isna(laptop.median_days) and not laptop.consumable
    assert table.loc["S"].buyers == 3  # C, E, H: D's order is cancelled, G1 is a guest's
    assert list(table.index[:1]) == ["F"]  # consumables first
    # With the default thresholds (10 repeat buyers, 20 intervals) nothing here is a consumable.
    assert not product_intervals(shop.store, AS_OF)["consumable"].any()


def test_product_intervals_as_of_an_earlier_day(shop):
    table = product_intervals(shop.store, date(2024, 3, 1), **SMALL).set_index("sku")
    # Through Mar 1: A's F on Jan 1, 21, Feb 20 (gaps 20, 30); B's Feb 1; J's Jan 5.
    assert (table.loc["F"].buyers, table.loc["F"].intervals, table.loc["F"].median_days) == (3, 2, 25.0)
    assert table.loc["L"].buyers == 2  # D Jan 12, E Mar 1 (the end of the day counts)
    assert "S" not in table.index  # the first mouse is E's on Mar 20


def test_category_intervals(shop):
    table = category_intervals(shop.store, AS_OF, **SMALL).set_index("category")
    coffee = table.loc["coffee"]
    # F's gaps 20, 30, 40, 50 and T's 2, 169 pooled: 2, 20, 30, 40, 50, 169. Median (30 + 40) / 2;
    # quartiles at positions 1.25 and 3.75: 20 + 0.25 x 10 = 22.5, 40 + 0.75 x 10 = 47.5.
    assert (coffee.products, coffee.buyers, coffee.repeat_buyers, coffee.intervals) == (3, 5, 3, 6)
    assert (coffee.median_days, coffee.p25_days, coffee.p75_days) == (35.0, 22.5, 47.5)
    assert coffee.repeat_share == 0.6 and coffee.consumable  # A, B, D of A, B, C, D, J
    computers = table.loc["computers"]
    assert (computers.products, computers.buyers, computers.repeat_buyers) == (3, 4, 0) and not computers.consumable


def test_reorders_due(shop):
    ids = customer_ids(shop)
    intervals = product_intervals(shop.store, AS_OF, **SMALL)
    due = reorders_due(shop.store, AS_OF, intervals)
    letters = {number: letter for letter, number in ids.items()}
    rows = [(letters[r.customer_id], r.sku, r.purchase_days, r.last_purchase, r.due_date, r.days_overdue)
            for r in due.itertuples()]
    # Due = last purchase + 35 days; overdue = Jun 30 - due. Most overdue first.
    assert rows == [
        ("J", "F", 1, date(2024, 1, 5), date(2024, 2, 9), 142),  # Feb 9 -> Jun 30
        ("B", "F", 2, date(2024, 3, 22), date(2024, 4, 26), 65),
        ("A", "F", 4, date(2024, 3, 31), date(2024, 5, 5), 56),
        ("C", "F", 1, date(2024, 6, 1), date(2024, 7, 6), -6),  # not due yet
    ]
    assert set(due["interval_days"]) == {35.0}


def test_due_dates_round_half_days_up(shop):
    ids = customer_ids(shop)
    intervals = product_intervals(shop.store, AS_OF, **SMALL)
    intervals["consumable"] = intervals["sku"] == "T"  # pretend tea is one: median 85.5 days -> 86
    due = reorders_due(shop.store, AS_OF, intervals).set_index("customer_id")
    assert due.loc[ids["D"], "due_date"] == date(2024, 9, 23)  # Jun 29 + 86
    assert due.loc[ids["D"], "days_overdue"] == -85
    assert due.loc[ids["A"], "due_date"] == date(2024, 3, 27)  # Jan 1 + 86
    assert due.loc[ids["J"], "days_overdue"] == 10  # Mar 26 + 86 = Jun 20


def test_nothing_due_without_consumables(shop):
    due = reorders_due(shop.store, AS_OF)  # default thresholds: no consumable in a shop this small
    assert due.empty and list(due.columns)[:2] == ["customer_id", "sku"]
