"""The woocommerce preset against a hand-checked order export (tests/data/woocommerce_orders.csv).

The fixture: 9 orders, 14 line rows, in EUR. Most orders repeat their order cells on every
row; 503 and 509 leave them blank after the first row.

    501 user 12 Jürgen     wc-completed   2 lines  2 x 14.00 + 45.00, ship 5.00, tax 14.60, total 92.60
    502 user 0, no email   wc-processing  1 line   9.50, ship 3.50, total 13.00                 -> guest
    503 user 0, Łucja      wc-completed   3 lines  45.00 + 2 x 14.00 + 4.00, SPRING10 7.70, ship 5.00, total 74.30
    504 user 12 Jürgen     cancelled      1 line   39.00, ship 5.00, total 44.00
    505 user 31 Mårten     wc-refunded    1 line   39.00, tax 7.80, total 46.80, refunded 46.80
    506 user 0, Noah       wc-failed      1 line   9.50, total 9.50                              -> cancelled
    507 user 12 Jürgen     completed      2 lines  3 x 14.00 + 4.00, LOYAL5 5.00, tax 8.20, total 49.20
    508 user 0, Łucja      wc-on-hold     1 line   45.00, ship 5.00, total 50.00                 -> pending
    509 user 31 Mårten     wc-completed   2 lines  2 x 9.50 + 4.00, ship 3.50, total 26.50, refunded 9.50
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from retainly.errors import InputError
from retainly.ingest.presets import PRESETS
from retainly.ingest.readers import read_table
from retainly.ingest.values import find_column
from tests.ingest.fixture_edits import edited_copy as edit_fixture

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "woocommerce_orders.csv"
LUCJA = "lucja.nowak@example.pl"

EXPECTED_SUMMARY = {
    # Purchase orders = not cancelled: all but 504 (cancelled) and 506 (failed). 502 is a guest's.
    # Customers with a purchase: 12 (501, 507), lucja by email (503, 508), 31 (505, 509) = 3.
    "customers": 3,
    # 501, 503, 505, 507, 508, 509
    "orders": 6,
    # 2 + 3 + 1 + 2 + 1 + 2
    "order_lines": 11,
    # 501 2*14.00+45.00 = 73.00; 503 45.00+2*14.00+4.00 = 77.00; 505 39.00; 507 3*14.00+4.00 = 46.00;
    # 508 45.00; 509 2*9.50+4.00 = 23.00 -> 73 + 77 + 39 + 46 + 45 + 23 = 303.00
    "gross_revenue": Decimal("303.00"),
    "guest_orders": 1,  # 502
    # 505-refund 46.80 + 509-refund 9.50 = 56.30
    "returns": 2,
    "returned_amount": Decimal("56.30"),
    "first_order_at": "2024-04-02 10:00:00",  # 501
    "last_order_at": "2024-05-10 11:11:00",  # 509
}

d = Decimal
# (customer, status, gross, discount, shipping, tax, net, promo, country, lines)
EXPECTED_ORDERS = {
    # gross 2*14.00 + 45.00 = 73.00; net 73.00 + 5.00 + 14.60 = 92.60
    "501": ("12", "completed", d("73"), d("0"), d("5"), d("14.6"), d("92.6"), None, "DE", 2),
    # Customer User ID 0 and no email: guest. processing = paid -> completed
    "502": (None, "completed", d("9.5"), d("0"), d("3.5"), d("0"), d("13"), None, None, 1),
    # user 0 -> lower-cased billing email; gross 45.00 + 28.00 + 4.00 = 77.00; net 77.00 - 7.70 + 5.00 = 74.30
    "503": (LUCJA, "completed", d("77"), d("7.7"), d("5"), d("0"), d("74.3"), "SPRING10", "PL", 3),
    "504": ("12", "cancelled", d("39"), d("0"), d("5"), d("0"), d("44"), None, "DE", 1),
    "505": ("31", "refunded", d("39"), d("0"), d("0"), d("7.8"), d("46.8"), None, "SE", 1),
    # failed -> cancelled
    "506": ("noah@example.com", "cancelled", d("9.5"), d("0"), d("0"), d("0"), d("9.5"), None, "GB", 1),
    # no wc- prefix; gross 3*14.00 + 4.00 = 46.00; net 46.00 - 5.00 + 8.20 = 49.20
    "507": ("12", "completed", d("46"), d("5"), d("0"), d("8.2"), d("49.2"), "LOYAL5", "DE", 2),
    # on-hold -> pending
    "508": (LUCJA, "pending", d("45"), d("0"), d("5"), d("0"), d("50"), None, "PL", 1),
    # gross 2*9.50 + 4.00 = 23.00; net 23.00 + 3.50 = 26.50
    "509": ("31", "completed", d("23"), d("0"), d("3.5"), d("0"), d("26.5"), None, "SE", 2),
}


@pytest.fixture
def ws(workspace):
    """The shared fixture: every test runs on DuckDB and on PostgreSQL."""
    return workspace


def orders_by_id(ws) -> dict[str, tuple]:
    rows = ws.store.fetchall(
        "SELECT o.order_id, c.external_id, o.status, o.gross, o.discount, o.shipping, o.tax, o.net, o.promo_code, "
        "o.country, (SELECT COUNT(*) FROM order_lines l WHERE l.order_id = o.order_id) "
        "FROM orders o LEFT JOIN customers c ON c.customer_id = o.customer_id"
    )
    return {row[0]: row[1:] for row in rows}


def edited_copy(tmp_path: Path, name: str, cells=None, **changes) -> Path:
    return edit_fixture(FIXTURE, tmp_path / name, cells, **changes)


def test_summary(ws):
    result = ws.data.import_file("orders", FIXTURE, preset="woocommerce")
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (14, 14, 0)
    assert ws.data.summary().to_dict() == EXPECTED_SUMMARY


def test_orders(ws):
    ws.data.import_file("orders", FIXTURE, preset="woocommerce")
    assert orders_by_id(ws) == EXPECTED_ORDERS


def test_customers(ws):
    ws.data.import_file("orders", FIXTURE, preset="woocommerce")
    rows = ws.store.fetchall(
        "SELECT external_id, email, name, phone, city, country, first_seen_at FROM customers ORDER BY external_id"
    )
    assert [(*r[:6], str(r[6])) for r in rows] == [
        # 507 (latest) changed the phone to +49 40 222222.
        ("12", "juergen@example.de", "Jürgen Weiß", "+49 40 222222", "Hamburg", "DE", "2024-04-02 10:00:00"),
        ("31", "marten@example.se", "Mårten Ek", "+46 40 000000", "Malmö", "SE", "2024-04-20 18:10:00"),
        # 503 wrote "Lucja.Nowak@Example.PL", 508 the lower-case form: one customer. 508 has no phone.
        (LUCJA, LUCJA, "Łucja Nowak", "+48 12 000000", "Kraków", "PL", "2024-04-10 12:30:00"),
        # Only a failed (cancelled) order.
        ("noah@example.com", "noah@example.com", "Noah Wright", None, "London", "GB", "2024-04-22 07:45:00"),
    ]


def test_refunds_become_returns(ws):
    ws.data.import_file("orders", FIXTURE, preset="woocommerce")
    rows = ws.store.fetchall("SELECT return_id, order_id, amount, returned_at FROM returns ORDER BY return_id")
    assert [(r[0], r[1], r[2], str(r[3])) for r in rows] == [
        ("505-refund", "505", d("46.8"), "2024-04-20 18:10:00"),
        ("509-refund", "509", d("9.5"), "2024-05-10 11:11:00"),
    ]


def test_reimport_adds_nothing(ws):
    first = ws.data.import_file("orders", FIXTURE, preset="woocommerce")
    again = ws.data.import_file("orders", FIXTURE, preset="woocommerce")
    assert again.skipped_as_duplicate_of == first.import_id
    assert ws.data.summary().to_dict() == EXPECTED_SUMMARY
    forced = ws.data.import_file("orders", FIXTURE, preset="woocommerce", force=True)
    assert forced.skipped_as_duplicate_of is None and forced.rows_accepted == 14
    assert ws.data.summary().to_dict() == EXPECTED_SUMMARY
    assert orders_by_id(ws) == EXPECTED_ORDERS  # also the cancelled ones, outside the summary


def test_bad_date_rejects_the_whole_order(ws, tmp_path):
    # 503's first row (file line 5) gets 31 April; its lines 6 and 7 go with it.
    bad = edited_copy(tmp_path, "bad_date.csv", {(5, "Order Date"): "2024-04-31 12:30:00"})
    result = ws.data.import_file("orders", bad, preset="woocommerce")
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (14, 11, 3)
    assert result.rejects["line"].tolist() == [5, 6, 7]
    assert result.rejects["column"].iloc[0] == "Order Date"
    assert "unparseable date" in result.rejects["reason"].iloc[0]
    summary = ws.data.summary()
    assert summary.orders == 5  # 6 - 503
    assert summary.order_lines == 8  # 11 - 3
    assert summary.gross_revenue == Decimal("226.00")  # 303.00 - 77.00
    assert summary.customers == 3  # Łucja still has 508


def test_unknown_status_is_rejected_unless_mapped(ws, tmp_path):
    custom = edited_copy(tmp_path, "custom.csv", {(13, "Order Status"): "wc-awaiting-pickup"})  # order 508
    result = ws.data.import_file("orders", custom, preset="woocommerce")
    assert result.rejects["line"].tolist() == [13]
    assert "unknown status" in result.rejects["reason"].iloc[0]
    mapping = tmp_path / "statuses.toml"
    mapping.write_text('[values.status]\n"wc-awaiting-pickup" = "pending"\n', encoding="utf-8")
    mapped = ws.data.import_file("orders", custom, preset="woocommerce", mapping=mapping)
    assert mapped.rows_rejected == 0
    assert orders_by_id(ws)["508"][1] == "pending"


def test_alias_headers_and_plain_statuses(ws, tmp_path):
    statuses = {(2, "Order Status"): "Completed", (3, "Order Status"): "Completed", (4, "Order Status"): "Processing",
                (10, "Order Status"): "failed", (13, "Order Status"): "On hold"}
    renamed = edited_copy(tmp_path, "aliases.csv", statuses, drop=("Order ID",), rename={
        "Order Number": "order_number", "Order Status": "status", "Order Date": "order_date",
        "Customer User ID": "Customer ID", "Billing Email": "billing_email", "Order Shipping Amount": "Shipping Total",
        "Order Total Tax Amount": "Total Tax", "Cart Discount Amount": "Discount Total",
        "Order Total Amount": "Order Total", "Order Currency": "Currency", "Coupon Code": "Coupons",
        "Item SKU": "SKU", "Item Name": "Product Name", "Quantity": "Qty", "Item Cost": "Item Price",
        "Refunded amount": "Refund Amount",
    })
    ws.data.import_file("orders", renamed, preset="woocommerce")
    assert ws.data.summary().to_dict() == EXPECTED_SUMMARY
    assert orders_by_id(ws) == EXPECTED_ORDERS


def test_detected_without_preset(ws):
    header = list(read_table(FIXTURE).frame.columns)
    matching = [p.name for p in PRESETS.values()
                if p.name != "retainly" and all(find_column(header, c) for c in p.signature)]
    assert matching == ["woocommerce"]
    result = ws.data.import_file("orders", FIXTURE, preset=None)
    assert result.preset == "woocommerce"
    assert ws.data.summary().to_dict() == EXPECTED_SUMMARY


@pytest.mark.parametrize("drop, named", [
    (("Order Status",), "Order Status"),
    (("Item Cost",), "Item Cost"),
    # Neither customer column: every order would quietly turn into a guest's.
    (("Customer User ID", "Billing Email"), "Billing Email"),
])
def test_missing_required_column_is_named(ws, tmp_path, drop, named):
    target = edited_copy(tmp_path, "missing.csv", drop=drop)
    with pytest.raises(InputError, match=f'"{named}"'):
        ws.data.import_file("orders", target, preset="woocommerce")
