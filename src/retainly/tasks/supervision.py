"""The supervisor's view: per manager, the state of their tasks and the quality of their work.

Over a period (``since`` up to ``now``), for each manager:

* ``open``, ``overdue`` (open and due before now) and ``flagged`` (overdue by more than
  ``[tasks] overdue_flag_days``): as they stand now;
* ``done``: tasks closed as done in the period;
* ``median_hours_to_first_attempt``: from being given the task to the first outcome logged,
  over the tasks given in the period that have one;
* ``reach_rate``: of the tasks the manager tried in the period (an outcome logged), the share
  where the customer answered at least once (any outcome but ``no_answer``);
* ``orders`` and ``revenue``: orders placed within ``[tasks] order_days`` after a call in the
  period where the customer answered, each order counted once per manager.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import median

from retainly.settings import TaskSettings
from retainly.store.backends import Store
from retainly.tasks.work import REACHED

FIGURES = ("manager", "name", "open", "overdue", "flagged", "done", "median_hours_to_first_attempt", "attempted",
           "reach_rate", "orders", "revenue")


def figures(store: Store, settings: TaskSettings, since: datetime, now: datetime) -> list[dict]:
    """One row per manager (and per other user who owns or logged tasks), by email."""
    people = {int(uid): {"manager": email, "name": name} for uid, email, name in store.fetchall(
        "SELECT user_id, email, name FROM users WHERE (role = 'manager' AND disabled_at IS NULL) "
        "OR user_id IN (SELECT owner_id FROM tasks WHERE owner_id IS NOT NULL) "
        "OR user_id IN (SELECT user_id FROM task_attempts WHERE user_id IS NOT NULL)")}
    rows = {uid: {**who, "open": 0, "overdue": 0, "flagged": 0, "done": 0, "median_hours_to_first_attempt": None,
                  "attempted": 0, "reach_rate": None, "orders": 0, "revenue": 0.0} for uid, who in people.items()}
    flag_before = now - timedelta(days=settings.overdue_flag_days)
    for owner, due in store.fetchall(
            "SELECT owner_id, due_at FROM tasks WHERE state = 'open' AND owner_id IS NOT NULL"):
        row = rows.get(int(owner))
        if row is not None:
            row["open"] += 1
            row["overdue"] += due < now
            row["flagged"] += due < flag_before
    for owner, done in store.fetchall("SELECT owner_id, COUNT(*) FROM tasks WHERE state = 'done' AND closed_at >= ? "
                                      "AND closed_at <= ? AND owner_id IS NOT NULL GROUP BY owner_id", (since, now)):
        if int(owner) in rows:
            rows[int(owner)]["done"] = int(done)
    waits: dict[int, list[float]] = {}
    for owner, given, first in store.fetchall(
            "SELECT owner_id, assigned_at, first_attempt_at FROM tasks WHERE owner_id IS NOT NULL AND "
            "assigned_at >= ? AND assigned_at <= ? AND first_attempt_at IS NOT NULL", (since, now)):
        waits.setdefault(int(owner), []).append(max(0.0, (first - given).total_seconds() / 3600))
    for owner, hours in waits.items():
        if owner in rows:
            rows[owner]["median_hours_to_first_attempt"] = round(median(hours), 2)
    _reach_and_orders(store, settings, since, now, rows)
    return [rows[uid] for uid in sorted(rows, key=lambda uid: rows[uid]["manager"])]


def _reach_and_orders(store: Store, settings: TaskSettings, since: datetime, now: datetime, rows: dict) -> None:
    tried: dict[int, dict[int, bool]] = {}
    answered_calls: dict[int, list[tuple[int, datetime]]] = {}
    for user, task, customer, outcome, logged in store.fetchall(
            "SELECT a.user_id, a.task_id, t.customer_id, a.outcome, a.logged_at FROM task_attempts AS a "
            "JOIN tasks AS t ON t.task_id = a.task_id WHERE a.user_id IS NOT NULL AND a.logged_at >= ? "
            "AND a.logged_at <= ?", (since, now)):
        answered = outcome in REACHED
        mine = tried.setdefault(int(user), {})
        mine[int(task)] = mine.get(int(task), False) or answered
        if answered:
            answered_calls.setdefault(int(user), []).append((int(customer), logged))
    for user, tasks in tried.items():
        if user in rows:
            rows[user]["attempted"] = len(tasks)
            rows[user]["reach_rate"] = round(sum(tasks.values()) / len(tasks), 4)
    window = timedelta(days=settings.order_days)
    customers = sorted({c for calls in answered_calls.values() for c, _ in calls})
    if not customers:
        return
    orders: dict[int, list[tuple[str, datetime, float]]] = {}
    for start in range(0, len(customers), 1000):
        part = customers[start:start + 1000]
        for order, customer, placed, revenue in store.fetchall(
                "SELECT order_id, customer_id, placed_at, CAST(revenue AS DOUBLE PRECISION) FROM purchases "
                f"WHERE customer_id IN ({', '.join('?' * len(part))})", part):
            orders.setdefault(int(customer), []).append((order, placed, float(revenue)))
    for user, calls in answered_calls.items():
        counted: dict[str, float] = {}
        for customer, called in calls:
            for order, placed, revenue in orders.get(customer, ()):
                if called <= placed < called + window:
                    counted[order] = revenue
        if user in rows:
            rows[user]["orders"] = len(counted)
            rows[user]["revenue"] = round(sum(counted.values()), 2)
