"""Migration 13: API keys, for the REST API (`retainly serve`, docs/api.md).

Kept apart from retainly.store.migrations only for size; it is one of MIGRATIONS and frozen
the same way once released. A key's secret is never stored: only the SHA-256 of the token
(retainly.access.keys says why that hash is enough), unique so that a token finds its key by
one index lookup. A revoked key keeps its row (``revoked_at``), so the list shows who had access.
"""

from __future__ import annotations

from retainly.store.migration_type import Migration

V13_API_KEYS = Migration(
    13,
    "API keys for the REST API: a role each, the token stored hashed, revocable",
    (
        """CREATE TABLE api_keys (
            key_id BIGINT PRIMARY KEY,
            name TEXT,
            role TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at TIMESTAMP NOT NULL,
            revoked_at TIMESTAMP,
            last_used_at TIMESTAMP
        )""",
    ),
    sequences=(("api_key_ids", "api_keys", "key_id"),),
)
