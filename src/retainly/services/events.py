"""Events as they happen: orders, returns, interactions, site events, customers, consent (docs/api.md, "Events")."""

from __future__ import annotations

from datetime import date
from typing import Any

from retainly.ingest.batch import INTERACTION_KINDS, LINE_KINDS, ORDER_CHANNELS, ORDER_STATUSES
from retainly.ingest.event_keys import ingest, ingest_together, refuse_bad_batch
from retainly.ingest.events import CONSENT_CHANNELS, KEY, KEY_LENGTH_LIMIT, KINDS, MAX_ITEMS, MAX_LINES, item_fields
from retainly.ingest.presets.native import Field
from retainly.results.events import EventBatch
from retainly.services.base import Service

# What an item of each kind may hold (``item_fields``, with the choices its fields allow): the
# API builds its request models and OpenAPI document from these, so they cannot drift apart.
__all__ = ["CONSENT_CHANNELS", "INTERACTION_KINDS", "KEY", "KEY_LENGTH_LIMIT", "KINDS", "LINE_KINDS", "MAX_ITEMS",
           "MAX_LINES", "ORDER_CHANNELS", "ORDER_STATUSES", "EventService", "Field", "item_fields", "refuse_bad_batch"]


class EventService(Service):
    """Batches of events, each item written once per idempotency key."""

    def ingest(self, kind: str, items: list[Any], today: date | None = None) -> EventBatch:
        """Check ``items`` (JSON objects of ``kind``, one of ``KINDS``) and write the valid ones in one
        transaction; each item's outcome: accepted, duplicate (with its first answer) or invalid
        (with the path and problem of each field at fault). The plausible dates come from the
        [import] section of the settings file, as for a file import; ``today`` defaults to the day it runs."""
        return ingest(self.store, kind, items, self.settings.imports, today)

    def ingest_together(self, kind: str, batches: list[list[Any]], today: date | None = None) -> list[EventBatch]:
        """Several batches that arrived at once, each answered as ``ingest`` would answer it alone, written
        together where they share no key and no record (``retainly.ingest.event_keys.ingest_together``)."""
        return ingest_together(self.store, kind, batches, self.settings.imports, today)
