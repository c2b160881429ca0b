"""Schema versions: read the store's version, and upgrade it in place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from retainly.errors import SchemaVersionError
from retainly.store import customer_months, purchases
from retainly.store.backends import Store
from retainly.store.connect import missing_store
from retainly.store.migrations import LATEST_VERSION, MIGRATIONS, SCHEMA_TABLE_DDL, Migration

# How to fill each derived table from the rest of the store. Migration 4 fills purchases before
# customer_months exists (migration 21 fills that).
DERIVED = {"purchases": lambda store: purchases.rebuild(store, months=False),
           "customer_months": customer_months.rebuild}


@dataclass(frozen=True)
class SchemaStatus:
    version: int  # 0 for an empty store
    latest: int
    pending: tuple[Migration, ...]

    @property
    def is_current(self) -> bool:
        return self.version == self.latest


def current_version(store: Store) -> int:
    """The highest migration applied to ``store``, or 0 when it holds no retainly schema."""
    if "retainly_schema" not in store.table_names():
        return 0
    row = store.fetchone("SELECT MAX(version) FROM retainly_schema")
    return int(row[0] or 0)


def status(store: Store) -> SchemaStatus:
    version = current_version(store)
    return SchemaStatus(version, LATEST_VERSION, tuple(m for m in MIGRATIONS if m.version > version))


def upgrade(store: Store, target: int = LATEST_VERSION) -> list[Migration]:
    """Apply every migration above the store's version up to ``target``; each is one transaction."""
    version = current_version(store)
    if version > LATEST_VERSION:
        raise SchemaVersionError(
            f"the store is at schema version {version}, newer than this retainly knows ({LATEST_VERSION}); "
            "upgrade retainly (pip install -U retainly)"
        )
    applied = []
    for migration in MIGRATIONS:
        if version < migration.version <= target:
            with store.transaction():
                # Another command may have applied it meanwhile (on PostgreSQL this transaction waited for it).
                if current_version(store) >= migration.version:
                    continue
                store.execute(SCHEMA_TABLE_DDL)
                for statement in migration.statements if store.backend_name in migration.engines else ():
                    store.execute(statement)
                for table in migration.derived:
                    DERIVED[table](store)
                for sequence, table, column in migration.sequences:
                    start = int(store.fetchone(f"SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}")[0])
                    store.execute(f"CREATE SEQUENCE {sequence} START WITH {start}")
                store.execute(
                    "INSERT INTO retainly_schema (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, datetime.now().replace(microsecond=0)),
                )
            applied.append(migration)
    return applied


def require_current(store: Store, create: bool = True) -> None:
    """Make a new store current (or, unless ``create``, refuse it as missing); refuse to work on
    an old one until it is upgraded on purpose."""
    version = current_version(store)
    if version == 0 and not (store.table_names() - {"retainly_schema"}):
        if not create:
            raise missing_store(store.url)
        upgrade(store)
        return
    if version == LATEST_VERSION:
        return
    if version > LATEST_VERSION:
        raise SchemaVersionError(
            f"the store is at schema version {version}, newer than this retainly knows ({LATEST_VERSION}); "
            "upgrade retainly (pip install -U retainly)"
        )
    if version == 0:
        raise SchemaVersionError(
            f"{store.url.display()} holds tables but no retainly schema; point `url` at a new or retainly store",
            parameter="url",
        )
    raise SchemaVersionError(
        f"the store is at schema version {version}, this retainly needs {LATEST_VERSION}; "
        "run `retainly db upgrade` (back it up first)"
    )


def row_counts(store: Store) -> dict[str, int]:
    """Rows per store table, the schema bookkeeping aside."""
    names = sorted(store.table_names() - {"retainly_schema"})
    return {name: int(store.fetchone(f"SELECT COUNT(*) FROM {name}")[0]) for name in names}
