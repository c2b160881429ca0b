"""Store URLs as users type them."""

from pathlib import Path

import pytest

from retainly.errors import InputError
from retainly.store.urls import parse_url
from tests.conftest import DATA


@pytest.mark.parametrize("text, path", [
    ("duckdb:///relative.duckdb", Path("relative.duckdb")),
    ("duckdb:////abs/path/shop.duckdb", Path("/abs/path/shop.duckdb")),
    ("shop.duckdb", Path("shop.duckdb")),
    ("/abs/shop.duckdb", Path("/abs/shop.duckdb")),
])
def test_duckdb_forms(text, path):
    parsed = parse_url(text)
    assert (parsed.backend, parsed.path) == ("duckdb", path)


def test_postgres_url():
    parsed = parse_url("postgresql://shop:secret@db.internal:5433/retail")
    assert (parsed.backend, parsed.user, parsed.password, parsed.host, parsed.port, parsed.database) == (
        "postgres", "shop", "secret", "db.internal", 5433, "retail")
    assert "secret" not in parsed.display()


def test_unknown_scheme():
    with pytest.raises(InputError, match=r"unsupported database URL 'mysql://x/y'; use duckdb:///"):
        parse_url("mysql://x/y")


def test_environment_variable_picks_the_store(tmp_path, monkeypatch, capsys):
    from retainly.cli.app import main

    monkeypatch.setenv("RETAINLY_DATABASE_URL", f"duckdb:///{tmp_path}/env.duckdb")
    main(["import", "orders", str(DATA / "native" / "orders.csv")])
    assert (tmp_path / "env.duckdb").exists()
    capsys.readouterr()
    main(["summary", "--json"])
    out = capsys.readouterr().out
    # Customers' purchase orders in the file: 1001, 1002 and 1005 (1004 is cancelled); 1003 is a guest's.
    assert '"orders": 3,' in out and '"guest_orders": 1,' in out
