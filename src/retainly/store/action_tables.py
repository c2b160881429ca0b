"""Migration 11: the tables of the action layer (audiences, playbooks, the outbox).

Kept apart from retainly.store.migrations only for size; it is one of MIGRATIONS and frozen
the same way once released. Keys are chosen for exactly-once (docs/playbooks.md): an
enrolment is unique per (playbook, customer, occurrence), an outbox row per key
``playbook/step/customer/occurrence``; writers insert with ON CONFLICT DO NOTHING and claim a
row by a conditional update, so two runs at once, or a run killed and started again, never
make a second row or a second delivery.
"""

from __future__ import annotations

from retainly.store.migration_type import Migration

V11_ACTIONS = Migration(
    11,
    "the action layer: customer attributes, suppressions, audiences and memberships, playbooks, "
    "enrolments with their holdout arm, the outbox and runs",
    (
        # The shop's own facts per customer ("likes green", a preferred channel), as text.
        """CREATE TABLE customer_attributes (
            customer_id BIGINT NOT NULL,
            name TEXT NOT NULL,
            value TEXT,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (customer_id, name)
        )""",
        # Suppression always wins over imported consent; channel 'all' covers every channel.
        """CREATE TABLE suppressions (
            customer_id BIGINT NOT NULL,
            channel TEXT NOT NULL,
            reason TEXT NOT NULL,
            source TEXT,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (customer_id, channel)
        )""",
        """CREATE TABLE audiences (
            name TEXT PRIMARY KEY,
            description TEXT,
            rule TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        )""",
        # One row per stay in an audience: left_on is empty while the customer is in it.
        """CREATE TABLE audience_members (
            audience TEXT NOT NULL,
            customer_id BIGINT NOT NULL,
            entered_on DATE NOT NULL,
            left_on DATE,
            PRIMARY KEY (audience, customer_id, entered_on)
        )""",
        """CREATE TABLE audience_evaluations (
            audience TEXT NOT NULL,
            as_of DATE NOT NULL,
            rule TEXT NOT NULL,
            members BIGINT NOT NULL,
            entered BIGINT NOT NULL,
            left_count BIGINT NOT NULL,
            evaluated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (audience, as_of)
        )""",
        """CREATE TABLE playbooks (
            name TEXT PRIMARY KEY,
            enabled BOOLEAN NOT NULL,
            definition TEXT NOT NULL,
            builtin TEXT,
            updated_at TIMESTAMP NOT NULL
        )""",
        # The arm is assigned on entry, before consent and caps (intention to treat).
        """CREATE TABLE enrolments (
            playbook TEXT NOT NULL,
            customer_id BIGINT NOT NULL,
            occurrence TEXT NOT NULL,
            enrolled_on DATE NOT NULL,
            arm TEXT NOT NULL,
            holdout_share DOUBLE PRECISION NOT NULL,
            goal_days INTEGER,
            run_id BIGINT,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (playbook, customer_id, occurrence)
        )""",
        """CREATE TABLE outbox (
            key TEXT PRIMARY KEY,
            playbook TEXT NOT NULL,
            step INTEGER NOT NULL,
            customer_id BIGINT NOT NULL,
            occurrence TEXT NOT NULL,
            channel TEXT NOT NULL,
            priority INTEGER NOT NULL,
            due_at TIMESTAMP NOT NULL,
            status TEXT NOT NULL,
            reason TEXT,
            payload TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            response TEXT,
            run_id BIGINT,
            created_at TIMESTAMP NOT NULL,
            claimed_at TIMESTAMP,
            claimed_by TEXT,
            finished_at TIMESTAMP
        )""",
        "CREATE INDEX outbox_by_status ON outbox (status, due_at)",
        "CREATE INDEX outbox_by_customer ON outbox (customer_id, channel)",
        """CREATE TABLE runs (
            run_id BIGINT PRIMARY KEY,
            as_of DATE NOT NULL,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            status TEXT NOT NULL,
            summary TEXT
        )""",
    ),
    sequences=(("run_ids", "runs", "run_id"),),
)
