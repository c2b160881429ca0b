"""Results about the store itself: what it holds, its imports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from retainly.results.base import Result


@dataclass(frozen=True, kw_only=True)
class StoreSummary(Result):
    """Customers, purchase orders and lines of known customers, revenue, guests and returns."""

    customers: int
    orders: int
    order_lines: int
    gross_revenue: Decimal
    guest_orders: int
    returns: int
    returned_amount: Decimal
    first_order_at: str | None
    last_order_at: str | None


@dataclass(frozen=True, kw_only=True)
class ImportRecord(Result):
    """One line of the imports ledger."""

    import_id: int
    kind: str
    source: str
    preset: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    started_at: datetime
    status: str


@dataclass(frozen=True, kw_only=True)
class ImportReject(Result):
    """One rejected row of an import as the store recorded it: where, which column and value, why."""

    source: str
    sheet: str | None
    line: int | None
    column: str | None
    value: str | None
    reason: str


@dataclass(frozen=True, kw_only=True)
class ImportResult(Result):
    """What one import did: rows read, accepted and rejected, and where the rejects went.

    ``rejects`` is the frame of rejected rows (file, line, column, value, reason);
    ``reject_examples`` describes the first few in words, for a shell to print.
    """

    source: str
    kind: str
    preset: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    import_id: int | None = None
    skipped_as_duplicate_of: int | None = None
    rejects_file: str | None = None
    rejects: Any = None
    reject_examples: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The JSON form the shells print (the rejects themselves are in the rejects file)."""
        return {
            "source": self.source, "kind": self.kind, "preset": self.preset, "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted, "rows_rejected": self.rows_rejected, "import_id": self.import_id,
            "already_imported_as": self.skipped_as_duplicate_of, "rejects_file": self.rejects_file,
        }

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class PublishedTable(Result):
    """One table's copy on the analytics engine brought up to the store: partitions rewritten,
    removed (no rows left) and kept as they were."""

    table: str
    written: int
    removed: int
    kept: int
