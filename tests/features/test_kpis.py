"""KPIs on the hand-checked shop (tests/features/kpi_shop.py), on DuckDB and PostgreSQL.

Every expected number below is worked out by hand in the comment beside it.
"""

from datetime import date
from decimal import Decimal

import pytest

from retainly.errors import InputError

WINDOW = 30  # days: a customer at date D bought in [D - 30 days, D)


@pytest.fixture
def shop(kpi_shop_store):
    return kpi_shop_store  # the KPI shop alone, in a fresh store of its own on each engine (tests/conftest.py)


def test_whole_range(shop):
    [row] = shop.measures.kpis(window_days=WINDOW)
    # The range starts at the first spend (Jan 1) and ends with the last order (Mar 20).
    assert (row.start, row.end) == (date(2024, 1, 1), date(2024, 3, 20))
    assert row.customers == 5 and row.new_customers == 5
    assert row.orders == 9  # A3 + B1 + C2 + D2 + E1; D's cancelled order is no purchase
    assert row.revenue == Decimal("890.00")  # 300 + 200 + 200 + 150 + 40
    assert row.returns == Decimal("30.00") and row.net_revenue == Decimal("860.00")
    assert row.aov == 98.89  # 890 / 9
    assert row.purchase_frequency == 1.8  # 9 / 5
    assert row.repeat_purchase_rate == 0.6  # A, C, D of 5
    assert row.avg_days_between_orders == 29.75  # (65 + 20 + 34) days / 4 gaps
    assert row.historic_ltv == 172.0  # 860 / 5
    assert row.historic_ltv_gross == 178.0  # 890 / 5
    assert row.top20_revenue_share == round(300 / 890, 4)  # ceil(0.2 * 5) = 1 customer: A
    # Nobody bought before Jan 1, so there is no base to retain: CRR and churn are undefined.
    assert (row.customers_at_start, row.crr, row.churn_rate) == (0, None, None)
    # ... and says so; Jan 1 - 30 days = Dec 2 is before the first order (Jan 5): warming up too.
    assert row.retention_note == ("no customers at the period start; "
                                  "warming up: less than 30 days of orders before the period start")
    assert row.warming_up is True
    assert row.customers_at_end == 4  # bought in [Feb 20, Mar 21): A, C, D, E
    assert row.marketing_spend == Decimal("560.00")
    assert row.cac == {"email": 100.0, "search": 150.0, "social": 160.0}  # 100/1, 300/2, 160/1
    # LTV:CAC with historic net LTV: search (270 + 200) / 2 = 235 -> 235 / 150.
    assert row.ltv_cac == {"email": 1.5, "search": round(235 / 150, 4), "social": 1.25}
    # Payback for search: tenure to Mar 21 00:00 is 75.5 + 70.5 = 146 days = 146 / 30.4375 months;
    # net 470 over that -> 470 / 4.7967 per customer-month; 150 / that.
    assert row.payback_months["search"] == round(150 / (470 / (146 / 30.4375)), 4)


def test_by_month(shop):
    january, february, march = shop.measures.kpis(by="month", window_days=WINDOW)
    assert [r.period for r in (january, february, march)] == ["2024-01", "2024-02", "2024-03"]
    assert (january.customers, january.orders, january.revenue) == (2, 3, Decimal("350.00"))
    # February: A (last Jan 20) and B (Jan 10) were customers on Feb 1 and lapsed by Mar 1;
    # C and D are new and still customers on Mar 1.
    assert (february.customers_at_start, february.customers_at_end) == (2, 2)
    assert (february.new_customers, february.lost_customers) == (2, 2)
    assert february.crr == 0.0  # (2 - 2) / 2
    assert february.churn_rate == 1.0  # 2 lost of 2
    # Simple LTV = AOV 260/3 x frequency 3/2 x lifetime 1 / churn 1 = 130 a month, once.
    assert february.simple_ltv == 130.0
    assert february.historic_ltv == 152.5  # (350 + 260) / 4 customers by Mar 1
    # March: C, D at the start; A comes back after lapsing, E is new; nobody lost.
    assert (march.customers_at_start, march.customers_at_end) == (2, 4)
    assert (march.new_customers, march.reactivated_customers, march.lost_customers) == (1, 1, 0)
    assert march.crr == 1.5  # (4 - 1) / 2: the seed formula counts the won-back A as retained
    assert march.churn_rate == 0.0
    assert march.simple_ltv is None  # churn 0: no finite expected lifetime
    assert march.returns == Decimal("30.00")
    # Periods partition the range: orders and revenue add up to the whole.
    assert sum(r.orders for r in (january, february, march)) == 9
    assert sum(r.revenue for r in (january, february, march)) == Decimal("890.00")
    # CAC is per period: search spent in January, social and email in February.
    assert (january.cac, february.cac, march.cac) == ({"search": 150.0}, {"email": 100.0, "social": 160.0}, {})


def test_warming_up_lasts_one_window_from_the_first_order(shop):
    # The first order is A's on Jan 5. A period is warming up while start - 30 days < Jan 5,
    # i.e. for starts up to Feb 3; from Feb 4 the 30 days before the start are all in the data.
    january, february, march = shop.measures.kpis(by="month", window_days=WINDOW)
    assert [r.warming_up for r in (january, february, march)] == [True, True, False]  # Jan 1, Feb 1, Mar 1
    # February has a base (A, B) so its CRR and churn are figures, flagged but not blanked.
    assert (february.crr, february.churn_rate) == (0.0, 1.0)
    assert february.retention_note == "warming up: less than 30 days of orders before the period start"
    assert march.retention_note is None
    [feb3] = shop.measures.kpis(date(2024, 2, 3), date(2024, 2, 29), window_days=WINDOW)
    [feb4] = shop.measures.kpis(date(2024, 2, 4), date(2024, 2, 29), window_days=WINDOW)
    assert (feb3.warming_up, feb4.warming_up) == (True, False)  # Jan 4 < Jan 5; Jan 5 is not
    # The window is the KPI's own: with 365 days, March (Mar 1 - 365 days = 2023-03-02) is warming up.
    [wide] = shop.measures.kpis(date(2024, 3, 1), date(2024, 3, 31), window_days=365)
    assert wide.warming_up and wide.retention_note.endswith("less than 365 days of orders before the period start")


def test_no_base_after_warming_up_is_empty_with_the_reason(shop):
    # From Mar 1 (not warming up: Jan 31 >= Jan 5), per acquisition channel with a 30-day window:
    # customers at Mar 1 bought in [Jan 31, Mar 1). search: A last Jan 20, B Jan 10 -> none;
    # offline: E first buys Mar 5 -> none; email: D (Feb 15); social: C (Feb 5, Feb 25).
    rows = {row.channel: row for row in shop.measures.kpis(date(2024, 3, 1), by="channel", window_days=WINDOW)}
    for channel in ("search", "offline"):
        row = rows[channel]
        assert (row.customers_at_start, row.crr, row.churn_rate, row.simple_ltv) == (0, None, None, None)
        assert (row.warming_up, row.retention_note) == (False, "no customers at the period start")
    # email: D is a customer at Mar 1 and at Mar 21 (Mar 20 order); social: C is too ([Feb 20, Mar 21)
    # holds Feb 25). No new customer in either: CRR (1 - 0) / 1, churn 0 / 1, no note.
    for channel in ("email", "social"):
        row = rows[channel]
        assert (row.customers_at_start, row.crr, row.churn_rate, row.retention_note) == (1, 1.0, 0.0, None)


def test_by_channel(shop):
    rows = {row.channel: row for row in shop.measures.kpis(by="channel", window_days=WINDOW)}
    assert sorted(rows) == ["email", "offline", "search", "social"]
    search = rows["search"]
    assert (search.customers, search.orders, search.revenue) == (2, 4, Decimal("500.00"))
    assert search.cac == 150.0 and search.historic_ltv == 235.0
    assert search.top20_revenue_share == 0.6  # A's 300 of 500
    assert rows["offline"].cac is None  # no spend known for it
    assert sum(r.customers for r in rows.values()) == 5


def test_range_and_window_options(shop):
    [row] = shop.measures.kpis(date(2024, 3, 1), date(2024, 3, 31), window_days=WINDOW)
    # Through Mar 31 the end is Apr 1: C (last Feb 25) has lapsed, A, D, E are customers.
    assert (row.customers, row.customers_at_start, row.customers_at_end) == (3, 2, 3)
    assert (row.crr, row.churn_rate) == (1.0, 0.5)  # (3 - 1) / 2; C lost of C, D
    [wide] = shop.measures.kpis(date(2024, 3, 1), date(2024, 3, 31), window_days=365)
    # With a year-long window A, B, C, D are all customers on Mar 1; nobody leaves by Apr 1.
    assert (wide.customers_at_start, wide.customers_at_end, wide.churn_rate) == (4, 5, 0.0)
    assert wide.crr == 1.0  # (5 - 1) / 4


def test_bad_options(shop):
    with pytest.raises(InputError, match="`by` 'week' is not supported"):
        shop.measures.kpis(by="week")
    with pytest.raises(InputError, match="`first` 2024-03-01 is after `last` 2024-02-01"):
        shop.measures.kpis(date(2024, 3, 1), date(2024, 2, 1))


def test_empty_store_says_what_to_do(workspace):
    with pytest.raises(InputError, match="no purchase orders yet; import orders first"):
        workspace.measures.kpis()
