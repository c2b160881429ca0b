"""Migration 16: site keys, for the site snippet (`retainly sites`, docs/api.md "The site snippet").

Kept apart from retainly.store.migrations only for size; it is one of MIGRATIONS and frozen
the same way once released. A site key is public (it is in every page of the shop), so it is
stored as it is, not hashed: what keeps other sites out is the list of origins the key is
allowed from (space-separated, each ``scheme://host[:port]``). A revoked key keeps its row.
"""

from __future__ import annotations

from retainly.store.migration_type import Migration

V16_SITE_KEYS = Migration(
    16,
    "site keys for the site snippet: public keys, each with the origins it may send events from",
    (
        """CREATE TABLE site_keys (
            site_id BIGINT PRIMARY KEY,
            site_key TEXT NOT NULL UNIQUE,
            name TEXT,
            origins TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL,
            revoked_at TIMESTAMP
        )""",
    ),
    sequences=(("site_ids", "site_keys", "site_id"),),
)
