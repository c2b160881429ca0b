"""Migration 22: on DuckDB the per-date result tables lose their primary keys and keep their rows;
PostgreSQL keeps its keys."""

from datetime import date

import pytest

from retainly import Workspace
from retainly.store import connect, schema
from retainly.store.keyless_results import TABLES

SCORE = ("INSERT INTO customer_scores (as_of, customer_id, fit_id, model, p_alive, expected_orders, p_order, "
         "expected_spend, clv, next_order_date, confidence, order_chance) "
         "VALUES (DATE '2024-03-31', 7, 1, 'mbgnbd', 0.5, 1.25, 0.4, 20.0, 25.0, NULL, 'model', 0.3)")


def _keys(store, table: str) -> int:
    if store.backend_name == "duckdb":
        sql = ("SELECT COUNT(*) FROM duckdb_constraints() WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'")
    else:
        sql = ("SELECT COUNT(*) FROM information_schema.table_constraints WHERE table_name = ? "
               "AND constraint_type = 'PRIMARY KEY'")
    return int(store.fetchone(sql, (table,))[0])


def test_the_result_tables_keep_their_rows_and_lose_their_keys_on_duckdb_only(store_url):
    store = connect(store_url)
    schema.upgrade(store, target=21)
    store.execute(SCORE)
    store.execute("INSERT INTO churn_signals VALUES (DATE '2024-03-31', 7, 0.8, 2, 'late; fewer orders', "
                  "TIMESTAMP '2024-04-01 06:00:00')")
    assert all(_keys(store, table) == 1 for table in TABLES)
    store.close()

    with Workspace.open_unchecked(store_url) as ws:
        ws.schema.upgrade()
    with Workspace.open(store_url) as ws:
        store = ws.store
        assert store.fetchall("SELECT as_of, customer_id, model, p_alive, order_chance FROM customer_scores") == [
            (date(2024, 3, 31), 7, "mbgnbd", 0.5, 0.3)]
        assert store.fetchall("SELECT customer_id, signs FROM churn_signals") == [(7, "late; fewer orders")]
        keyed = 0 if store.backend_name == "duckdb" else 1
        assert [_keys(store, table) for table in TABLES] == [keyed] * len(TABLES)
        if store.backend_name == "duckdb":
            store.execute(SCORE)  # no key: only replace_rows keeps a date's rows unique, as it always did
            assert store.fetchone("SELECT COUNT(*) FROM customer_scores")[0] == 2
        else:
            with pytest.raises(Exception, match="duplicate key"):
                store.execute(SCORE)
