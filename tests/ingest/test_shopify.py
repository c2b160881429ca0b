"""The shopify preset against a hand-checked Orders export (tests/data/shopify_orders.csv).

The fixture (newest order first, as Shopify exports): 8 orders, 14 line rows, in EUR.

    #1001 ana.lopez@...   paid                2 lines  2 x 12.50 + 1 x 18.00, ship 4.90, tax 4.30, total 52.20
    #1002 (no email)      paid, Source pos    1 line   1 x 35.00, total 35.00                    -> guest, offline
    #1003 bjorn@...       paid, WINTER10      3 lines  3 x 8.00 + 6.00 + 12.50, line discounts 2.40+0.60+1.25,
                                                       Discount Amount 4.25, ship 4.90, total 43.15
    #1004 Ana.Lopez@...   partially_refunded  1 line   4 x 8.00, ship 4.90, tax 3.69, total 40.59, refunded 8.00
    #1005 chloe@...       refunded+Cancelled  2 lines  35.00 + 2 x 6.00, WELCOME5 5.00 (no line discounts),
                                                       ship 4.90, total 46.90, refunded 46.90
    #1006 dmitri@...      refunded            1 line   60.00, total 60.00, refunded 60.00
    #1007 bjorn@...       pending             1 line   2 x 6.00, ship 4.90, total 16.90
    #1008 emma@...        paid                3 lines  12.50 + 2 x 8.00 + 18.00, tax 9.30, total 55.80
                                                       (Email and Created at blank on its later rows)
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

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "shopify_orders.csv"

EXPECTED_SUMMARY = {
    # Purchase orders = not cancelled: all but #1005. Of those, #1002 is a guest's.
    # Customers with a purchase: ana (#1001, #1004), bjorn (#1003, #1007), dmitri (#1006), emma (#1008) = 4.
    "customers": 4,
    # #1001, #1003, #1004, #1006, #1007, #1008
    "orders": 6,
    # 2 + 3 + 1 + 1 + 1 + 3
    "order_lines": 11,
    # #1001 2*12.50+18.00 = 43.00; #1003 3*8.00+6.00+12.50 = 42.50; #1004 4*8.00 = 32.00;
    # #1006 60.00; #1007 2*6.00 = 12.00; #1008 12.50+2*8.00+18.00 = 46.50
    # 43.00 + 42.50 + 32.00 + 60.00 + 12.00 + 46.50 = 236.00
    "gross_revenue": Decimal("236.00"),
    "guest_orders": 1,  # #1002
    # #1004-refund 8.00 + #1006-refund 60.00 = 68.00; #1005 is cancelled, so its refund is no return
    "returns": 2,
    "returned_amount": Decimal("68.00"),
    "first_order_at": "2024-01-05 09:30:00",  # #1001, wall clock of "2024-01-05 09:30:00 +0100"
    "last_order_at": "2024-03-20 19:00:00",  # #1008
}


@pytest.fixture
def ws(workspace):
    """The shared fixture: every test runs on DuckDB and on PostgreSQL."""
    return workspace


def orders_by_id(ws) -> dict[str, tuple]:
    rows = ws.store.fetchall(
        "SELECT o.order_id, c.external_id, o.status, o.gross, o.discount, o.shipping, o.tax, o.net, o.channel, "
        "o.promo_code, o.currency, o.country, (SELECT COUNT(*) FROM order_lines l WHERE l.order_id = o.order_id) "
        "FROM orders o LEFT JOIN customers c ON c.customer_id = o.customer_id"
    )
    return {row[0]: row[1:] for row in rows}


def edited_copy(tmp_path: Path, name: str, cells=None, **changes) -> Path:
    return edit_fixture(FIXTURE, tmp_path / name, cells, **changes)


def test_summary(ws):
    result = ws.data.import_file("orders", FIXTURE, preset="shopify")
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (14, 14, 0)
    assert ws.data.summary().to_dict() == EXPECTED_SUMMARY


def test_orders(ws):
    ws.data.import_file("orders", FIXTURE, preset="shopify")
    orders = orders_by_id(ws)
    d = Decimal
    # (customer, status, gross, discount, shipping, tax, net, channel, promo, currency, country, lines)
    assert orders == {
        # gross 2*12.50 + 18.00 = 43.00; net = Total 52.20 (= 43.00 + 4.90 + 4.30)
        "#1001": ("ana.lopez@example.com", "completed", d("43"), d("0"), d("4.9"), d("4.3"), d("52.2"),
                  "online", None, "EUR", "ES", 2),
        # Source pos -> offline; no email -> guest
        "#1002": (None, "completed", d("35"), d("0"), d("0"), d("0"), d("35"), "offline", None, "EUR", None, 1),
        # gross 24.00 + 6.00 + 12.50 = 42.50; Discount Amount 4.25 = line discounts 2.40 + 0.60 + 1.25,
        # so the order keeps 4.25 - 4.25 = 0 and the total discount is 4.25, not 8.50.
        # net = Total 43.15 (= 42.50 - 4.25 + 4.90)
        "#1003": ("bjorn@example.se", "completed", d("42.5"), d("4.25"), d("4.9"), d("0"), d("43.15"),
                  "online", "WINTER10", "EUR", "SE", 3),
        # email "Ana.Lopez@Example.com" lower-cased: the same customer as #1001; gross 4*8.00 = 32.00
        "#1004": ("ana.lopez@example.com", "completed", d("32"), d("0"), d("4.9"), d("3.69"), d("40.59"),
                  "online", None, "EUR", "ES", 1),
        # Cancelled at is set: cancelled although Financial Status says refunded.
        # gross 35.00 + 2*6.00 = 47.00; no line discounts, so all of Discount Amount 5.00 is order-level
        "#1005": ("chloe@example.fr", "cancelled", d("47"), d("5"), d("4.9"), d("0"), d("46.9"),
                  "online", "WELCOME5", "EUR", "FR", 2),
        "#1006": ("dmitri@example.com", "refunded", d("60"), d("0"), d("0"), d("0"), d("60"),
                  "online", None, "EUR", "US", 1),
        # Financial Status pending; gross 2*6.00 = 12.00
        "#1007": ("bjorn@example.se", "pending", d("12"), d("0"), d("4.9"), d("0"), d("16.9"),
                  "online", None, "EUR", "SE", 1),
        # gross 12.50 + 2*8.00 + 18.00 = 46.50; net 46.50 + 9.30 = 55.80
        "#1008": ("emma@example.com", "completed", d("46.5"), d("0"), d("0"), d("9.3"), d("55.8"),
                  "online", None, "EUR", "DE", 3),
    }


def test_lines_keep_their_discounts(ws):
    ws.data.import_file("orders", FIXTURE, preset="shopify")
    lines = ws.store.fetchall(
        "SELECT line_no, sku, description, quantity, unit_price, discount, amount FROM order_lines "
        "WHERE order_id = '#1003' ORDER BY line_no"
    )
    assert lines == [
        (1, "TEA-01", "Green Tea 100g", 3, Decimal("8"), Decimal("2.4"), Decimal("24")),  # 3 * 8.00
        (2, "INF-01", "Tea Infuser", 1, Decimal("6"), Decimal("0.6"), Decimal("6")),
        (3, "MUG-01", "Ceramic Mug", 1, Decimal("12.5"), Decimal("1.25"), Decimal("12.5")),
    ]


def test_customers(ws):
    ws.data.import_file("orders", FIXTURE, preset="shopify")
    rows = ws.store.fetchall(
        "SELECT external_id, email, name, phone, city, country, email_consent, first_seen_at "
        "FROM customers ORDER BY external_id"
    )
    assert [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], str(r[7])) for r in rows] == [
        # Latest order #1004 says Sevilla and Accepts Marketing "no"; it has no phone, so #1001's stays.
        ("ana.lopez@example.com", "ana.lopez@example.com", "Ana López", "+34 600 000 000", "Sevilla", "ES", False,
         "2024-01-05 09:30:00"),
        # #1007 (latest) says "no"; the phone comes from #1003's Billing Phone.
        ("bjorn@example.se", "bjorn@example.se", "Björn Ström", "+46 31 000000", "Göteborg", "SE", False,
         "2024-02-02 18:45:00"),
        # Only a cancelled order, but a customer of the shop all the same.
        ("chloe@example.fr", "chloe@example.fr", "Chloé Dubois", None, "Lyon", "FR", True, "2024-03-01 10:15:00"),
        # "-0500" is dropped, not applied: the wall clock stays 16:20.
        ("dmitri@example.com", "dmitri@example.com", "Дмитрий Иванов", None, "New York", "US", False,
         "2024-03-10 16:20:00"),
        # Phone beats Billing Phone.
        ("emma@example.com", "emma@example.com", "Emma Müller", "+49 30 1234567", "Berlin", "DE", True,
         "2024-03-20 19:00:00"),
    ]


def test_refunds_become_returns_dated_at_the_order(ws):
    result = ws.data.import_file("orders", FIXTURE, preset="shopify")
    rows = ws.store.fetchall("SELECT return_id, order_id, amount, returned_at FROM returns ORDER BY return_id")
    assert [(r[0], r[1], r[2], str(r[3])) for r in rows] == [
        ("#1004-refund", "#1004", Decimal("8"), "2024-02-20 11:00:00"),
        ("#1006-refund", "#1006", Decimal("60"), "2024-03-10 16:20:00"),
    ]
    assert any("no refund dates" in note for note in result.notes)


def test_reimport_adds_nothing(ws):
    first = ws.data.import_file("orders", FIXTURE, preset="shopify")
    again = ws.data.import_file("orders", FIXTURE, preset="shopify")
    assert again.skipped_as_duplicate_of == first.import_id
    assert again.import_id is None
    assert ws.data.summary().to_dict() == EXPECTED_SUMMARY
    forced = ws.data.import_file("orders", FIXTURE, preset="shopify", force=True)
    assert forced.skipped_as_duplicate_of is None and forced.rows_accepted == 14
    assert ws.data.summary().to_dict() == EXPECTED_SUMMARY
    # Cancelled #1005 is outside the summary: check the tables themselves too (8 orders, 14 lines, 5 customers).
    counts = ws.store.fetchone(
        "SELECT (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM order_lines), (SELECT COUNT(*) FROM customers)"
    )
    assert tuple(counts) == (8, 14, 5)


def test_bad_date_rejects_the_whole_order(ws, tmp_path):
    # #1003's first row (file line 10) gets an impossible date; its lines 11 and 12 go with it.
    bad = edited_copy(tmp_path, "bad_date.csv", {(10, "Created at"): "31/02/2024 18:45"})
    result = ws.data.import_file("orders", bad, preset="shopify")
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (14, 11, 3)
    rejects = result.rejects
    assert rejects["line"].tolist() == [10, 11, 12]
    assert rejects["column"].tolist() == ["Created at", None, None]
    assert rejects["value"].iloc[0] == "31/02/2024 18:45"
    assert "unparseable date" in rejects["reason"].iloc[0]
    assert rejects["reason"].iloc[1] == "another line of order #1003 was rejected (line 10)"
    summary = ws.data.summary()
    assert summary.orders == 5  # 6 - #1003
    assert summary.order_lines == 8  # 11 - 3
    assert summary.gross_revenue == Decimal("193.50")  # 236.00 - 42.50
    assert summary.customers == 4  # bjorn still has #1007


def test_order_values_come_from_the_first_row(ws, tmp_path):
    # Stale order-level cells on #1008's later rows (file lines 3 and 4) change nothing, and reject nothing.
    stale = edited_copy(tmp_path, "stale.csv", {
        (3, "Total"): "999.00", (3, "Financial Status"): "refunded", (3, "Cancelled at"): "2024-03-21 10:00:00 +0100",
        (3, "Email"): "someone.else@example.com", (3, "Created at"): "2024-03-22 10:00:00 +0100",
        (4, "Total"): "n/a", (4, "Created at"): "soon", (4, "Accepts Marketing"): "perhaps",
    })
    result = ws.data.import_file("orders", stale, preset="shopify")
    assert result.rows_rejected == 0
    assert orders_by_id(ws)["#1008"][:7] == ("emma@example.com", "completed", Decimal("46.5"), Decimal("0"),
                                             Decimal("0"), Decimal("9.3"), Decimal("55.8"))
    assert ws.data.summary().to_dict() == EXPECTED_SUMMARY


def test_an_order_exported_twice_counts_once(ws, tmp_path):
    # Two exports glued together: #1007 (line 5) appears again at the end, with a changed total.
    text = FIXTURE.read_text(encoding="utf-8")
    row_1007 = text.splitlines()[4]
    glued = tmp_path / "glued.csv"
    glued.write_text(text + row_1007.replace(",16.90,", ",17.90,") + "\n", encoding="utf-8")
    result = ws.data.import_file("orders", glued, preset="shopify")
    assert any("later copy counts" in note for note in result.notes)
    assert ws.data.summary().to_dict() == EXPECTED_SUMMARY  # still 11 purchase lines, 236.00
    assert orders_by_id(ws)["#1007"][6] == Decimal("17.9")  # the later copy's Total


def test_detected_without_preset(ws):
    header = list(read_table(FIXTURE).frame.columns)
    matching = [p.name for p in PRESETS.values()
                if p.name != "retainly" and all(find_column(header, c) for c in p.signature)]
    assert matching == ["shopify"]
    result = ws.data.import_file("orders", FIXTURE, preset=None)
    assert result.preset == "shopify"
    assert ws.data.summary().to_dict() == EXPECTED_SUMMARY


def test_missing_required_column_is_named(ws, tmp_path):
    target = edited_copy(tmp_path, "no_quantity.csv", drop=("Lineitem quantity",))
    with pytest.raises(InputError, match='"Lineitem quantity"'):
        ws.data.import_file("orders", target, preset="shopify")
