"""The purchases table always equals its definition, after imports, re-imports and upgrades."""

import re

from retainly import Workspace
from retainly.store import purchases, schema
from retainly.store.migrations import MIGRATIONS
from tests.conftest import DATA


def assert_in_step(ws: Workspace) -> None:
    stored = ws.store.table("purchases").to_pyarrow().sort_by("order_id")
    derived = purchases.purchase_orders(ws.store.table("orders"), ws.store.table("order_lines"))
    assert stored.to_pylist() == derived.to_pyarrow().sort_by("order_id").to_pylist()


def test_imports_keep_purchases_in_step(workspace, tmp_path):
    workspace.data.import_file("orders", DATA / "native" / "orders.csv")
    assert_in_step(workspace)
    # A later export changes order 1002 to cancelled: its purchase row must go.
    changed = tmp_path / "orders.csv"
    lines = (DATA / "native" / "orders.csv").read_text().splitlines()
    changed.write_text("\n".join([lines[0]] + [line.replace(",completed,", ",cancelled,") if line.startswith("1002,")
                                               else line for line in lines[1:]]) + "\n")
    workspace.data.import_file("orders", changed)
    assert_in_step(workspace)
    ids = {row[0] for row in workspace.store.fetchall("SELECT order_id FROM purchases")}
    assert "1002" not in ids and "1001" in ids


def test_upgrade_fills_purchases_from_existing_orders(tmp_path):
    with Workspace.open(f"duckdb:///{tmp_path}/s.duckdb") as ws:
        ws.data.import_file("orders", DATA / "native" / "orders.csv")
        expected = ws.store.fetchone("SELECT COUNT(*) FROM purchases")[0]
        # Back to a version-3 store with its orders: drop the later tables and migration records.
        later = [m for m in MIGRATIONS if m.version >= 4]
        for migration in later:
            for statement in migration.statements:
                if statement.lstrip().startswith("CREATE TABLE"):
                    name = statement.replace("IF NOT EXISTS ", "").split()[2]
                    ws.store.execute(f"DROP TABLE IF EXISTS {name}")
                added = re.match(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", statement)
                if added:  # a column a later migration added to an older table (or to one dropped here)
                    ws.store.execute(f"ALTER TABLE IF EXISTS {added[1]} DROP COLUMN IF EXISTS {added[2]}")
            for sequence, _table, _column in migration.sequences:
                ws.store.execute(f"DROP SEQUENCE {sequence}")
        ws.store.execute("DELETE FROM retainly_schema WHERE version >= 4")
        assert [m.version for m in schema.upgrade(ws.store)] == [m.version for m in later]
        assert ws.store.fetchone("SELECT COUNT(*) FROM purchases")[0] == expected > 0
        assert_in_step(ws)
