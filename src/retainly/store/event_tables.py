"""Migration 14: the idempotency keys of events sent to the REST API (docs/api.md, "Events").

Kept apart from retainly.store.migrations only for size; it is one of MIGRATIONS and frozen
the same way once released. Each item posted to an event endpoint carries a key chosen by the
sender; the first time a key of a kind is written, its row records the answer (``result``, JSON)
and the import that wrote it, and every later item with that key gets that answer back and
writes nothing. The primary key is what makes this hold under concurrency: keys are inserted
with ON CONFLICT DO NOTHING in the transaction that writes their items, so of two clients
racing the same key (even through two server processes on PostgreSQL) exactly one writes it.
"""

from __future__ import annotations

from retainly.store.migration_type import Migration

V14_EVENT_KEYS = Migration(
    14,
    "idempotency keys of events sent to the API: the first answer per (kind, key)",
    (
        """CREATE TABLE event_keys (
            kind TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            record_id TEXT,
            result TEXT NOT NULL,
            import_id BIGINT NOT NULL,
            received_at TIMESTAMP NOT NULL,
            PRIMARY KEY (kind, idempotency_key)
        )""",
    ),
)
