"""Migration 19: managers' tasks, and audiences exported to email services and ad platforms.

Kept apart from retainly.store.migrations only for size; it is one of MIGRATIONS and frozen the
same way once released.

**Tasks** (docs/tasks.md). A task is made once per cause: ``source_key`` is unique (the outbox
key of a playbook's task step, the feedback answer, the attempt a follow-up came from), so a
run repeated or two runs at once never make a second task. Each outcome a manager logs is an
attempt; the task keeps the last. ``managers`` holds what assignment needs beyond the user:
a daily limit, the regions and segments a manager covers, an absence; ``task_digests`` the
morning digest each manager was sent, once a day. Times are the shop's
local wall-clock time, as the interactions they become.

**Exports** (docs/exports.md). An export is a saved pairing of a source (an audience, or a
playbook's export step) and a target (a file format or a platform's API). ``export_members``
is who the target holds after the last successful run, with the identifiers it was sent (hashed
where the platform hashes), so the next run can remove whoever left or withdrew consent, even
after their address changed. Each run records what it sent (``export_changes``).
"""

from __future__ import annotations

from retainly.store.migration_type import Migration

V19_TASKS_AND_EXPORTS = Migration(
    19,
    "managers' tasks, their attempts, the managers' assignment settings and digests; audience exports, their runs, "
    "the members each target holds and what each run sent",
    (
        """CREATE TABLE tasks (
            task_id BIGINT PRIMARY KEY,
            customer_id BIGINT NOT NULL,
            origin TEXT NOT NULL,
            source_key TEXT UNIQUE,
            playbook TEXT,
            reason TEXT NOT NULL,
            offer TEXT,
            priority TEXT NOT NULL,
            due_at TIMESTAMP NOT NULL,
            owner_id BIGINT,
            state TEXT NOT NULL,
            outcome TEXT,
            created_at TIMESTAMP NOT NULL,
            created_by TEXT,
            assigned_at TIMESTAMP,
            first_attempt_at TIMESTAMP,
            closed_at TIMESTAMP,
            follows_task_id BIGINT
        )""",
        "CREATE INDEX tasks_by_owner ON tasks (owner_id, state, due_at)",
        "CREATE INDEX tasks_by_customer ON tasks (customer_id, state)",
        """CREATE TABLE task_attempts (
            task_id BIGINT NOT NULL,
            attempt INTEGER NOT NULL,
            logged_at TIMESTAMP NOT NULL,
            user_id BIGINT,
            outcome TEXT NOT NULL,
            note TEXT,
            call_back_at TIMESTAMP,
            PRIMARY KEY (task_id, attempt)
        )""",
        """CREATE TABLE managers (
            user_id BIGINT PRIMARY KEY,
            daily_limit INTEGER,
            regions TEXT,
            segments TEXT,
            away_from DATE,
            away_until DATE,
            updated_at TIMESTAMP NOT NULL
        )""",
        # One morning digest per manager and day, claimed before it is sent (at most once, as the outbox).
        """CREATE TABLE task_digests (
            user_id BIGINT NOT NULL,
            day DATE NOT NULL,
            status TEXT NOT NULL,
            tasks INTEGER NOT NULL,
            sent_at TIMESTAMP,
            detail TEXT,
            PRIMARY KEY (user_id, day)
        )""",
        """CREATE TABLE exports (
            name TEXT PRIMARY KEY,
            target TEXT NOT NULL,
            source TEXT NOT NULL,
            options TEXT NOT NULL,
            incremental BOOLEAN NOT NULL,
            scheduled BOOLEAN NOT NULL,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        )""",
        """CREATE TABLE export_runs (
            run_id BIGINT PRIMARY KEY,
            export_name TEXT NOT NULL,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            status TEXT NOT NULL,
            added BIGINT,
            removed BIGINT,
            kept BIGINT,
            match_keys TEXT,
            destination TEXT,
            message TEXT
        )""",
        """CREATE TABLE export_members (
            export_name TEXT NOT NULL,
            customer_id BIGINT NOT NULL,
            identifiers TEXT NOT NULL,
            run_id BIGINT NOT NULL,
            PRIMARY KEY (export_name, customer_id)
        )""",
        """CREATE TABLE export_changes (
            run_id BIGINT NOT NULL,
            customer_id BIGINT NOT NULL,
            change TEXT NOT NULL,
            PRIMARY KEY (run_id, customer_id)
        )""",
    ),
    sequences=(("task_ids", "tasks", "task_id"), ("export_run_ids", "export_runs", "run_id")),
)
