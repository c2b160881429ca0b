"""The store the analytic services use when Spark is the analytics engine.

It is a ``Store`` with two engines behind it: Ibis table reads (``table``) and the temporary
results built from them (``scratch``) run on Spark, over Parquet copies of the store's tables
published just in time; SQL, transactions and every write go to the store of record. A derived
result computed on Spark comes back to the store of record in bulk, per date, replacing that
date's rows (``replace_rows``), so people and playbooks read it there as before. Feature code
never asks which engine it is on: what Spark does differently is here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
from ibis.backends.pyspark.datatypes import PySparkType
from ibis.formats.pyarrow import PyArrowData

from retainly.errors import NotFoundError
from retainly.store.backends import Store
from retainly.store.customer_months import month_facts
from retainly.store.purchases import purchase_orders
from retainly.store.spark.compiler import RetainlyPySparkCompiler
from retainly.store.spark.jdbc import read_over_jdbc
from retainly.store.spark.lakehouse import MAPPABLE, MappedTable, load_mapping, mapped_frame
from retainly.store.spark.publish import PARTITION, Publisher

# The shop's data: changed only by imports (deletions and undos included) and erasures, so a
# published copy checked once stays good until the ledger of those moves.
IMPORTED = frozenset({"customers", "orders", "order_lines", "returns", "purchases", "customer_months",
                      "marketing_spend", "interactions", "site_events", "products", "promotions"})
LEDGER = ("SELECT (SELECT COUNT(*) FROM imports), (SELECT MAX(finished_at) FROM imports), "
          "(SELECT COUNT(*) FROM imports WHERE status = 'undone'), (SELECT COUNT(*) FROM erasures)")


# Tables the store derives from others, derived on Spark from the same definitions when their
# sources are read from the lakehouse: (sources, definition over a table(name) function).
DERIVED = {
    "purchases": (("orders", "order_lines"), lambda table: purchase_orders(table("orders"), table("order_lines"))),
    "customer_months": (("orders", "order_lines"), lambda table: month_facts(table("purchases"))),
}


def _spark_type(kind) -> str:
    """Spark's name of an Ibis type; times without a zone stay without one, as in the published copies."""
    if kind.is_timestamp() and kind.timezone is None:
        return "timestamp_ntz"
    return PySparkType.from_ibis(kind).simpleString()


class SparkAnalytics(Store):
    """Spark for the analytic queries, ``record`` for everything that is kept."""

    def __init__(self, record: Store, session: Callable[[], Any], warehouse: str | Path,
                 mapping: str | Path | None = None, jdbc: bool = False):
        """``session`` makes (or finds) the Spark session: called at the first query, so that
        publishing alone never starts Spark. ``mapping`` is the lakehouse mapping file, if any;
        with ``jdbc`` Spark reads the (PostgreSQL) store's tables over JDBC instead of copies."""
        super().__init__(record.url, None, read_only=record.read_only)
        self.record = record
        self._session_factory = session
        self.publisher = Publisher(record, warehouse)
        self.backend_name = record.backend_name
        self.row_address = record.row_address
        self._mapping_file = mapping
        self.jdbc = jdbc
        self._checked: dict[str, tuple] = {}  # imported table -> the ledger when its copy was last checked

    @cached_property
    def session(self) -> Any:
        return self._session_factory()

    @property
    def ibis(self):
        if self._ibis is None:
            backend = ibis.pyspark.connect(self.session)
            backend.compiler = RetainlyPySparkCompiler()
            self._ibis = backend
        return self._ibis

    @ibis.setter
    def ibis(self, backend) -> None:
        self._ibis = backend

    # -- reads on Spark ----------------------------------------------------------------------
    def table(self, name: str):
        """A Spark table of the store's ``name``: the shop's own lakehouse table where the mapping file
        maps it, derived on Spark where its sources are mapped, else the Parquet copy of the store's
        table, published first if it is behind."""
        if name in self.mapping:
            return self._view(name, self._mapped(name))
        if name in DERIVED and any(source in self.mapping for source in DERIVED[name][0]):
            return DERIVED[name][1](self.table)
        if self.jdbc:
            return self._view(name, read_over_jdbc(self.session, self.record, name))
        self._publish_if_behind(name)
        return self._view(name, self.session.read.parquet(str(self.publisher.folder(name))).drop(PARTITION))

    def _publish_if_behind(self, name: str) -> None:
        """The copy of an imported table is checked (a scan of the table on the store) once per state of
        the imports ledger; any other table's at every read (results and actions change between)."""
        ledger = self.record.fetchone(LEDGER) if name in IMPORTED else None
        if ledger is None or self._checked.get(name) != ledger:
            self.publisher.publish(name)
            if ledger is not None:
                self._checked[name] = ledger

    def _view(self, name: str, frame):
        """``frame`` as an Ibis table; the view is made again each time so that Spark lists the files as
        they are now."""
        view = f"retainly_{name}"
        frame.createOrReplaceTempView(view)
        return self.ibis.table(view)

    @cached_property
    def mapping(self) -> dict[str, MappedTable]:
        if not self._mapping_file:
            return {}
        return load_mapping(self._mapping_file, {name: self.record.table(name).columns for name in MAPPABLE})

    def _mapped(self, name: str):
        schema = {column: _spark_type(kind) for column, kind in self.record.table(name).schema().items()}
        self._publish_if_behind("customers")
        customers = self.session.read.parquet(str(self.publisher.folder("customers")))
        return mapped_frame(self.session, self.mapping[name], schema, customers, str(self._mapping_file))

    def publish(self, tables: Sequence[str] | None = None) -> list[dict]:
        done = []
        for name in sorted(IMPORTED & self.record.table_names()) if tables is None else tables:
            if name not in self.record.table_names():
                raise NotFoundError(f"no table {name!r} in the store to publish; check the name (the imported "
                                    f"tables are {', '.join(sorted(IMPORTED))})", parameter="table")
            found = self.publisher.publish(name)
            done.append({"table": name, "written": len(found.written), "removed": len(found.removed),
                         "kept": found.kept})
        return done

    @contextmanager
    def scratch(self, expression) -> Iterator[Any]:
        """Spark has no temporary tables: a result read several times is cached in the executors' memory."""
        cached = expression.cache()
        try:
            yield cached
        finally:
            cached.release()

    @contextmanager
    def landed(self, expression) -> Iterator[str]:
        with self.record.staged(self.arrow(expression)) as name:
            yield name

    @contextmanager
    def uploaded(self, data: pa.Table) -> Iterator[Any]:
        """An Arrow table as a Spark table (Ibis makes it a DataFrame when a query reads it)."""
        yield ibis.memtable(data)

    # -- results back to the store of record -------------------------------------------------
    def replace_rows(self, table: str, rows, **key) -> None:
        self.record.replace_rows(table, rows if isinstance(rows, pa.Table) else self.arrow(rows), **key)

    def arrow(self, expression) -> pa.Table:
        """An expression's rows as Arrow straight from Spark, in the expression's schema. Ibis's own
        ``to_pyarrow`` goes through pandas, where every DECIMAL becomes a Python object: 6 s of a million
        rows of RFM facts, against 0.6 s with money as floats."""
        table = expression.as_table()
        self.ibis._run_pre_execute_hooks(table)  # what Ibis's own execute does first: registers memtables
        frame = self.session.sql(self.ibis.compile(table))
        return PyArrowData.convert_table(frame.toArrow(), table.schema())

    def insert_from(self, table: str, expression) -> None:
        self.record.insert_arrow(table, expression.to_pyarrow())

    # -- everything else is the store of record's --------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self._checked.clear()  # whatever it wrote, the next read checks again
        self.record.execute(sql, params)

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.record.fetchall(sql, params)

    def fetch_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        return self.record.fetch_arrow(sql, params)

    def changed(self, sql: str, params: Sequence[Any] | None = None) -> int:
        self._checked.clear()
        return self.record.changed(sql, params)

    def sha256_head(self, text: str) -> str:
        return self.record.sha256_head(text)

    def row_hash_sql(self, alias: str) -> str:
        return self.record.row_hash_sql(alias)

    def fresh_dates(self, table: str, stamp: str = "computed_at") -> set:
        return self.record.fresh_dates(table, stamp)

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        self.record.insert_arrow(table, data)

    def staged(self, data: pa.Table):
        return self.record.staged(data)

    def transaction(self):
        return self.record.transaction()

    def checkpoint_after(self):
        return self.record.checkpoint_after()

    def stage(self, name: str, data: pa.Table) -> None:
        self.record.stage(name, data)

    def unstage(self, name: str) -> None:
        self.record.unstage(name)

    def table_names(self) -> set[str]:
        return self.record.table_names()

    def close(self) -> None:
        """The Spark session serves the whole process (and the store of record its workspace): both stay open."""
