"""Migration 17: email's own tables: the secrets that sign the links in messages, and what
became of messages after they left (bounces, complaints, unsubscribes, later opens and clicks).

Kept apart from retainly.store.migrations only for size; it is one of MIGRATIONS and frozen
the same way once released. The sender (`retainly run`) and the server that answers the links
(`retainly serve`) read the same store, so keeping the secret there needs no setting shared by
hand. A token names the version of the secret that signed it: a new version can be added to
rotate, and links already in mailboxes keep working (an unsubscribe link must work forever).

A message event is written once: its id is made from what it is (a bounce report read twice,
from the same mailbox export, is one event).
"""

from __future__ import annotations

from retainly.store.migration_type import Migration

V17_EMAIL = Migration(
    17,
    "email: the secrets that sign the links in messages, by version; events of messages sent (bounces, "
    "complaints, unsubscribes, opens, clicks, feedback); promo codes by pool",
    (
        """CREATE TABLE link_secrets (
            version INTEGER PRIMARY KEY,
            secret TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL
        )""",
        """CREATE TABLE message_events (
            event_id TEXT PRIMARY KEY,
            message_key TEXT,
            customer_id BIGINT,
            kind TEXT NOT NULL,
            detail TEXT,
            occurred_at TIMESTAMP NOT NULL,
            recorded_at TIMESTAMP NOT NULL
        )""",
        "CREATE INDEX message_events_by_customer ON message_events (customer_id, kind)",
        # Promo codes by pool: free until a message gives one to a customer (one per customer and pool).
        """CREATE TABLE promo_codes (
            code TEXT PRIMARY KEY,
            pool TEXT NOT NULL,
            customer_id BIGINT,
            message_key TEXT,
            assigned_at TIMESTAMP,
            created_at TIMESTAMP NOT NULL,
            UNIQUE (pool, customer_id)
        )""",
    ),
)
