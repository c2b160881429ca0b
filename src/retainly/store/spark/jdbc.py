"""Spark reading a PostgreSQL store's tables over JDBC, one task per partition, instead of copies.

Nothing is copied: each read sees the store as it is now (its committed rows: Spark's
connections are not the store's own). A table kept by month (or by date) is read as one query
per month, which Spark runs in parallel; other tables in one query. It needs PostgreSQL's JDBC
driver on Spark's class path (``spark.jars``; Debian's libpostgresql-jdbc-java is used by default).
"""

from __future__ import annotations

from typing import Any

from retainly.store.backends import Store
from retainly.store.spark.publish import BY_ORDER, partition_sql


def read_over_jdbc(session: Any, record: Store, table: str) -> Any:
    """A DataFrame of ``table`` of the PostgreSQL store ``record``."""
    url = record.url
    properties = {"driver": "org.postgresql.Driver", "user": url.user or "", "password": url.password or "",
                  # times without a zone, as the store keeps them (and as the published copies are)
                  "preferTimestampNTZ": "true"}
    jdbc_url = f"jdbc:postgresql://{url.host}:{url.port}/{url.database or ''}"
    part, source = partition_sql(record, table)
    parts = [] if part == "0" else [n for (n,) in record.fetchall(f"SELECT DISTINCT {part} FROM {source} ORDER BY 1")]
    if len(parts) <= 1:
        return session.read.jdbc(jdbc_url, table, properties=properties)
    # Spark runs SELECT * FROM <table> WHERE <predicate> for each, the table under its own name.
    if table in BY_ORDER:
        predicates = [f"order_id IN (SELECT t.order_id FROM {source} WHERE {part} = {n})" for n in parts]
    else:
        own = partition_sql(record, table, alias=table)[0]
        predicates = [f"{own} = {n}" for n in parts]
    return session.read.jdbc(jdbc_url, table, predicates=predicates, properties=properties)
