"""The native layout for every kind, and a mapping file, on hand-checked fixtures."""

from datetime import date, datetime
from decimal import Decimal

from tests.conftest import DATA

NATIVE = DATA / "native"


def import_all(ws):
    for kind in ("customers", "products", "promotions", "spend", "orders", "returns", "interactions", "events"):
        result = ws.data.import_file(kind, NATIVE / f"{kind}.csv")
        assert result.rows_rejected == 0, result.rejects
        assert result.preset == "retainly"


def test_native_layout_every_kind(workspace):
    import_all(workspace)
    summary = workspace.data.summary()
    assert summary.customers == 2  # c1 and c2 bought; c3 never did
    assert summary.orders == 3  # 1001, 1002, 1005; 1004 is cancelled, 1003 a guest order
    assert summary.order_lines == 4
    # 1 x 249.00 + 2 x 6.50 + 4 x 6.50 + 19.80 (1005 gives the line total only)
    assert summary.gross_revenue == Decimal("307.80")
    assert summary.guest_orders == 1
    assert (summary.returns, summary.returned_amount) == (1, Decimal("6.50"))

    q = workspace.store.fetchall
    orders = {r[0]: r[1:] for r in q("SELECT order_id, status, gross, discount, shipping, net, promo_code FROM orders")}
    # 1001: 262.00 of goods + 4.90 shipping; the second line's blank order fields come from the first line.
    assert orders["1001"] == ("completed", Decimal("262.00"), Decimal("0"), Decimal("4.90"), Decimal("266.90"), None)
    # 1002: 26.00 of goods, 1.00 line discount + 5.00 order discount -> net 20.00
    assert orders["1002"] == ("completed", Decimal("26.00"), Decimal("6.00"), Decimal("0"), Decimal("20.00"), "SPRING10")
    assert orders["1004"][0] == "cancelled"
    # 1005 gave 19.80 for 2 mugs: the unit price is derived.
    assert q("SELECT unit_price FROM order_lines WHERE order_id = '1005'") == [(Decimal("9.90"),)]
    # The return names only its order: its customer comes from there.
    assert q("SELECT c.external_id FROM returns r JOIN customers c USING (customer_id)") == [("c1",)]

    customers = {r[0]: r[1:] for r in q(
        "SELECT external_id, name, email_consent, sms_consent, birthday, acquisition_channel, first_seen_at FROM customers")}
    assert customers["c1"] == ("Ana Novak", True, False, date(1990, 4, 12), "paid_search", datetime(2024, 1, 3, 10))
    assert customers["c2"][0] == "Jörg Müller"
    assert customers["c3"][1:3] == (None, None)
    assert q("SELECT SUM(amount) FROM marketing_spend") == [(Decimal("2300.00"),)]
    assert q("SELECT COUNT(*) FROM interactions") == [(2,)]
    assert q("SELECT COUNT(*), COUNT(customer_id) FROM site_events") == [(4, 3)]
    assert q("SELECT name, discount_rate FROM promotions") == [("Spring sale", Decimal("0.1000"))]


def test_native_reimport_with_force_adds_nothing(workspace):
    import_all(workspace)
    counts = workspace.store.fetchall(
        "SELECT (SELECT COUNT(*) FROM customers), (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM order_lines), "
        "(SELECT COUNT(*) FROM interactions), (SELECT COUNT(*) FROM marketing_spend), (SELECT COUNT(*) FROM returns)")
    for kind in ("customers", "spend", "orders", "returns", "interactions", "events"):
        workspace.data.import_file(kind, NATIVE / f"{kind}.csv", force=True)
    assert workspace.store.fetchall(
        "SELECT (SELECT COUNT(*) FROM customers), (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM order_lines), "
        "(SELECT COUNT(*) FROM interactions), (SELECT COUNT(*) FROM marketing_spend), (SELECT COUNT(*) FROM returns)"
    ) == counts


def test_mapping_file(workspace):
    result = workspace.data.import_file("orders", DATA / "mapped_orders.csv", mapping=DATA / "mapping.toml")
    assert (result.preset, result.rows_accepted, result.rows_rejected) == ("retainly", 4, 0)
    summary = workspace.data.summary()
    assert (summary.customers, summary.orders, summary.order_lines, summary.guest_orders) == (1, 1, 2, 1)
    assert summary.gross_revenue == Decimal("28.99")  # 2 x 12,50 + 1 x 3,99 (decimal commas)
    assert summary.first_order_at == "2024-02-03 10:00:00"  # day first, as the mapping says
    rows = workspace.store.fetchall("SELECT order_id, status, currency FROM orders ORDER BY order_id")
    assert rows == [("5001", "completed", "EUR"), ("5002", "cancelled", "EUR"), ("5003", "completed", "EUR")]
    # cp1252 was detected: the customer's name survived. K-2 only cancelled, but is a known customer.
    assert workspace.store.fetchall("SELECT external_id FROM customers ORDER BY external_id") == [("K-2",), ("Müller",)]
