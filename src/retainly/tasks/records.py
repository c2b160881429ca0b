"""Tasks as the store keeps them: their words, making them once per cause, and reading them.

A task is made once per cause: its ``source_key`` is unique (the outbox key of a playbook's task
step, the feedback answer, the attempt a follow-up comes from), and tasks are written with
``ON CONFLICT DO NOTHING``, so a repeated run or a retried request adds nothing. A new task has
no owner; retainly.tasks.assignment gives it one in the same transaction.

Its reason is written in plain words for the manager who calls: why this customer (the step's
text or the score they gave), then what they bought, their stage and their value, and what to
offer (``describe``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from retainly.errors import InputError, NotFoundError
from retainly.store.backends import Store

ORIGINS = ("playbook", "feedback", "follow_up", "manual")
PRIORITIES = ("urgent", "high", "normal", "low")
STATES = ("open", "done", "cancelled")
COLUMNS = ("task_id", "customer_id", "origin", "source_key", "playbook", "reason", "offer", "priority", "due_at",
           "owner_id", "state", "outcome", "created_at", "created_by", "assigned_at", "first_attempt_at",
           "closed_at", "follows_task_id")


@dataclass(frozen=True)
class NewTask:
    """A task to make: for whom, why, what made it (once), and when it is due."""

    customer_id: int
    origin: str
    reason: str
    due_at: datetime
    priority: str = "normal"
    source_key: str | None = None
    playbook: str | None = None
    offer: str | None = None
    created_by: str | None = None
    owner_id: int | None = None  # a follow-up stays with its manager; otherwise assignment decides
    follows_task_id: int | None = None


def check_priority(priority: str) -> str:
    if priority not in PRIORITIES:
        raise InputError(f"`priority` {priority!r} is not a task priority; choose from {', '.join(PRIORITIES)}",
                         parameter="priority")
    return priority


def priority_of_playbook(priority: int) -> str:
    """A playbook's priority (0-100) as a task's: its most important calls are urgent."""
    return "urgent" if priority >= 85 else "high" if priority >= 70 else "normal" if priority >= 40 else "low"


_TASKS = pa.schema([("customer_id", pa.int64()), ("origin", pa.string()), ("source_key", pa.string()),
                    ("playbook", pa.string()), ("reason", pa.string()), ("offer", pa.string()),
                    ("priority", pa.string()), ("due_at", pa.timestamp("us")), ("owner_id", pa.int64()),
                    ("created_by", pa.string()), ("follows_task_id", pa.int64())])


def create(store: Store, tasks: list[NewTask], now: datetime) -> list[int]:
    """Write ``tasks`` (each once per ``source_key``; one without a key is always new) in the
    caller's transaction; the ids of those written, in order."""
    if not tasks:
        return []
    rows = pa.Table.from_pylist([{name: getattr(task, name) for name in _TASKS.names} for task in tasks],
                                schema=_TASKS).append_column("n", pa.array(range(len(tasks)), pa.int64()))
    with store.staged(rows) as staged:
        made = store.fetchall(
            "INSERT INTO tasks (task_id, customer_id, origin, source_key, playbook, reason, offer, priority, due_at, "
            "owner_id, state, created_at, created_by, assigned_at, follows_task_id) "
            f"SELECT nextval('task_ids'), s.customer_id, s.origin, s.source_key, s.playbook, s.reason, s.offer, "
            "s.priority, s.due_at, s.owner_id, 'open', ?, s.created_by, CASE WHEN s.owner_id IS NOT NULL THEN "
            f"CAST(? AS TIMESTAMP) END, s.follows_task_id FROM (SELECT * FROM \"{staged}\" ORDER BY n) AS s "
            "WHERE s.source_key IS NULL OR NOT EXISTS (SELECT 1 FROM tasks AS t WHERE t.source_key = s.source_key) "
            "ON CONFLICT (source_key) DO NOTHING RETURNING task_id", (now, now))
    return sorted(int(task_id) for (task_id,) in made)  # the sequence numbers them in the order given


def one(store: Store, task_id: int) -> dict:
    """A task's row, or NotFoundError."""
    row = store.fetchone(f"SELECT {', '.join(COLUMNS)} FROM tasks WHERE task_id = ?", (int(task_id),))
    if row is None:
        raise NotFoundError(f"no task {task_id}; see `retainly tasks list`", parameter="task_id")
    return dict(zip(COLUMNS, row))


def is_erased(store: Store, customer_id: int) -> bool:
    return store.fetchone("SELECT 1 FROM erasures WHERE customer_id = ?", (int(customer_id),)) is not None


def open_task_customers(store: Store) -> list[int]:
    """The customers with an open task: automated discounts wait while a manager is on it."""
    return [int(c) for (c,) in store.fetchall("SELECT DISTINCT customer_id FROM tasks WHERE state = 'open'")]


_PROFILE = """
WITH bought AS (
    SELECT o.customer_id, COALESCE(p.name, l.description, l.sku) AS product, SUM(l.amount) AS spent
    FROM order_lines AS l JOIN purchases AS o ON o.order_id = l.order_id
    LEFT JOIN products AS p ON p.sku = l.sku
    JOIN "{staged}" AS s ON s.customer_id = o.customer_id
    WHERE l.kind = 'merchandise' GROUP BY o.customer_id, COALESCE(p.name, l.description, l.sku)
), ranked AS (
    SELECT customer_id, product, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY spent DESC, product) AS nth
    FROM bought
), orders AS (
    SELECT o.customer_id, COUNT(*) AS orders, CAST(SUM(o.revenue) AS DOUBLE PRECISION) AS spent,
           MAX(o.placed_at) AS last_order
    FROM purchases AS o JOIN "{staged}" AS s ON s.customer_id = o.customer_id GROUP BY o.customer_id
), stage AS (
    SELECT l.customer_id, l.stage, l.vip, ROW_NUMBER() OVER (PARTITION BY l.customer_id ORDER BY l.as_of DESC) AS nth
    FROM lifecycle_stages AS l JOIN "{staged}" AS s ON s.customer_id = l.customer_id
)
SELECT s.customer_id, c.name, orders.orders, orders.spent, orders.last_order, stage.stage, stage.vip,
       r1.product, r2.product, r3.product
FROM "{staged}" AS s JOIN customers AS c ON c.customer_id = s.customer_id
LEFT JOIN orders ON orders.customer_id = s.customer_id
LEFT JOIN stage ON stage.customer_id = s.customer_id AND stage.nth = 1
LEFT JOIN ranked AS r1 ON r1.customer_id = s.customer_id AND r1.nth = 1
LEFT JOIN ranked AS r2 ON r2.customer_id = s.customer_id AND r2.nth = 2
LEFT JOIN ranked AS r3 ON r3.customer_id = s.customer_id AND r3.nth = 3
"""


def describe(store: Store, customer_ids: list[int]) -> dict[int, str]:
    """What a manager should know of each customer before calling, in plain words: their orders
    and spend, the last order, what they bought most, their stage (and VIP)."""
    ids = pa.table({"customer_id": pa.array(sorted(set(int(c) for c in customer_ids)), pa.int64())})
    if not ids.num_rows:
        return {}
    with store.staged(ids) as staged:
        rows = store.fetchall(_PROFILE.format(staged=staged))
    said = {}
    for customer_id, name, orders, spent, last, stage, vip, *products in rows:
        who = name or "This customer"
        if orders:
            words = [f"{who} placed {orders} order{'s' if orders != 1 else ''} ({spent:,.2f} in all), "
                     f"the last on {last:%Y-%m-%d}."]
        else:
            words = [f"{who} has not ordered yet."]
        bought = [p for p in products if p]
        if bought:
            words.append(f"Bought most: {', '.join(bought)}.")
        if stage:
            words.append(f"Stage: {stage.replace('_', ' ')}{' (VIP)' if vip else ''}.")
        said[int(customer_id)] = " ".join(words)
    return said


def reason_for(why: str, profile: str | None, offer: str | None) -> str:
    """A task's reason: why this customer, what to know of them, and what to offer."""
    parts = [why.strip().rstrip(".") + "."]
    if profile:
        parts.append(profile)
    if offer:
        parts.append(f"Offer: {offer}.")
    return " ".join(parts)
