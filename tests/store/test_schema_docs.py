"""docs/schema.md describes every table and column of the current schema, and nothing else."""

import re

from retainly import Workspace
from retainly.store.migrations import MIGRATIONS
from tests.conftest import ROOT


def documented() -> dict[str, set[str]]:
    tables: dict[str, set[str]] = {}
    current = None
    for line in (ROOT / "docs" / "schema.md").read_text().splitlines():
        heading = re.match(r"^## (\w+)$", line)
        if heading:
            current = tables.setdefault(heading.group(1), set())
        row = re.match(r"^\| (\w+) \| [A-Z]", line)
        if row and current is not None:
            current.add(row.group(1))
    return tables


def test_every_table_and_column_is_documented(tmp_path):
    with Workspace.open(f"duckdb:///{tmp_path}/s.duckdb") as ws:
        actual = {
            table: {name for (name,) in ws.store.fetchall(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", (table,))}
            for table in ws.store.table_names()
        }
    assert documented() == actual


def test_every_sequence_is_documented():
    text = (ROOT / "docs" / "schema.md").read_text()
    for migration in MIGRATIONS:
        for sequence, table, column in migration.sequences:
            assert f"`{sequence}` ({table}.{column})" in text
