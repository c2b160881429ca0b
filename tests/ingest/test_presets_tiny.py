"""Hand-checked fixtures for the online-retail-ii and cdnow presets, on both stores."""

from decimal import Decimal

from tests.conftest import DATA

ORII = DATA / "online_retail_ii_tiny.csv"
CDNOW = DATA / "cdnow_sample_tiny.csv"


def test_online_retail_ii_fixture(workspace, tmp_path):
    result = workspace.data.import_file("orders", ORII, preset="online-retail-ii")
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (18, 18, 0)
    summary = workspace.data.summary()
    # Purchase orders of known customers: 100001, 100002 (13085), 100005 (free items only), 100008 (12346).
    assert summary.customers == 2
    assert summary.orders == 4
    # Lines with positive quantity: 100001 x2, 100002 x2 (a genuine repeat, once: the second export
    # replaces the first copy), 100005 x1, 100008 x2.
    assert summary.order_lines == 7
    # 12 x 6.95 + 18.00 + 2 x (2 x 4.25) + 0 + 1 x 12.75 + 2 x 12.75 = 83.40 + 18 + 17 + 38.25
    assert summary.gross_revenue == Decimal("156.65")
    assert summary.guest_orders == 1  # 100004; A100006 is an adjustment, 100007 a write-off
    assert summary.returns == 1  # C100003, in both exports, counted once
    assert summary.returned_amount == Decimal("4.25")
    assert summary.first_order_at == "2010-11-30 09:00:00"
    assert summary.last_order_at == "2010-12-03 09:00:00"

    rows = workspace.store.fetchall(
        "SELECT order_id, status, gross, shipping, net FROM orders ORDER BY order_id")
    by_id = {r[0]: r[1:] for r in rows}
    assert by_id["100001"] == ("completed", Decimal("83.40"), Decimal("18.00"), Decimal("101.40"))
    assert by_id["A100006"][0] == "adjustment"
    assert by_id["100007"][0] == "adjustment"  # no line with positive quantity
    kinds = dict(workspace.store.fetchall(
        "SELECT sku, kind FROM order_lines WHERE order_id IN ('100001', '100005', 'A100006')"))
    assert kinds == {"85048": "merchandise", "POST": "shipping", "M": "adjustment", "B": "adjustment"}
    # Customer ids exported as 13085.0 are 13085; the country is the one of the last order.
    assert dict(workspace.store.fetchall("SELECT external_id, country FROM customers")) == {
        "13085": "United Kingdom", "12346": "France"}
    assert workspace.store.fetchone("SELECT name FROM products WHERE sku = '85048'") == ("GLASS BALL",)


def test_online_retail_ii_later_export_replaces_orders(workspace, tmp_path):
    workspace.data.import_file("orders", ORII, preset="online-retail-ii")
    before = workspace.data.summary()
    # A later export repeating the second half of the file adds nothing ...
    lines = ORII.read_text().splitlines()
    later = tmp_path / "later.csv"
    later.write_text("\n".join([lines[0], *lines[10:]]) + "\n")
    workspace.data.import_file("orders", later, preset="online-retail-ii")
    assert workspace.data.summary() == before
    # ... and an export where order 100008 changed replaces it as a whole (one line, not two).
    changed = tmp_path / "changed.csv"
    changed.write_text(lines[0] + "\n100008,22423,REGENCY CAKESTAND,4,2010-12-03 09:00:00,12.75,12346,France\n")
    workspace.data.import_file("orders", changed, preset="online-retail-ii")
    after = workspace.data.summary()
    assert after.order_lines == before.order_lines - 1
    # 156.65 - 38.25 + 4 x 12.75
    assert after.gross_revenue == Decimal("169.40")


def test_cdnow_fixture(workspace):
    workspace.data.import_file("orders", CDNOW, preset="cdnow")
    summary = workspace.data.summary()
    assert summary.customers == 3
    assert summary.orders == 6  # one per row, the two rows of 1997-01-18 included; the $0 order too
    # 29.33 + 29.73 + 14.96 + 14.37 + 14.96 + 0.00
    assert summary.gross_revenue == Decimal("103.35")
    ids = [r[0] for r in workspace.store.fetchall("SELECT order_id FROM orders ORDER BY order_id")]
    assert ids == ["00004-19970101-1", "00004-19970118-1", "00004-19970118-2", "00004-19970802-1",
                   "00018-19970104-1", "00021-19970101-1"]
    quantity, unit_price = workspace.store.fetchone(
        "SELECT quantity, unit_price FROM order_lines WHERE order_id = '00004-19970101-1'")
    assert (quantity, unit_price) == (2, Decimal("14.6650"))  # 29.33 / 2
