"""A migration: a version, a name and its statements (retainly.store.migrations lists them)."""

from __future__ import annotations

from dataclasses import dataclass

@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]
    # Derived tables to fill from the data already in the store, with today's definition
    # (see retainly.store.schema.DERIVED).
    derived: tuple[str, ...] = ()
    # Sequences to create, each starting after the highest id already stored: (sequence, table, column).
    sequences: tuple[tuple[str, str, str], ...] = ()
    # The engines whose stores run the statements; on the others the migration is only recorded.
    engines: tuple[str, ...] = ("duckdb", "postgres")
