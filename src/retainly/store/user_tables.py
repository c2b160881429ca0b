"""Migration 15: the people who log in to the web app, and their sessions (docs/web.md).

Kept apart from retainly.store.migrations only for size; it is one of MIGRATIONS and frozen the
same way once released. A password is stored only as its Argon2 hash, a session only as the
SHA-256 of its random token (retainly.access.users says why each hash is the right one). A
disabled user keeps their row, so the list still shows who had access.
"""

from __future__ import annotations

from retainly.store.migration_type import Migration

V15_USERS = Migration(
    15,
    "users of the web app: a role each, passwords hashed, lock-out after failed logins; their sessions",
    (
        """CREATE TABLE users (
            user_id BIGINT PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,
            name TEXT,
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL,
            disabled_at TIMESTAMP,
            failed_attempts INTEGER NOT NULL,
            locked_until TIMESTAMP,
            last_login_at TIMESTAMP
        )""",
        """CREATE TABLE user_sessions (
            token_hash TEXT PRIMARY KEY,
            user_id BIGINT NOT NULL,
            csrf_token TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL,
            expires_at TIMESTAMP NOT NULL
        )""",
    ),
    sequences=(("user_ids", "users", "user_id"),),
)
