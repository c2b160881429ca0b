"""What posting a batch of events did, item by item (docs/api.md, "Events")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from retainly.results.base import Result

ITEM_STATUSES = ("accepted", "duplicate", "invalid")


@dataclass(frozen=True, kw_only=True)
class ItemError(Result):
    """One problem of an item: where (``items[3].lines[0].unit_price``) and what to do."""

    path: str
    message: str


@dataclass(frozen=True, kw_only=True)
class ItemOutcome(Result):
    """One item's answer. ``accepted``: written now; ``duplicate``: its idempotency key was written
    before (by an earlier batch, or an earlier item of this one), and ``id``, ``import_id`` and
    ``received_at`` are that first answer's; ``invalid``: not written, ``errors`` say why."""

    index: int
    idempotency_key: str | None
    status: str
    id: str | None = None
    import_id: int | None = None
    received_at: datetime | None = None
    errors: list[ItemError] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class EventBatch(Result):
    """A batch's items, in the order sent, and how many of each status."""

    kind: str
    accepted: int
    duplicates: int
    invalid: int
    items: list[ItemOutcome]
