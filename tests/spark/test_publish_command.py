"""`retainly db publish`: the store's imported tables to Spark's warehouse, then nothing the second time."""

from __future__ import annotations

import json

from tests.cli.running import captured
from tests.conftest import generated_copy


def test_publish_twice_then_without_spark(store_templates, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with generated_copy(store_templates, "duckdb", 300, 5, tmp_path) as (url, _):
        monkeypatch.setenv("RETAINLY_ANALYTICS_URL", "spark://local[2]")
        code, out, err = captured(["--db", url, "db", "publish", "--json"])
        assert code == 0, err
        first = {row["table"]: row for row in json.loads(out)}
        assert {"orders", "order_lines", "purchases", "customers", "returns"} <= set(first)
        assert first["orders"]["written"] >= 30 and first["customers"]["written"] == 1
        assert (tmp_path / "retainly-warehouse" / "orders").is_dir()  # the default warehouse, in the working folder
        code, out, err = captured(["--db", url, "db", "publish", "--json"])
        again = {row["table"]: row for row in json.loads(out)}
        assert all(row["written"] == row["removed"] == 0 for row in again.values())
        assert {table: row["kept"] for table, row in again.items()} == {
            table: row["written"] for table, row in first.items()}
        code, out, err = captured(["--db", url, "db", "publish", "--table", "shoes"])
        assert code == 1 and "no table 'shoes' in the store to publish" in err
        monkeypatch.delenv("RETAINLY_ANALYTICS_URL")
        code, out, err = captured(["--db", url, "db", "publish"])
        assert code == 0 and "nothing to publish" in out
