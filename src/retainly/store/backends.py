"""Connections to the store: one class per engine (``retainly.store.connect`` opens one by URL).

Queries go through Ibis (``Store.ibis``) so that the same expression runs on every engine.
What Ibis does not cover — DDL, transactions and bulk loading of staged rows — lives here,
behind a small interface, so no other module asks which engine it is talking to.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv

from retainly.errors import StoreError
from retainly.store.urls import StoreURL


class Store:
    """An open store. Subclasses adapt one engine; everything else is shared.

    Raw SQL takes ``?`` placeholders on every engine.
    """

    backend_name = "?"
    # How to find again, in this same process, a row just read: the SQL of its address.
    # None: by the table's own key (PostgreSQL finds a key by its index; its ctid moves).
    row_address: str | None = None

    def __init__(self, url: StoreURL, ibis_backend: Any, read_only: bool = False):
        self.url = url
        self.ibis = ibis_backend
        self.read_only = read_only
        self._transaction_depth = 0

    # -- raw SQL -----------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        cursor = self._cursor()
        cursor.execute(sql, params) if params is not None else cursor.execute(sql)

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        cursor = self._cursor()
        cursor.execute(sql, params) if params is not None else cursor.execute(sql)
        return cursor.fetchall()

    def fetchone(self, sql: str, params: Sequence[Any] | None = None) -> tuple | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def fetch_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """A query's rows as an Arrow table, for callers that work on whole columns (no tuple per row)."""
        raise NotImplementedError

    def sha256_head(self, text: str) -> str:
        """SQL for the first 16 hex digits (8 bytes) of the SHA-256 of ``text``, an SQL text expression
        (its UTF-8 bytes), lowercase, comparing bytewise with other hex text."""
        raise NotImplementedError

    def row_hash_sql(self, alias: str) -> str:
        """SQL for an integer hash of the whole row of table alias ``alias`` (a fingerprint's part:
        summed over a table, it changes when any row does)."""
        raise NotImplementedError

    def changed(self, sql: str, params: Sequence[Any] | None = None) -> int:
        """Run an INSERT, UPDATE or DELETE; the number of rows it changed. (Cheaper than RETURNING,
        which on DuckDB makes a statement several times slower.)"""
        row = self.fetchone(sql, params)  # DuckDB answers such a statement with one row: the count
        return int(row[0]) if row else 0

    def insert_from(self, table: str, expression) -> None:
        """INSERT the rows of an Ibis expression into ``table`` without leaving the engine."""
        columns = ", ".join(f'"{name}"' for name in expression.columns)
        self.execute(f"INSERT INTO {table} ({columns}) {self.ibis.compile(expression)}")

    def replace_rows(self, table: str, rows, **key) -> None:
        """Replace the rows of ``table`` whose columns equal ``key`` (e.g. ``as_of=day``) by ``rows``,
        an Arrow table or an Ibis expression, in one transaction (or the caller's).

        Derived results are stored per date this way: recomputing a date never leaves two copies."""
        where = " AND ".join(f'"{column}" = ?' for column in key)
        with self.transaction():
            self.execute(f"DELETE FROM {table} WHERE {where}", tuple(key.values()))
            if isinstance(rows, pa.Table):
                if rows.num_rows:
                    self.insert_arrow(table, rows)
            else:
                self.insert_from(table, rows)

    def fresh_dates(self, table: str, stamp: str = "computed_at") -> set:
        """The ``as_of`` dates of ``table`` whose rows were written (column ``stamp``) after the last import.

        Derived results (scores, stages, ...) are kept per date and recomputed when older than the
        data: this is the one rule for "older"."""
        rows = self.fetchall(f"SELECT DISTINCT as_of FROM {table} WHERE {stamp} >= "
                             "(SELECT COALESCE(MAX(finished_at), TIMESTAMP '1900-01-01') FROM imports)")
        return {row[0] for row in rows}

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        """INSERT an Arrow table's rows into ``table`` (columns by name), inside the caller's transaction."""
        name = f"stage_{uuid.uuid4().hex[:12]}"
        columns = ", ".join(f'"{column}"' for column in data.column_names)
        self.stage(name, data)
        try:
            self.execute(f'INSERT INTO {table} ({columns}) SELECT {columns} FROM "{name}"')
        finally:
            self.unstage(name)

    @contextmanager
    def staged(self, data: pa.Table) -> Iterator[str]:
        """``data`` as a table the block's queries may join (its name), inside one transaction:
        a join on a staged list of ids beats an ``IN (...)`` list of thousands of parameters."""
        name = f"stage_{uuid.uuid4().hex[:12]}"
        with self.transaction():
            self.stage(name, data)
            try:
                yield name
            finally:
                self.unstage(name)

    @contextmanager
    def uploaded(self, data: pa.Table) -> Iterator[Any]:
        """``data`` as an Ibis table of the analytics engine, for the block's expressions to join (staged,
        inside one transaction): a small result computed in Python, joined to many rows without them
        coming out of the engine."""
        with self.staged(data) as name:
            yield self.table(name)

    @contextmanager
    def scratch(self, expression) -> Iterator[Any]:
        """Materialise an Ibis expression once as a temporary table, for several queries to read."""
        name = f"retainly_scratch_{uuid.uuid4().hex[:12]}"
        table = self.ibis.create_table(name, expression, temp=True)
        try:
            yield table
        finally:
            self.ibis.drop_table(name, force=True)

    @contextmanager
    def landed(self, expression) -> Iterator[str]:
        """The rows of an Ibis expression as a table this store's own SQL can name (its name), for
        the block: where the expression runs on another engine, its rows are brought here first."""
        with self.scratch(expression) as table:
            yield table.get_name()

    def publish(self, tables: Sequence[str] | None = None) -> list[dict]:
        """Bring the analytics engine's copies of ``tables`` (default: the imported ones) up to the
        store: per table, {table, written, removed, kept} partitions. The store's own engine reads
        its tables where they are: nothing to publish."""
        return []

    def table_names(self) -> set[str]:
        return set(self.ibis.list_tables())

    def table(self, name: str):
        """An Ibis table expression over a store table."""
        return self.ibis.table(name)

    # -- engine-specific -------------------------------------------------------------
    def _cursor(self):
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: commit at the end of the block, roll back on any exception.

        A transaction opened inside another joins it: the outer block commits or rolls back both."""
        if self.read_only:
            raise StoreError("the store was opened read-only, and this stores a result; open it without `read_only`",
                             parameter="read_only")
        if self._transaction_depth:
            self._transaction_depth += 1
            try:
                yield
            finally:
                self._transaction_depth -= 1
            return
        self._transaction_depth = 1
        try:
            with self._engine_transaction():
                yield
        finally:
            self._transaction_depth = 0

    def _engine_transaction(self):
        raise NotImplementedError

    @contextmanager
    def checkpoint_after(self) -> Iterator[None]:
        """Many write transactions in a row (a run): where the engine checkpoints by itself as its
        log grows, do it once at the end instead. (Nothing to do on PostgreSQL.)"""
        yield

    def stage(self, name: str, data: pa.Table) -> None:
        """Make ``data`` queryable as table ``name`` for the current transaction."""
        raise NotImplementedError

    def unstage(self, name: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        try:
            self.ibis.disconnect()
        except Exception:  # noqa: BLE001 - closing a broken connection must not mask the real error
            pass


class DuckDBStore(Store):
    """The embedded default: one DuckDB file, nothing to install.

    One process at a time may write (DuckDB locks the file); read-only opens can share it.
    """

    backend_name = "duckdb"
    # DuckDB looks rows up by rowid directly, while any `IN` list of keys scans the key column.
    # A rowid holds while this process writes the store (rows move only when deleted ones are compacted).
    row_address = "rowid"

    def __init__(self, url: StoreURL, ibis_backend: Any, read_only: bool = False, umask: int = 0o077):
        super().__init__(url, ibis_backend, read_only)
        # DuckDB creates the write-ahead log anew at each commit after a checkpoint, with the
        # process umask: writing under this one gives it the store file's own permissions.
        self._umask = umask

    def _cursor(self):
        return self.ibis.con

    @contextmanager
    def _engine_transaction(self) -> Iterator[None]:
        con = self.ibis.con
        previous = os.umask(self._umask)
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                yield
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            os.umask(previous)

    @contextmanager
    def checkpoint_after(self) -> Iterator[None]:
        """DuckDB checkpoints at the first commit after its log passes 16 MB, writing the changed
        blocks (and indexes) into the file again; a run's hundreds of commits (its inserts, a
        claim and a finish per batch) made dozens of checkpoints. The log may grow during the
        block (a crash replays it); one checkpoint at its end. At 1 M customers this cut a first
        run from 140 s to 96 s (benchmarks/RESULTS.md)."""
        con = self.ibis.con
        threshold = con.execute("SELECT current_setting('checkpoint_threshold')").fetchone()[0]
        con.execute("SET checkpoint_threshold = '64GB'")
        try:
            yield
        finally:  # after an error, the next commit past the threshold checkpoints
            con.execute(f"SET checkpoint_threshold = '{threshold}'")
        try:
            con.execute("CHECKPOINT")
        except duckdb.Error:  # another transaction of this process is open: DuckDB checkpoints later
            pass

    def sha256_head(self, text: str) -> str:
        return f"SUBSTR(sha256({text}), 1, 16)"

    def row_hash_sql(self, alias: str) -> str:
        return f"CAST(hash({alias}) AS HUGEINT)"

    def fetch_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        con = self.ibis.con
        return (con.execute(sql, params) if params is not None else con.execute(sql)).to_arrow_table()

    def stage(self, name: str, data: pa.Table) -> None:
        self.ibis.con.register(name, data)

    def unstage(self, name: str) -> None:
        self.ibis.con.unregister(name)


_ARROW_TO_POSTGRES = {
    pa.string(): "TEXT",
    pa.large_string(): "TEXT",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE PRECISION",
    pa.bool_(): "BOOLEAN",
    pa.date32(): "DATE",
}


def repeated(value: Any, arrow_type: pa.DataType, n: int) -> pa.Array:
    """``value`` ``n`` times as an Arrow column (a date, time or label shared by every row to insert),
    built by Arrow rather than as a list of ``n`` Python objects."""
    return pa.repeat(pa.scalar(value, arrow_type), n)


def _postgres_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP"
    if pa.types.is_decimal(arrow_type):
        return f"NUMERIC({arrow_type.precision},{arrow_type.scale})"
    try:
        return _ARROW_TO_POSTGRES[arrow_type]
    except KeyError:
        raise StoreError(f"cannot stage a column of type {arrow_type} in PostgreSQL") from None


# The advisory lock key that serialises writing transactions: "retainly" in ASCII, as a bigint.
WRITER_LOCK = int.from_bytes(b"retainly", "big")


class PostgresStore(Store):
    """The production store: a PostgreSQL server reached over a real connection."""

    backend_name = "postgres"

    def _cursor(self):
        return self.ibis.con.cursor()

    # SQL in retainly uses DuckDB's `?` placeholders; psycopg wants `%s`.
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        with self.ibis.con.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s") if params is not None else sql, params)

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        with self.ibis.con.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s") if params is not None else sql, params)
            return cursor.fetchall()

    def fetch_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        with self.ibis.con.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s") if params is not None else sql, params)
            names = [column.name for column in cursor.description]
            rows = cursor.fetchall()
        return pa.table({name: pa.array([row[index] for row in rows]) for index, name in enumerate(names)})

    def sha256_head(self, text: str) -> str:
        return f"SUBSTR(encode(sha256(convert_to({text}, 'UTF8')), 'hex'), 1, 16) COLLATE \"C\""

    def row_hash_sql(self, alias: str) -> str:
        return f"CAST(hashtext({alias}::text) AS BIGINT)"

    def changed(self, sql: str, params: Sequence[Any] | None = None) -> int:
        with self.ibis.con.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s") if params is not None else sql, params)
            return max(cursor.rowcount, 0)

    @contextmanager
    def _engine_transaction(self) -> Iterator[None]:
        with self.ibis.con.transaction():
            # One writer at a time per database (as on DuckDB): a second command's transaction
            # waits here for the first to commit, instead of colliding with it on a key.
            self.execute(f"SELECT pg_advisory_xact_lock({WRITER_LOCK})")
            yield

    def stage(self, name: str, data: pa.Table) -> None:
        columns = ", ".join(f'"{f.name}" {_postgres_type(f.type)}' for f in data.schema)
        self.execute(f'CREATE TEMP TABLE "{name}" ({columns}) ON COMMIT DROP')
        if data.num_rows == 0:
            return
        # Timestamps at microsecond resolution print in a form PostgreSQL's COPY accepts.
        data = data.cast(pa.schema([
            f.with_type(pa.timestamp("us")) if pa.types.is_timestamp(f.type) else f for f in data.schema
        ]))
        buffer = io.BytesIO()
        pa_csv.write_csv(data, buffer, pa_csv.WriteOptions(include_header=False))
        with self.ibis.con.cursor() as cursor:
            with cursor.copy(f'COPY "{name}" FROM STDIN (FORMAT csv)') as copy:
                copy.write(buffer.getbuffer())

    def unstage(self, name: str) -> None:
        # ON COMMIT DROP removes staged tables with their transaction.
        return None
