"""customer_months: the per-customer-month facts every import, deletion and upgrade keeps in step.

The tiny shop's expected rows below are worked out by hand from its orders; the property test
compares the table with a plain-Python computation from the ``purchases`` table after every
import and deletion of random orders.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retainly import Workspace
from retainly.store import customer_months, schema

HEADER = "order_id,customer_id,placed_at,status,currency,channel,line_no,sku,quantity,unit_price,kind\n"
# Customer a: two orders in January (10.00 and 2 x 5.00), one in March. Customer b: one on the last
# evening of January, a cancelled one in February (no purchase) and one of 3 x 4.00 in February.
# A guest order (no customer) is a purchase but no customer's.
TINY = [
    "A1,a,2024-01-05 10:00:00,completed,EUR,online,1,P1,1,10.00,merchandise",
    "A2,a,2024-01-20 15:00:00,completed,EUR,phone,1,P2,2,5.00,merchandise",
    "A3,a,2024-03-02 09:00:00,completed,EUR,online,1,P3,1,30.00,merchandise",
    "B1,b,2024-01-31 23:00:00,completed,EUR,offline,1,P1,1,7.50,merchandise",
    "B2,b,2024-02-01 00:30:00,cancelled,EUR,online,1,P4,1,100.00,merchandise",
    "B3,b,2024-02-14 12:00:00,completed,EUR,online,1,P2,3,4.00,merchandise",
    "G1,,2024-01-10 08:00:00,completed,EUR,online,1,P1,1,10.00,merchandise",
]
T = datetime.fromisoformat


def write(path, rows: list[str]):
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def stored(ws: Workspace) -> list[tuple]:
    """Every row, the customer by the shop's id, sorted."""
    rows = ws.store.fetchall(
        "SELECT c.external_id, m.month, m.orders, m.revenue, m.first_at, m.last_at, m.first_channel, m.prev_at, "
        "m.next_at FROM customer_months m JOIN customers c ON c.customer_id = m.customer_id")
    return sorted((r[0], r[1], int(r[2]), Decimal(r[3]), *r[4:]) for r in rows)


def from_purchases(ws: Workspace) -> list[tuple]:
    """The table's definition computed in Python from the purchases table: an independent implementation."""
    rows = ws.store.fetchall("SELECT c.external_id, p.placed_at, p.revenue, p.channel, p.order_id FROM purchases p "
                             "JOIN customers c ON c.customer_id = p.customer_id")
    by_customer: dict[str, dict[date, list]] = {}
    for customer, placed, revenue, channel, order_id in rows:
        month = date(placed.year, placed.month, 1)
        by_customer.setdefault(customer, {}).setdefault(month, []).append((placed, order_id, Decimal(revenue), channel))
    expected = []
    for customer, months in by_customer.items():
        order = sorted(months)
        for i, month in enumerate(order):
            orders = sorted(months[month])
            expected.append((customer, month, len(orders), sum(o[2] for o in orders), orders[0][0], orders[-1][0],
                             orders[0][3],
                             max(o[0] for o in months[order[i - 1]]) if i else None,
                             min(o[0] for o in months[order[i + 1]]) if i + 1 < len(order) else None))
    return sorted(expected)


def test_tiny_shop_by_hand(workspace, tmp_path):
    workspace.data.import_file("orders", write(tmp_path / "orders.csv", TINY))
    assert stored(workspace) == [
        ("a", date(2024, 1, 1), 2, Decimal("20.0000"), T("2024-01-05 10:00"), T("2024-01-20 15:00"), "online",
         None, T("2024-03-02 09:00")),
        ("a", date(2024, 3, 1), 1, Decimal("30.0000"), T("2024-03-02 09:00"), T("2024-03-02 09:00"), "online",
         T("2024-01-20 15:00"), None),
        ("b", date(2024, 1, 1), 1, Decimal("7.5000"), T("2024-01-31 23:00"), T("2024-01-31 23:00"), "offline",
         None, T("2024-02-14 12:00")),
        ("b", date(2024, 2, 1), 1, Decimal("12.0000"), T("2024-02-14 12:00"), T("2024-02-14 12:00"), "online",
         T("2024-01-31 23:00"), None),
    ]


def test_an_import_rewrites_only_the_customers_it_touches(workspace, tmp_path, monkeypatch):
    workspace.data.import_file("orders", write(tmp_path / "orders.csv", TINY))
    before = stored(workspace)
    rewritten = []
    real = customer_months.refresh
    monkeypatch.setattr(customer_months, "refresh",
                        lambda store, ids: (rewritten.append(sorted(set(ids.to_pylist()))), real(store, ids)))
    # A later export moves A3 from March to February 10th.
    workspace.data.import_file("orders", write(tmp_path / "later.csv", [TINY[2].replace("2024-03-02", "2024-02-10")]))
    a = workspace.store.fetchone("SELECT customer_id FROM customers WHERE external_id = 'a'")[0]
    assert rewritten == [[a]]
    after = stored(workspace)
    assert [r for r in after if r[0] == "b"] == [r for r in before if r[0] == "b"]
    assert [r for r in after if r[0] == "a"] == [
        ("a", date(2024, 1, 1), 2, Decimal("20.0000"), T("2024-01-05 10:00"), T("2024-01-20 15:00"), "online",
         None, T("2024-02-10 09:00")),
        ("a", date(2024, 2, 1), 1, Decimal("30.0000"), T("2024-02-10 09:00"), T("2024-02-10 09:00"), "online",
         T("2024-01-20 15:00"), None),
    ]


def test_importing_the_same_file_again_changes_nothing(workspace, tmp_path):
    path = write(tmp_path / "orders.csv", TINY)
    workspace.data.import_file("orders", path)
    before = stored(workspace)
    workspace.data.import_file("orders", path, force=True)  # merged again, not skipped as known
    assert stored(workspace) == before


def test_deleting_orders_and_customers_rewrites_their_months(workspace, tmp_path):
    workspace.data.import_file("orders", write(tmp_path / "orders.csv", TINY))
    workspace.data.delete("orders", ["A1"])
    assert stored(workspace) == from_purchases(workspace)
    assert [r[1:4] for r in stored(workspace) if r[0] == "a"] == [
        (date(2024, 1, 1), 1, Decimal("10.0000")), (date(2024, 3, 1), 1, Decimal("30.0000"))]
    workspace.data.delete("customers", ["b"])
    assert [r[0] for r in stored(workspace)] == ["a", "a"]


def test_upgrade_fills_the_table_for_a_store_made_before_it(tmp_path):
    with Workspace.open(f"duckdb:///{tmp_path}/s.duckdb") as ws:
        ws.data.import_file("orders", write(tmp_path / "orders.csv", TINY))
        expected = stored(ws)
        ws.store.execute("DROP TABLE customer_months")
        ws.store.execute("DELETE FROM retainly_schema WHERE version >= 21")  # a store made at version 20
        assert [m.version for m in schema.upgrade(ws.store)] == [21, 22]
        assert stored(ws) == expected == from_purchases(ws)


# Orders over three months: (order number, customer or guest, day, hour, status, channel, amount).
_order = st.tuples(st.integers(0, 11), st.sampled_from(["a", "b", "c", ""]), st.integers(0, 95), st.integers(0, 23),
                   st.sampled_from(["completed", "completed", "cancelled"]), st.sampled_from(["online", "phone"]),
                   st.integers(1, 300))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_order, min_size=1, max_size=8), min_size=1, max_size=4),
       deleted=st.lists(st.integers(0, 11), max_size=3))
def test_the_table_always_equals_its_definition(tmp_path_factory, batches, deleted):
    folder = tmp_path_factory.mktemp("shop")
    start = datetime(2024, 1, 1)
    with Workspace.open(f"duckdb:///{folder}/s.duckdb") as ws:
        for number, batch in enumerate(batches):
            rows = {}
            for order, customer, day, hour, status, channel, amount in batch:  # a file holds an order once
                at = start + timedelta(days=day, hours=hour)
                rows[order] = f"O{order},{customer},{at},{status},EUR,{channel},1,P1,1,{amount}.00,merchandise"
            ws.data.import_file("orders", write(folder / f"batch{number}.csv", list(rows.values())))
            assert stored(ws) == from_purchases(ws)
        known = {row[0] for row in ws.store.fetchall("SELECT order_id FROM orders")}
        gone = sorted({f"O{order}" for order in deleted} & known)
        if gone:
            ws.data.delete("orders", gone)
            assert stored(ws) == from_purchases(ws)
