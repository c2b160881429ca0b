"""The core object: one store and everything retainly does with it.

The CLI, the API and notebooks call these methods; none of them holds business logic.

    >>> from retainly import Workspace
    >>> ws = Workspace.open("duckdb:///shop.duckdb")
    >>> ws.import_file("orders", "online_retail_II.csv.gz", preset="online-retail-ii")
    >>> ws.summary()["customers"]
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from retainly.ingest.pipeline import ImportResult, import_file
from retainly.settings import database_url
from retainly.store import schema
from retainly.store.backends import Store, connect


class Workspace:
    """A shop's store, opened from a database URL."""

    def __init__(self, store: Store):
        self.store = store

    @classmethod
    def open(cls, url: str | None = None, *, upgrade: bool = False) -> Workspace:
        """Open (or create) the store at ``url``; default: $RETAINLY_DATABASE_URL or ./retainly.duckdb.

        A new store gets the current schema. An older one must be upgraded on purpose:
        pass ``upgrade=True`` or run ``retainly db upgrade``.
        """
        store = connect(database_url(url))
        try:
            if upgrade:
                schema.upgrade(store)
            else:
                schema.require_current(store)
        except BaseException:
            store.close()
            raise
        return cls(store)

    @classmethod
    def open_unchecked(cls, url: str | None = None) -> Workspace:
        """Open without touching the schema (for `retainly db status` and `db upgrade`)."""
        return cls(connect(database_url(url)))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- data in ---------------------------------------------------------------------------
    def import_file(self, kind: str, path: str | Path, **options) -> ImportResult:
        """Import one export file; see ``retainly.ingest.pipeline.import_file`` for the options."""
        return import_file(self.store, kind, path, **options)

    def generate(self, customers: int, seed: int, progress: Callable[[str], None] | None = None) -> int:
        """Generate a shop and load it straight into the store; return the import id."""
        from retainly.shop_files import generate_into

        return generate_into(self.store, customers, seed, progress=progress)

    # -- what the store knows -----------------------------------------------------------
    def summary(self) -> dict:
        from retainly.features.summary import store_summary

        return store_summary(self.store)

    def table_rows(self) -> dict[str, int]:
        """Rows per store table (the retainly_schema bookkeeping aside)."""
        names = sorted(self.store.table_names() - {"retainly_schema"})
        return {name: int(self.store.fetchone(f"SELECT COUNT(*) FROM {name}")[0]) for name in names}

    def imports(self) -> list[dict]:
        rows = self.store.fetchall(
            "SELECT import_id, kind, source, preset, rows_read, rows_accepted, rows_rejected, started_at, status "
            "FROM imports ORDER BY import_id"
        )
        keys = ("import_id", "kind", "source", "preset", "rows_read", "rows_accepted", "rows_rejected", "started_at",
                "status")
        return [dict(zip(keys, row)) for row in rows]

    def schema_status(self) -> schema.SchemaStatus:
        return schema.status(self.store)

    def upgrade(self) -> list:
        return schema.upgrade(self.store)
