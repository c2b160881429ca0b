"""A store made at schema version 1 upgrades in place, keeping its data."""

from decimal import Decimal

import pytest

from retainly import Workspace
from retainly.cli.app import main
from retainly.errors import SchemaVersionError
from retainly.store import connect, schema
from retainly.store.migrations import LATEST_VERSION
from tests.conftest import DATA


def make_version_1_store(url: str) -> None:
    """What retainly's first schema version wrote: the v1 tables and one order."""
    store = connect(url)
    schema.upgrade(store, target=1)
    store.execute("INSERT INTO customers (customer_id, external_id, country) VALUES (1, '13085', 'United Kingdom')")
    store.execute(
        "INSERT INTO orders (order_id, customer_id, placed_at, status, currency, gross, discount, shipping, tax, net, "
        "channel) VALUES ('100001', 1, TIMESTAMP '2010-11-30 09:00:00', 'completed', 'GBP', 83.40, 0, 0, 0, 83.40, 'online')")
    store.execute(
        "INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price, discount, amount, kind) "
        "VALUES ('100001', 1, '85048', 12, 6.95, 0, 83.40, 'merchandise')")
    store.close()


def test_old_store_is_refused_until_upgraded(store_url):
    make_version_1_store(store_url)
    with pytest.raises(SchemaVersionError) as error:
        Workspace.open(store_url)
    assert str(error.value) == (f"the store is at schema version 1, this retainly needs {LATEST_VERSION}; "
                                "run `retainly db upgrade` (back it up first)")


def test_upgrade_from_version_1_keeps_data(store_url, capsys):
    make_version_1_store(store_url)
    with pytest.raises(SystemExit) as done:
        main(["--db", store_url, "db", "upgrade"])
        raise SystemExit(0)
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "applied 2: site events, promotion calendar" in out
    with Workspace.open(store_url) as ws:
        assert ws.schema.status().version == LATEST_VERSION
        assert ws.data.summary().gross_revenue == Decimal("83.40")
        assert {"site_events", "promotions", "generator_truth"} <= ws.store.table_names()
        # The upgraded store takes imports like a new one.
        ws.data.import_file("orders", DATA / "online_retail_ii_tiny.csv", preset="online-retail-ii")
        # The fixture's order 100001 replaces the old copy: 83.40 + 18.00 postage.
        assert ws.store.fetchone("SELECT net FROM orders WHERE order_id = '100001'")[0] == Decimal("101.40")
    # Upgrading a current store does nothing.
    with Workspace.open_unchecked(store_url) as ws:
        assert ws.schema.upgrade() == []


def test_db_status_json(store_url, capsys):
    make_version_1_store(store_url)
    with pytest.raises(SystemExit):
        main(["--db", store_url, "db", "status", "--json"])
        raise SystemExit(0)
    out = capsys.readouterr().out
    assert '"version": 1' in out and f'"latest": {LATEST_VERSION}' in out and '"pending": [' in out
