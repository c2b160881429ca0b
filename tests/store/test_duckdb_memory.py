"""RETAINLY_DUCKDB_MEMORY: the most memory DuckDB may use for an embedded store (docs/deploy.md)."""

from __future__ import annotations

import pytest

from retainly import Workspace
from retainly.errors import StoreError
from tests.cli.running import run


def test_the_limit_is_duckdbs_memory_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("RETAINLY_DUCKDB_MEMORY", "300MB")
    with Workspace.open(f"duckdb:///{tmp_path / 'store.duckdb'}") as ws:
        shown = ws.store.fetchone("SELECT current_setting('memory_limit')")[0]
    # DuckDB shows the limit in binary units: 300 MB = 300,000,000 bytes = 286.1 MiB (by hand: 300e6 / 2**20).
    assert shown == "286.1 MiB"


def test_without_it_duckdb_keeps_its_own_default(tmp_path, monkeypatch):
    monkeypatch.delenv("RETAINLY_DUCKDB_MEMORY", raising=False)
    with Workspace.open(f"duckdb:///{tmp_path / 'store.duckdb'}") as ws:
        shown = ws.store.fetchone("SELECT current_setting('memory_limit')")[0]
    assert shown != "286.1 MiB" and shown.split()[1] in ("GiB", "MiB")


def test_a_bad_amount_is_named_and_no_store_is_made(tmp_path, monkeypatch, capsys):
    existing = tmp_path / "store.duckdb"
    with Workspace.open(f"duckdb:///{existing}", upgrade=True):
        pass
    monkeypatch.setenv("RETAINLY_DUCKDB_MEMORY", "lots")
    new = tmp_path / "new.duckdb"
    with pytest.raises(StoreError, match="RETAINLY_DUCKDB_MEMORY='lots' is not an amount of memory"):
        Workspace.open(f"duckdb:///{new}")
    assert not new.exists()
    assert run(["--db", str(existing), "kpis"]) != 0
    err = capsys.readouterr().err
    assert "RETAINLY_DUCKDB_MEMORY='lots'" in err and "6GB" in err and "Traceback" not in err
