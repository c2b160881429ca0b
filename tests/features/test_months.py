"""Pieces of month facts (``features.months``) against the orders themselves, on random small shops.

Each piece must hold exactly the orders between its first and last time, never cross a month
start or a cut, and name the neighbouring analysed purchases; KPIs over any date range (edges
inside months included) must agree with the brute-force oracle of test_kpis_properties.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retainly import Workspace
from retainly.features.months import pieces
from retainly.features.orders import analysed_window
from retainly.store import purchases
from tests.features.test_kpis_properties import oracle

START = datetime(2024, 1, 1)
# Some shops end near today, so that the analysed window's end (tomorrow's end) cuts their last month.
RECENT = datetime.combine(date.today() - timedelta(days=70), datetime.min.time())

_orders = st.lists(st.tuples(st.integers(1, 4), st.integers(0, 100), st.integers(0, 23), st.integers(1, 500)),
                   min_size=1, max_size=20)


def _shop(folder, orders, base) -> tuple[Workspace, list]:
    placed = [(c, base + timedelta(days=d, hours=h), amount) for c, d, h, amount in orders]
    ws = Workspace.open(f"duckdb:///{folder}/s.duckdb")
    for number, (customer, at, amount) in enumerate(placed):
        ws.store.execute(
            "INSERT INTO orders (order_id, customer_id, placed_at, status, gross, discount, shipping, tax, net) "
            "VALUES (?, ?, ?, 'completed', ?, 0, 0, 0, ?)", (f"o{number}", customer, at, amount, amount))
        ws.store.execute("INSERT INTO order_lines (order_id, line_no, quantity, discount, amount, kind) "
                         "VALUES (?, 1, 1, 0, ?, 'merchandise')", (f"o{number}", amount))
    purchases.rebuild(ws.store)  # rows written by hand: derive purchases and customer_months as an import would
    return ws, placed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=_orders, recent=st.booleans(), cut_days=st.lists(st.integers(-5, 105), max_size=3))
def test_pieces_hold_exactly_their_orders(tmp_path_factory, orders, recent, cut_days):
    base = RECENT if recent else START
    cuts = [base + timedelta(days=d) for d in cut_days]
    ws, placed = _shop(tmp_path_factory.mktemp("shop"), orders, base)
    with ws:
        found = pieces(ws.store, cuts).to_pyarrow().to_pylist()
    begin, end = analysed_window()
    analysed = [(c, t, a) for c, t, a in placed if begin <= t < end]
    assert sum(p["orders"] for p in found) == len(analysed)
    every_cut = [*cuts, end]
    for p in found:
        theirs = sorted(t for c, t, _ in analysed if c == p["customer_id"])
        inside = [(c, t, a) for c, t, a in analysed if c == p["customer_id"] and p["first_at"] <= t <= p["last_at"]]
        assert p["orders"] == len(inside) and p["revenue"] == sum(a for _, _, a in inside)
        assert (p["first_at"].year, p["first_at"].month) == (p["last_at"].year, p["last_at"].month)
        assert not any(p["first_at"] < cut <= p["last_at"] for cut in every_cut)
        assert p["prev_at"] == max((t for t in theirs if t < p["first_at"]), default=None)
        assert p["next_at"] == min((t for t in theirs if t > p["last_at"]), default=None)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=_orders, unit=st.sampled_from(["month", "quarter", None]), window_days=st.sampled_from([7, 30, 45]),
       first_day=st.integers(0, 60), days=st.integers(0, 60))
def test_kpis_over_ranges_cutting_months_agree_with_brute_force(tmp_path_factory, orders, unit, window_days,
                                                                first_day, days):
    ws, placed = _shop(tmp_path_factory.mktemp("shop"), orders, START)
    first = (START + timedelta(days=first_day)).date()
    last = first + timedelta(days=days)
    with ws:
        rows = ws.measures.kpis(first, last, by=unit, window_days=window_days)
    start = datetime.combine(first, datetime.min.time())
    expected = oracle(placed, start, start + timedelta(days=days + 1), unit, timedelta(days=window_days))
    assert len(rows) == len(expected)
    for got, want in zip(rows, expected):
        for key in ("customers", "orders", "revenue", "new_customers", "customers_at_start", "customers_at_end",
                    "lost_customers", "reactivated_customers"):
            assert getattr(got, key) == want[key], (key, got.period)
        if want["customers"]:
            assert got.repeat_purchase_rate == round(want["repeat_customers"] / want["customers"], 4)
            assert got.top20_revenue_share == round(want["top_revenue"] / want["revenue"], 4)


def test_a_cut_inside_a_month_splits_only_the_rows_it_falls_inside(tmp_path):
    # Worked by hand: customer 1 buys on Jan 5 (10), Jan 20 (20) and Feb 3 (30); customer 2 on Jan 25 (40).
    # A cut on Jan 10 falls between customer 1's January orders: their January row becomes two pieces
    # (each naming the other as neighbour); customer 2's January row and customer 1's February row stay whole.
    orders = [(1, 4, 0, 10), (1, 19, 0, 20), (1, 33, 0, 30), (2, 24, 0, 40)]
    ws, _ = _shop(tmp_path, orders, START)
    with ws:
        found = pieces(ws.store, [datetime(2024, 1, 10)]).order_by(["customer_id", "first_at"]).to_pyarrow()
    jan5, jan20, feb3, jan25 = datetime(2024, 1, 5), datetime(2024, 1, 20), datetime(2024, 2, 3), datetime(2024, 1, 25)
    assert [(p["customer_id"], p["first_at"], p["last_at"], p["orders"], p["revenue"], p["prev_at"], p["next_at"])
            for p in found.to_pylist()] == [
        (1, jan5, jan5, 1, 10, None, jan20),
        (1, jan20, jan20, 1, 20, jan5, feb3),
        (1, feb3, feb3, 1, 30, jan20, None),
        (2, jan25, jan25, 1, 40, None, None),
    ]
