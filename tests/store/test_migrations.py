"""A store made at schema version 1 upgrades in place, keeping its data."""

from decimal import Decimal

import pytest

from retainly import Workspace
from retainly.cli.app import main
from retainly.errors import SchemaVersionError
from retainly.store import connect, schema
from retainly.store.migrations import LATEST_VERSION
from tests.cli.running import run
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


# Schema version 6 as it shipped first (commit 0839de1): three tables. Four more were added to
# v6 later (f7b6627), so a store made in between is "at version 6" without them.
V6_AS_SHIPPED = (
    """CREATE TABLE lifecycle_stages (
        as_of DATE NOT NULL,
        customer_id BIGINT NOT NULL,
        stage TEXT NOT NULL,
        vip BOOLEAN NOT NULL,
        rhythm_days DOUBLE PRECISION NOT NULL,
        days_since_last INTEGER NOT NULL,
        p_alive DOUBLE PRECISION,
        value DOUBLE PRECISION NOT NULL,
        reason TEXT NOT NULL,
        computed_at TIMESTAMP NOT NULL,
        PRIMARY KEY (as_of, customer_id)
    )""",
    """CREATE TABLE lifecycle_transitions (
        customer_id BIGINT NOT NULL,
        from_date DATE NOT NULL,
        to_date DATE NOT NULL,
        from_stage TEXT NOT NULL,
        to_stage TEXT NOT NULL,
        PRIMARY KEY (customer_id, from_date, to_date)
    )""",
    """CREATE TABLE churn_signals (
        as_of DATE NOT NULL,
        customer_id BIGINT NOT NULL,
        risk_score DOUBLE PRECISION NOT NULL,
        sign_count INTEGER NOT NULL,
        signs TEXT NOT NULL,
        computed_at TIMESTAMP NOT NULL,
        PRIMARY KEY (as_of, customer_id)
    )""",
)
ADDED_TO_V6_LATER = {"buyer_types", "product_intervals", "reorders_due", "next_products"}


def make_in_between_v6_store(url: str, with_buyer_types: bool = False) -> None:
    """A store made by the retainly released between the two versions of v6, holding import 7 and customer 41."""
    store = connect(url)
    schema.upgrade(store, target=5)
    with store.transaction():
        for statement in V6_AS_SHIPPED:
            store.execute(statement)
        store.execute("INSERT INTO retainly_schema (version, name, applied_at) VALUES "
                      "(6, 'lifecycle stages and their transitions, churn warning signs', TIMESTAMP '2026-11-23 16:00:00')")
        store.execute("INSERT INTO customers (customer_id, external_id) VALUES (41, '99999')")
        store.execute(
            "INSERT INTO imports (import_id, kind, source, preset, content_hash, rows_read, rows_accepted, rows_rejected, "
            "started_at, finished_at, status) VALUES (7, 'customers', 'old.csv', 'native', 'x', 1, 1, 0, "
            "TIMESTAMP '2026-11-23 16:01:00', TIMESTAMP '2026-11-23 16:01:01', 'completed')")
        if with_buyer_types:  # one of the four already made by hand: the repair keeps it and its rows
            store.execute(
                "CREATE TABLE buyer_types (as_of DATE NOT NULL, customer_id BIGINT NOT NULL, buyer_type TEXT NOT NULL, "
                "source TEXT NOT NULL, probability DOUBLE PRECISION, reason TEXT NOT NULL, "
                "computed_at TIMESTAMP NOT NULL, PRIMARY KEY (as_of, customer_id))")
            store.execute("INSERT INTO buyer_types VALUES (DATE '2010-01-01', 41, 'active', 'rules', NULL, 'r', "
                          "TIMESTAMP '2026-11-23 16:02:00')")
    store.close()


def _columns(store, table: str) -> list[tuple[str, str]]:
    return sorted(store.fetchall("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
                                 (table,)))


@pytest.mark.parametrize("with_buyer_types", [False, True], ids=["none-of-the-four", "one-already-there"])
def test_in_between_v6_store_is_repaired_by_upgrade(store_url, tmp_path, capsys, with_buyer_types):
    make_in_between_v6_store(store_url, with_buyer_types)
    with pytest.raises(SchemaVersionError, match="the store is at schema version 6, this retainly needs"):
        Workspace.open(store_url)
    assert run(["--db", store_url, "db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert "applied 7: erasures" in out and "applied 8: repair" in out and "applied 9: sequences" in out
    fresh_url = f"duckdb:///{tmp_path}/fresh.duckdb"
    with Workspace.open(store_url) as ws, Workspace.open(fresh_url) as fresh:
        assert ADDED_TO_V6_LATER <= ws.store.table_names()
        for table in ADDED_TO_V6_LATER:  # as a store made new has them (types as each engine names them)
            assert [name for name, _ in _columns(ws.store, table)] == [name for name, _ in _columns(fresh.store, table)]
        kept = ws.store.fetchall("SELECT customer_id, buyer_type FROM buyer_types")
        assert kept == ([(41, "active")] if with_buyer_types else [])
        # Ids continue after what the old store holds: import 7, customer 41.
        result = ws.data.import_file("orders", DATA / "online_retail_ii_tiny.csv", preset="online-retail-ii")
        assert result.import_id == 8
        assert sorted(ws.store.fetchall("SELECT external_id, customer_id FROM customers")) == [
            ("12346", 42), ("13085", 43), ("99999", 41)]
    # The commands that crashed on the missing tables work.
    assert run(["--db", store_url, "buyer-types", "--json"]) == 0
    assert run(["--db", store_url, "customer", "show", "13085", "--json"]) == 0
    assert run(["--db", store_url, "report", "--out", str(tmp_path / "report.html")]) == 0
    # Upgrading again finds nothing to do.
    with Workspace.open_unchecked(store_url) as ws:
        assert ws.schema.upgrade() == []


def test_a_migration_for_one_engine_is_recorded_on_both_and_runs_on_its_own(store_url):
    """v12 drops the outbox's two indexes on DuckDB only (checked in each engine's catalog)."""
    ws = Workspace.open(store_url)
    try:
        store = ws.store
        assert store.fetchone("SELECT MAX(version) FROM retainly_schema")[0] == LATEST_VERSION
        if store.backend_name == "duckdb":
            names = {n for (n,) in store.fetchall("SELECT index_name FROM duckdb_indexes() WHERE table_name = 'outbox'")}
        else:
            names = {n for (n,) in store.fetchall("SELECT indexname FROM pg_indexes WHERE tablename = 'outbox'")}
        expected = set() if store.backend_name == "duckdb" else {"outbox_by_status", "outbox_by_customer"}
        assert names & {"outbox_by_status", "outbox_by_customer"} == expected
    finally:
        ws.close()
