"""What became of a message after it left: one row per event in ``message_events``.

Kinds: ``bounce`` (hard), ``soft_bounce``, ``complaint`` (retainly.messaging.bounces),
``unsubscribe`` (the message's unsubscribe link) and ``feedback`` (its question answered; the
first answer's score). An event is written once: its id is made
from what it is, so reading the same report or following the same link again adds nothing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from retainly.messaging.consent import suppress_email
from retainly.store.backends import Store

UNSUBSCRIBED = "unsubscribe"


def event_id(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()[:40]


def record_event(store: Store, event: str, kind: str, message_key: str | None, customer_id: int, detail: str,
                 occurred_at: datetime, recorded_at: datetime) -> bool:
    """Write one event unless it is there already; whether it was new. Runs in the caller's transaction."""
    return store.changed(
        "INSERT INTO message_events (event_id, message_key, customer_id, kind, detail, occurred_at, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (event, message_key, customer_id, kind, detail[:500], occurred_at, recorded_at)) > 0


def count_events(store: Store, customer_id: int, kind: str) -> int:
    return int(store.fetchall("SELECT COUNT(*) FROM message_events WHERE customer_id = ? AND kind = ?",
                              (customer_id, kind))[0][0])


def unsubscribe(store: Store, customer_id: int, message_key: str, how: str, now: datetime) -> bool:
    """The customer unsubscribed through the link of ``message_key`` (``how``: one-click, page):
    their email suppressed and the event kept, at once and together; whether it was new."""
    with store.transaction():
        if not suppress_email(store, customer_id, "unsubscribed", f"{how} link of {message_key}", at=now):
            return False
        return record_event(store, event_id(UNSUBSCRIBED, message_key), UNSUBSCRIBED, message_key, customer_id, how,
                            now, now)
