"""KPIs against an independent, brute-force implementation on random small shops.

The oracle below walks every customer and every period boundary in plain Python, straight
from the definitions in docs/metrics.md; the engine's version counts owned activity
stretches and buckets instead. They must agree on every period.
"""

import math
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retainly import Workspace
from retainly.store import purchases
from retainly.features.periods import split

START = datetime(2024, 1, 1)

orders_strategy = st.lists(
    st.tuples(st.integers(1, 6), st.integers(0, 150), st.integers(0, 23), st.integers(1, 500)),
    min_size=1, max_size=25,
)


def oracle(orders, start, end, unit, window):
    """Per period: the KPI definitions evaluated customer by customer."""
    def active(customer, at):
        return any(at - window <= t < at for c, t, _ in orders if c == customer)

    everyone = {c for c, _, _ in orders}
    first = {c: min(t for cc, t, _ in orders if cc == c) for c in everyone}
    earliest = min(first.values())
    first_day = datetime(earliest.year, earliest.month, earliest.day)
    rows = []
    for period in split(start, end, unit):
        inside = [(c, t, a) for c, t, a in orders if period.start <= t < period.end]
        buyers = {c for c, _, _ in inside}
        counts = {c: sum(1 for cc, _, _ in inside if cc == c) for c in buyers}
        spend = {c: sum(a for cc, _, a in inside if cc == c) for c in buyers}
        at_start = {c for c in everyone if active(c, period.start)}
        at_end = {c for c in everyone if active(c, period.end)}
        new = {c for c in buyers if period.start <= first[c]}
        reactivated = {c for c in buyers - new if not active(c, period.start)}
        top = sorted(spend.values(), reverse=True)[:math.ceil(0.2 * len(buyers))]
        rows.append({
            "customers": len(buyers), "orders": len(inside), "revenue": sum(a for _, _, a in inside),
            "new_customers": len(new), "customers_at_start": len(at_start), "customers_at_end": len(at_end),
            "lost_customers": len(at_start - at_end), "reactivated_customers": len(reactivated),
            "repeat_customers": sum(1 for n in counts.values() if n >= 2),
            "top_revenue": sum(top),
            # Some day of the window before the start lies before the data's first day.
            "warming_up": period.start - window < first_day,
        })
    return rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=orders_strategy, unit=st.sampled_from(["month", None]), window_days=st.sampled_from([7, 30, 45]))
def test_kpis_agree_with_brute_force(tmp_path_factory, orders, unit, window_days):
    folder = tmp_path_factory.mktemp("shop")
    placed = [(c, START + timedelta(days=d, hours=h), amount) for c, d, h, amount in orders]
    with Workspace.open(f"duckdb:///{folder}/s.duckdb") as ws:
        for number, (customer, at, amount) in enumerate(placed):
            ws.store.execute(
                "INSERT INTO orders (order_id, customer_id, placed_at, status, gross, discount, shipping, tax, net) "
                "VALUES (?, ?, ?, 'completed', ?, 0, 0, 0, ?)", (f"o{number}", customer, at, amount, amount))
            ws.store.execute(
                "INSERT INTO order_lines (order_id, line_no, quantity, discount, amount, kind) "
                "VALUES (?, 1, 1, 0, ?, 'merchandise')", (f"o{number}", amount))
        purchases.rebuild(ws.store)  # rows written by hand: derive the purchases table as an import would
        rows = ws.measures.kpis(by=unit, window_days=window_days)
    day = lambda t: datetime(t.year, t.month, t.day)  # noqa: E731
    start = day(min(t for _, t, _ in placed))
    end = day(max(t for _, t, _ in placed)) + timedelta(days=1)
    expected = oracle(placed, start, end, unit, timedelta(days=window_days))
    assert len(rows) == len(expected)
    for got, want in zip(rows, expected):
        for key in ("customers", "orders", "new_customers", "customers_at_start", "customers_at_end",
                    "lost_customers", "reactivated_customers"):
            assert getattr(got, key) == want[key], (key, got.period)
        assert got.revenue == want["revenue"]
        if want["customers"]:
            assert got.repeat_purchase_rate == round(want["repeat_customers"] / want["customers"], 4)
            assert got.top20_revenue_share == round(want["top_revenue"] / want["revenue"], 4)
        if want["customers_at_start"]:
            crr = (want["customers_at_end"] - want["new_customers"]) / want["customers_at_start"]
            assert got.crr == round(crr, 4)
            assert got.churn_rate == round(want["lost_customers"] / want["customers_at_start"], 4)
        else:
            assert (got.crr, got.churn_rate) == (None, None)
            assert got.retention_note.startswith("no customers at the period start")
        assert got.warming_up == want["warming_up"], got.period
        assert (got.retention_note is None) == (want["customers_at_start"] > 0 and not want["warming_up"])
