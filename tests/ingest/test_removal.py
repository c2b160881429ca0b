"""`delete`: orders, customers and returns by id, and undoing an import, on the KPI shop.

The KPI shop (tests/features/kpi_shop.py) is imports #1 customers A-E, #2 orders (ten orders
of one line each: nine purchases worth 890.00 in all, and DX, cancelled), #3 return R1 (30.00,
of order A3) and #4 spend. Customer A has orders A1 100, A2 50 and A3 150.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from retainly import Workspace
from retainly.errors import ConflictError, InputError, NotFoundError
from tests.conftest import kpi_shop_url

AS_OF = date(2024, 3, 31)
TABLES = ("customers", "orders", "order_lines", "purchases", "returns", "marketing_spend", "imports", "rfm_scores")


@pytest.fixture(params=["duckdb", "postgres"])
def shop(request, tmp_path, store_templates):
    """On each engine, the KPI shop alone in a fresh store of its own (loaded once per session and copied,
    tests/conftest.py), opened to hear its progress (loading the shop says nothing)."""
    heard: list[str] = []
    with kpi_shop_url(store_templates, request.param, tmp_path) as url:
        ws = Workspace.open(url, progress=heard.append)
        ws.heard = heard
        yield ws
        ws.close()


def counts(ws) -> dict[str, int]:
    return {table: ws.store.fetchone(f"SELECT COUNT(*) FROM {table}")[0] for table in TABLES}


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


ORDER_HEADER = "order_id,customer_id,placed_at,status,currency,line_no,sku,quantity,unit_price,kind\n"


def test_the_shop_as_loaded(shop):
    summary = shop.data.summary()
    assert (summary.orders, summary.gross_revenue, summary.customers) == (9, Decimal("890.00"), 5)


def test_deleting_an_order_takes_its_lines_and_purchase_and_makes_results_stale(shop):
    shop.rfm.ensure(AS_OF)
    shop.heard.clear()
    done = shop.data.delete("orders", ["A3"])
    assert done.rows_removed == {"order_lines": 1, "purchases": 1, "orders": 1}
    assert done.notes == [("1 returns refer to the deleted orders and stay; delete them with "
                           "`retainly delete returns ID...` if they should go too")]
    summary = shop.data.summary()
    assert (summary.orders, summary.gross_revenue, summary.returns) == (8, Decimal("740.00"), 1)
    assert shop.store.fetchall("SELECT order_id FROM purchases WHERE order_id = 'A3'") == []
    ledger = shop.data.imports()[-1]
    assert (ledger.import_id, ledger.kind, ledger.status, ledger.rows_read, ledger.rows_accepted) == (
        done.ledger_id, "delete", "completed", 1, 3)
    assert done.ledger_id == 5
    # Stored scores are older than the deletion: asked for again, they are recomputed.
    assert AS_OF not in shop.store.fresh_dates("rfm_scores")
    shop.rfm.ensure(AS_OF)
    assert shop.heard == [f"computing RFM scores as of {AS_OF}"]
    assert shop.store.fetchall("SELECT frequency FROM rfm_scores WHERE customer_id = 1") == [(2,)]


def test_unknown_ids_are_named_and_nothing_is_deleted(shop):
    before = counts(shop)
    with pytest.raises(NotFoundError) as error:
        shop.data.delete("orders", ["A3", "X1", "X2"])
    assert str(error.value) == ("no orders with id 'X1', 'X2' in the store; nothing was deleted "
                                "(use the shop's ids, as in the import)")
    with pytest.raises(NotFoundError, match="no customers with id 'Z'"):
        shop.data.delete("customers", ["A", "Z"])
    with pytest.raises(NotFoundError, match="no returns with id 'R9'"):
        shop.data.delete("returns", ["R9"])
    assert counts(shop) == before


def test_deleting_a_customer_takes_everything_of_theirs(shop):
    shop.rfm.ensure(AS_OF)
    done = shop.data.delete("customers", ["A"])
    assert done.rows_removed == {"returns": 1, "order_lines": 3, "purchases": 3, "orders": 3, "rfm_scores": 1,
                                 "customers": 1}
    summary = shop.data.summary()
    # 890 - 100 - 50 - 150
    assert (summary.customers, summary.orders, summary.gross_revenue, summary.returns) == (4, 6, Decimal("590.00"), 0)
    assert shop.store.fetchall("SELECT COUNT(*) FROM rfm_scores WHERE customer_id = 1") == [(0,)]


def test_deleting_a_return(shop):
    done = shop.data.delete("returns", ["R1"])
    assert done.rows_removed == {"returns": 1}
    assert (shop.data.summary().returns, shop.data.summary().orders) == (0, 9)


def test_a_dry_run_counts_what_would_go_and_changes_nothing(shop):
    before = counts(shop)
    preview = shop.data.delete("customers", ["A", "B"], dry_run=True)
    assert preview.dry_run and preview.ledger_id is None
    assert counts(shop) == before
    done = shop.data.delete("customers", ["A", "B"])
    assert done.rows_removed == preview.rows_removed


def test_undoing_an_import_removes_what_it_wrote_and_lets_the_file_in_again(shop, tmp_path):
    done = shop.data.delete(import_id=2)
    assert (done.kind, done.import_id) == ("import", 2)
    assert done.rows_removed == {"order_lines": 10, "purchases": 9, "orders": 10}
    assert done.notes == []  # its customers came with import #1
    after = counts(shop)
    assert (after["orders"], after["order_lines"], after["purchases"], after["customers"]) == (0, 0, 0, 5)
    assert [(r.import_id, r.status) for r in shop.data.imports()][1] == (2, "undone")
    # Not a duplicate any more: the file imports again.
    from tests.features.kpi_shop import KPI_SHOP
    again = shop.data.import_file("orders", KPI_SHOP / "orders.csv")
    assert again.skipped_as_duplicate_of is None and again.rows_accepted == 10
    assert shop.data.summary().gross_revenue == Decimal("890.00")


def test_undo_removes_the_customers_an_import_added_and_keeps_later_replacements(shop, tmp_path):
    first = write(tmp_path / "first.csv", ORDER_HEADER
                  + "F1,F,2024-03-21 10:00:00,completed,EUR,1,P1,1,10.00,merchandise\n"
                  + "F2,F,2024-03-22 10:00:00,completed,EUR,1,P1,1,20.00,merchandise\n"
                  + "A4,A,2024-03-23 10:00:00,completed,EUR,1,P1,1,30.00,merchandise\n")
    later = write(tmp_path / "later.csv", ORDER_HEADER
                  + "F2,F,2024-03-22 10:00:00,completed,EUR,1,P1,2,20.00,merchandise\n")
    undone = shop.data.import_file("orders", first).import_id
    shop.data.import_file("orders", later)
    done = shop.data.delete(import_id=undone)
    # F1 and A4 go; F2 is the later import's copy now and stays, so customer F stays too.
    assert done.rows_removed == {"order_lines": 2, "purchases": 2, "orders": 2}
    assert done.notes == ["1 customers this import wrote stay: rows of other imports refer to them"]
    assert shop.store.fetchall("SELECT order_id, net FROM orders WHERE order_id LIKE 'F%' OR order_id = 'A4'") == [
        ("F2", Decimal("40.0000"))]
    # With F2 gone too, undoing an import that added F now takes F.
    only_f = shop.data.import_file("orders", write(tmp_path / "g.csv", ORDER_HEADER
                                                   + "G1,G,2024-03-24 10:00:00,completed,EUR,1,P1,1,5.00,merchandise\n"))
    assert shop.data.delete(import_id=only_f.import_id).rows_removed == {
        "order_lines": 1, "purchases": 1, "orders": 1, "customers": 1}
    assert shop.store.fetchall("SELECT COUNT(*) FROM customers WHERE external_id = 'G'") == [(0,)]


def test_what_cannot_be_undone(shop):
    deletion = shop.data.delete("returns", ["R1"]).ledger_id
    with pytest.raises(InputError, match=f"import #{deletion} is a deletion, not an import"):
        shop.data.delete(import_id=deletion)
    shop.data.delete(import_id=4)
    with pytest.raises(ConflictError, match="import #4 is undone, not completed"):
        shop.data.delete(import_id=4)
    with pytest.raises(NotFoundError, match="no import #99 in the store"):
        shop.data.delete(import_id=99)
    with pytest.raises(InputError, match="not both"):
        shop.data.delete("orders", ["A1"], import_id=2)
    with pytest.raises(InputError, match="cannot delete 'products'"):
        shop.data.delete("products", ["P1"])


def test_undoing_a_generated_shop_leaves_nothing_of_it(store_url):
    with Workspace.open(store_url) as ws:
        shop = ws.data.generate(200, seed=5)
        ws.rfm.compute()
        done = ws.data.delete(import_id=shop)
        assert done.rows_removed["customers"] == 200 and done.rows_removed["rfm_scores"] > 0
        assert {table: rows for table, rows in ws.data.table_rows().items() if rows} == {"imports": 2}
