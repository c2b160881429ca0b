"""Migration 17: the secrets that sign the links in messages (unsubscribe, and later tracking).

Kept apart from retainly.store.migrations only for size; it is one of MIGRATIONS and frozen
the same way once released. The sender (`retainly run`) and the server that answers the links
(`retainly serve`) read the same store, so keeping the secret there needs no setting shared by
hand. A token names the version of the secret that signed it: a new version can be added to
rotate, and links already in mailboxes keep working (an unsubscribe link must work forever).
"""

from __future__ import annotations

from retainly.store.migration_type import Migration

V17_LINK_SECRETS = Migration(
    17,
    "the secrets that sign the links in messages (one-click unsubscribe), by version",
    (
        """CREATE TABLE link_secrets (
            version INTEGER PRIMARY KEY,
            secret TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL
        )""",
    ),
)
