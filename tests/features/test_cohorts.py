"""Cohort matrices on the hand-checked shop (tests/features/kpi_shop.py), both engines.

January cohort: A, B; February: C, D; March: E (month of each customer's first purchase).
"""

import pytest

from retainly.errors import InputError


@pytest.fixture
def shop(kpi_shop_store):
    return kpi_shop_store  # the KPI shop alone, in a fresh store of its own on each engine (tests/conftest.py)


def test_customer_retention(shop):
    rows = shop.measures.cohorts("month", "customers")
    assert [(r.cohort, r.customers) for r in rows] == [("2024-01", 2), ("2024-02", 2), ("2024-03", 1)]
    # January: nobody bought in February; A came back in March. February: D bought in March.
    assert [r.values for r in rows] == [[1.0, 0.0, 0.5], [1.0, 0.5], [1.0]]


def test_cumulative_net_revenue_per_customer(shop):
    rows = shop.measures.cohorts("month", "revenue")
    # January: 350 / 2; nothing in February; March adds A's 150 less the 30 returned: 470 / 2.
    assert rows[0].values == [175.0, 175.0, 235.0]
    assert rows[1].values == [130.0, 175.0]  # (80 + 120 + 60) / 2, then + 90 / 2
    assert rows[2].values == [40.0]


def test_orders_per_customer_and_quarters(shop):
    assert shop.measures.cohorts("month", "orders")[0].values == [1.5, 0.0, 0.5]  # A2 + B1 of 2, then A3
    [quarter] = shop.measures.cohorts("quarter", "customers")
    assert (quarter.cohort, quarter.customers, quarter.values) == ("2024-Q1", 5, [1.0])


def test_bad_choices(shop):
    with pytest.raises(InputError, match="`metric` 'margin' is not supported"):
        shop.measures.cohorts("month", "margin")
    with pytest.raises(InputError, match="use month or quarter"):
        shop.measures.cohorts("week", "customers")
