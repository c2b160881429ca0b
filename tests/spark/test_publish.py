"""Publishing the store's tables for Spark: by month, idempotent, and never half-written.

The expected partitions are the months (and days) the rows fall in, counted here by hand from
the rows themselves with Python's own calendar arithmetic, not by the SQL under test.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retainly import Workspace
from retainly.store.spark.publish import MARKER, Publisher
from tests.conftest import generated_copy
from tests.spark.conftest import on_spark


@pytest.fixture
def shop(store_templates, tmp_path):
    with generated_copy(store_templates, "duckdb", 300, 5, tmp_path) as (url, _):
        ws = Workspace.open(url)
        try:
            yield ws, tmp_path / "warehouse"
        finally:
            ws.close()


def months(ws: Workspace, table: str, column: str) -> Counter:
    """Rows per 202401-style month, counted in Python."""
    return Counter(when.year * 100 + when.month for (when,) in ws.store.fetchall(f"SELECT {column} FROM {table}"))


def files(folder) -> dict:
    """Every file under ``folder`` with its inode and modification time: what a rewrite would change."""
    return {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in folder.rglob("*") if path.is_file()}


def test_each_month_is_a_partition_and_publishing_twice_changes_nothing(shop):
    ws, warehouse = shop
    publisher = Publisher(ws.store, warehouse)
    first = publisher.publish("orders")
    by_month = months(ws, "orders", "placed_at")
    assert first.written == sorted(by_month) and len(by_month) >= 30
    assert sorted(p.name for p in (warehouse / "orders").iterdir()) == sorted(
        [MARKER] + [f"part={month}" for month in by_month])
    before = files(warehouse)
    again = publisher.publish("orders")
    assert (again.written, again.removed, again.kept) == ([], [], len(by_month))
    assert files(warehouse) == before


def test_a_change_rewrites_only_its_month(shop, spark):
    ws, warehouse = shop
    publisher = Publisher(ws.store, warehouse)
    publisher.publish("order_lines")
    order_id, placed_at = ws.store.fetchone("SELECT order_id, placed_at FROM orders ORDER BY order_id LIMIT 1")
    before = files(warehouse / "order_lines")
    ws.store.execute("UPDATE order_lines SET amount = amount + 1 WHERE order_id = ?", (order_id,))
    done = publisher.publish("order_lines")
    month = placed_at.year * 100 + placed_at.month
    assert done.written == [month] and not done.removed
    after = files(warehouse / "order_lines")
    changed = {path.parent.name for path in after if before.get(path) != after[path]}
    assert changed == {f"part={month}", "order_lines"}  # the month's file and the marker beside it
    expected = ws.store.fetchone("SELECT SUM(amount) FROM order_lines")[0]
    assert on_spark(ws.store, spark, warehouse).table("order_lines").amount.sum().to_pyarrow().as_py() == expected


def test_a_month_without_rows_is_removed(shop):
    ws, warehouse = shop
    publisher = Publisher(ws.store, warehouse)
    publisher.publish("marketing_spend")
    by_month = months(ws, "marketing_spend", "spend_date")
    last = max(by_month)
    ws.store.execute("DELETE FROM marketing_spend WHERE spend_date >= ?", (date(last // 100, last % 100, 1),))
    done = publisher.publish("marketing_spend")
    assert (done.written, done.removed) == ([], [last])
    assert not (warehouse / "marketing_spend" / f"part={last}").exists()


def test_results_kept_per_date_are_partitioned_by_date(shop, spark):
    ws, warehouse = shop
    for day in ("2025-06-30", "2025-12-31"):
        ws.rfm.compute(date.fromisoformat(day))
    done = Publisher(ws.store, warehouse).publish("rfm_scores")
    assert done.written == [20250630, 20251231]
    stored = ws.store.fetchone("SELECT COUNT(*) FROM rfm_scores")[0]
    assert on_spark(ws.store, spark, warehouse).table("rfm_scores").count().to_pyarrow().as_py() == stored


def test_an_empty_table_is_published_with_its_columns(shop, spark):
    ws, warehouse = shop
    assert ws.store.fetchone("SELECT COUNT(*) FROM suppressions")[0] == 0
    table = on_spark(ws.store, spark, warehouse).table("suppressions")
    assert table.columns == ws.store.table("suppressions").columns
    assert table.count().to_pyarrow().as_py() == 0


def test_a_publish_cut_short_is_finished_by_the_next(shop, spark):
    """A crash after a partition was renamed into place but before the marker: the marker still holds
    the old fingerprint, so the next publish writes the partition again; staging folders left by the
    crash are invisible to Spark."""
    ws, warehouse = shop
    publisher = Publisher(ws.store, warehouse)
    publisher.publish("returns")
    marker = warehouse / "returns" / MARKER
    fingerprints = json.loads(marker.read_text())
    month = max(int(part) for part in fingerprints)
    fingerprints[str(month)] = "0:0"  # as if the marker had not yet been replaced
    marker.write_text(json.dumps(fingerprints))
    leftover = warehouse / "returns" / f".part={month}.deadbeef"
    leftover.mkdir()
    pq.write_table(pa.table({"return_id": ["junk"]}), leftover / "data.parquet")
    assert publisher.publish("returns").written == [month]
    split = on_spark(ws.store, spark, warehouse)
    assert split.table("returns").count().to_pyarrow().as_py() == ws.store.fetchone("SELECT COUNT(*) FROM returns")[0]
