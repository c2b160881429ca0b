"""Migration 22: on DuckDB, the per-date result tables without primary keys.

``customer_scores``, ``rfm_scores``, ``lifecycle_stages``, ``churn_signals`` and ``buyer_types``
hold one row per customer and date, and are only ever written by ``Store.replace_rows``, which
deletes a date's rows and inserts the new ones in one transaction: the key never rejects a row.
On DuckDB it costs much: the engine keeps an ART index over every key in memory, and replacing
20 M rows of a date under it took 56.9 s against 5.8 s without it (``benchmarks/RESULTS.md``).
Lookups lose little: the rows of a date are written in customer order, so DuckDB's per-block
min/max skip all but a block or two when a page reads one customer. PostgreSQL keeps its keys,
which its readers use.

DuckDB cannot drop a primary key in place, so each table is made again without it and its rows
copied over.
"""

from __future__ import annotations

from retainly.store.migration_type import Migration

# Each table as the migrations that made it define it (v3, v5 with v10's order_chance, v6), less the key.
TABLES = {
    "rfm_scores": (
        "as_of DATE NOT NULL", "customer_id BIGINT NOT NULL", "recency_days INTEGER NOT NULL",
        "frequency INTEGER NOT NULL", "monetary DECIMAL(18,4) NOT NULL", "r_score INTEGER NOT NULL",
        "f_score INTEGER NOT NULL", "m_score INTEGER NOT NULL", "segment TEXT NOT NULL", "bins INTEGER NOT NULL",
        "computed_at TIMESTAMP NOT NULL"),
    "customer_scores": (
        "as_of DATE NOT NULL", "customer_id BIGINT NOT NULL", "fit_id BIGINT NOT NULL", "model TEXT NOT NULL",
        "p_alive DOUBLE PRECISION NOT NULL", "expected_orders DOUBLE PRECISION NOT NULL",
        "p_order DOUBLE PRECISION NOT NULL", "expected_spend DOUBLE PRECISION", "clv DOUBLE PRECISION",
        "next_order_date DATE", "confidence TEXT NOT NULL", "order_chance DOUBLE PRECISION"),
    "lifecycle_stages": (
        "as_of DATE NOT NULL", "customer_id BIGINT NOT NULL", "stage TEXT NOT NULL", "vip BOOLEAN NOT NULL",
        "rhythm_days DOUBLE PRECISION NOT NULL", "days_since_last INTEGER NOT NULL", "p_alive DOUBLE PRECISION",
        "value DOUBLE PRECISION NOT NULL", "reason TEXT NOT NULL", "computed_at TIMESTAMP NOT NULL"),
    "churn_signals": (
        "as_of DATE NOT NULL", "customer_id BIGINT NOT NULL", "risk_score DOUBLE PRECISION NOT NULL",
        "sign_count INTEGER NOT NULL", "signs TEXT NOT NULL", "computed_at TIMESTAMP NOT NULL"),
    "buyer_types": (
        "as_of DATE NOT NULL", "customer_id BIGINT NOT NULL", "buyer_type TEXT NOT NULL", "source TEXT NOT NULL",
        "probability DOUBLE PRECISION", "reason TEXT NOT NULL", "computed_at TIMESTAMP NOT NULL"),
}


def _rebuilt(table: str, columns: tuple[str, ...]) -> tuple[str, ...]:
    return (f"CREATE TABLE {table}_keyless ({', '.join(columns)})",
            f"INSERT INTO {table}_keyless SELECT * FROM {table}", f"DROP TABLE {table}",
            f"ALTER TABLE {table}_keyless RENAME TO {table}")


V22_KEYLESS_RESULTS = Migration(
    22,
    "DuckDB: the per-date result tables (scores, RFM, stages, churn signs, buyer types) without primary keys",
    tuple(statement for table, columns in TABLES.items() for statement in _rebuilt(table, columns)),
    engines=("duckdb",),
)
