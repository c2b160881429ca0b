"""Results of taking data out of the store: deletions, erasures, and the orders analyses leave out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from retainly.results.base import Result


@dataclass(frozen=True, kw_only=True)
class Deletion(Result):
    """What one `delete` removed (or, with ``dry_run``, would remove), table by table.

    ``kind`` is orders, customers or returns with the ``ids`` asked for, or "import" with the
    undone ``import_id``. ``ledger_id`` is the ledger entry (kind ``delete``) that records it,
    None on a dry run. ``notes`` say what was left in place and why.
    """

    kind: str
    ids: list[str]
    import_id: int | None = None
    rows_removed: dict[str, int]
    dry_run: bool = False
    ledger_id: int | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Erasure(Result):
    """One customer's personal data erased (or, with ``dry_run``, what would be).

    ``external_id`` is the pseudonym the customer now has; ``fields`` the fields that held
    personal data (``table.column`` outside ``customers``); ``rows_changed`` the rows cleared
    per table. ``already_erased`` when the customer had been erased before (``erased_at`` is
    then that first time; the erasure ran again, in case data came back some other way).
    """

    customer_id: int
    external_id: str
    fields: list[str]
    rows_changed: dict[str, int]
    erased_at: datetime
    already_erased: bool = False
    dry_run: bool = False


@dataclass(frozen=True, kw_only=True)
class OrderDate(Result):
    order_id: str
    placed_at: str  # as the store prints it: a year past 9999 has no Python date


@dataclass(frozen=True, kw_only=True)
class LeftOutOrders(Result):
    """Purchase orders dated outside the window analyses read (from ``analysed_from`` through
    ``analysed_through``): how many, and the first few."""

    count: int
    analysed_from: date
    analysed_through: date
    first: list[OrderDate] = field(default_factory=list)
