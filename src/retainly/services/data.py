"""Data in and what the store holds: imports, the generator, the summary, the schema."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

from retainly.errors import InputError
from retainly.features.orders import analysed_window, left_out_orders, purchase_span
from retainly.features.summary import store_summary
from retainly.ingest.load import ledger
from retainly.ingest.pipeline import IMPORT_KINDS, import_file
from retainly.ingest.removal import KINDS as DELETE_KINDS
from retainly.ingest.rejects import recorded as recorded_rejects
from retainly.ingest.removal import delete, undo_import
from retainly.results import ImportRecord, ImportResult, StoreSummary
from retainly.results.data import ImportReject, PublishedTable
from retainly.results.base import rows
from retainly.results.removal import Deletion, LeftOutOrders, OrderDate
from retainly.services.base import Service
from retainly.store import schema
from retainly.synth import PHASES, generate_shop
from retainly.synth.files import generate_into, write_shop

__all__ = ["DELETE_KINDS", "GENERATOR_PHASES", "IMPORT_KINDS", "SHOP_FILE_FORMATS", "DataService", "SchemaService",
           "write_generated_shop"]

GENERATOR_PHASES = PHASES  # the progress steps of ``generate``, in order
SHOP_FILE_FORMATS = ("csv", "parquet")


class DataService(Service):
    """Imports, the generator and what the store holds."""

    def import_file(self, kind: str, path: str | Path, **options) -> ImportResult:
        """Import one export file; see ``retainly.ingest.pipeline.import_file`` for the options.
        The plausible dates come from the [import] section of the settings file."""
        options.setdefault("settings", self.settings.imports)
        return import_file(self.store, kind, path, **options)

    def generate(self, customers: int, seed: int, progress: Callable[[str], None] | None = None) -> int:
        """Generate a shop and load it straight into the store; return the import id."""
        return generate_into(self.store, customers, seed, progress=progress)

    def summary(self) -> StoreSummary:
        return StoreSummary(**store_summary(self.store))

    def table_rows(self) -> dict[str, int]:
        """Rows per store table (the schema bookkeeping aside)."""
        return schema.row_counts(self.store)

    def imports(self) -> list[ImportRecord]:
        """The imports ledger, oldest first."""
        return rows(ImportRecord, ledger(self.store))

    def rejects(self, import_id: int) -> list[ImportReject]:
        """The rows import ``import_id`` rejected, as the store recorded them, in file order."""
        return [ImportReject(source=row["source"], sheet=row["sheet"], line=row["line"], column=row["column_name"],
                             value=row["value"], reason=row["reason"])
                for row in recorded_rejects(self.store, import_id)]

    def delete(self, kind: str | None = None, ids: Sequence[str] = (), *, import_id: int | None = None,
               dry_run: bool = False) -> Deletion:
        """Delete orders, customers or returns by the shop's ids (``kind``, ``ids``), or undo import
        ``import_id``, in one transaction; see ``retainly.ingest.removal`` for what goes with what.
        ``dry_run`` counts what would go and changes nothing."""
        if import_id is not None:
            if kind is not None or ids:
                raise InputError("give either `kind` with `ids` or `import_id`, not both", parameter="import_id")
            done = undo_import(self.store, import_id, dry_run=dry_run)
            return Deletion(kind="import", ids=[], import_id=int(import_id), dry_run=dry_run, **done)
        if kind is None:
            raise InputError(f"say what to delete: one of {', '.join(DELETE_KINDS)} with ids, or an import id",
                             parameter="kind")
        done = delete(self.store, kind, list(ids), dry_run=dry_run)
        return Deletion(kind=kind, ids=[str(value) for value in dict.fromkeys(ids)], dry_run=dry_run, **done)

    def left_out_orders(self) -> LeftOutOrders:
        """Purchase orders dated outside the window analyses read (before 1900, after tomorrow)."""
        count, first = left_out_orders(self.store)
        start, end = analysed_window()
        return LeftOutOrders(count=count, analysed_from=start.date(), analysed_through=(end - timedelta(days=1)).date(),
                             first=[OrderDate(order_id=order_id, placed_at=text) for order_id, text in first])

    def last_order_date(self) -> date:
        """The date analyses describe by default: the day of the last purchase order in the store."""
        last = purchase_span(self.store)[1]
        if last is None:
            raise InputError("the store has no purchase orders yet; import orders first (see `retainly import --help`)")
        return last.date()


def write_generated_shop(customers: int, seed: int, folder: Path, file_format: str = "csv", dirty: bool = False,
                         progress: Callable[[str], None] | None = None) -> list[Path]:
    """Generate a shop and write it as export files in the native layout (no store needed);
    return the files to import, people and products first. ``progress`` hears each phase and "writing"."""
    if file_format not in SHOP_FILE_FORMATS:
        raise InputError(f"`file_format` {file_format!r} is not supported; use csv or parquet", parameter="file_format")
    batch = generate_shop(customers, seed, progress=progress)
    if progress:
        progress("writing")
    return write_shop(batch, folder, file_format, dirty=dirty, seed=seed)


class SchemaService(Service):
    """The store's schema version and its upgrade."""

    def status(self) -> schema.SchemaStatus:
        return schema.status(self.store)

    def upgrade(self) -> list:
        """Apply the pending migrations, each in its own transaction; return them."""
        return schema.upgrade(self.store)

    def publish(self, tables: Sequence[str] | None = None) -> list[PublishedTable]:
        """Publish the store's tables (default: the imported ones) to the analytics engine, rewriting
        only the partitions that changed. Without Spark as the engine there is nothing to publish:
        an empty list. (Analytic queries publish what they read by themselves; this is for after
        imports, so that the next one starts at once.)"""
        return rows(PublishedTable, self.analytics.publish(tables))
