"""Working tasks: a manager's queue, the outcomes they log, follow-ups, tasks made by hand.

An outcome is an attempt on the task and the customer's contact (``interactions``: kind
``call``, direction ``outbound``, by the manager), so the customer's last contact date and the
warning signs see it. What it does to the task:

* ``reached``, ``not_interested``, ``ordered``: done;
* ``call_back``: done, and a follow-up task for the same manager due at the time agreed;
* ``no_answer``: open and due again a day later, until ``[tasks] max_no_answer`` attempts
  without an answer close it.

All in one transaction: nothing is half logged. A task of a customer who has since been erased
(its reason is scrubbed, it is cancelled) cannot be logged.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from retainly.errors import InputError
from retainly.features.model_summary import end_of
from retainly.settings import TaskSettings
from retainly.store.backends import Store
from retainly.tasks.records import NewTask, create, is_erased, one

OUTCOMES = ("reached", "no_answer", "call_back", "not_interested", "ordered")
REACHED = ("reached", "call_back", "not_interested", "ordered")  # the customer answered
QUEUES = ("overdue", "today", "upcoming")
_QUEUE_COLUMNS = ("task_id", "customer_id", "customer", "name", "phone", "email", "origin", "playbook", "reason",
                  "offer", "priority", "due_at", "owner_id", "owner", "state", "outcome", "attempts")


def check_outcome(outcome: str) -> str:
    if outcome not in OUTCOMES:
        raise InputError(f"`outcome` {outcome!r} is not an outcome; choose from {', '.join(OUTCOMES)}",
                         parameter="outcome")
    return outcome


def queue(store: Store, now: datetime, *, owner_id: int | None = None, which: str | None = None,
          state: str | None = "open", customer_id: int | None = None, task_id: int | None = None,
          limit: int = 500) -> list[dict]:
    """Tasks (open by default; ``state`` None: any), most pressing first: overdue, due today,
    upcoming; each with the customer's id, name and contacts, the owner's email and the attempts
    so far, and ``queue``."""
    start = datetime.combine(now.date(), datetime.min.time())
    end = end_of(now.date())
    where, params = ["TRUE"], []
    if state is not None:
        where.append("t.state = ?")
        params.append(state)
    if task_id is not None:
        where.append("t.task_id = ?")
        params.append(int(task_id))
    if owner_id is not None:
        where.append("t.owner_id = ?")
        params.append(owner_id)
    if customer_id is not None:
        where.append("t.customer_id = ?")
        params.append(customer_id)
    bounds = {"overdue": ("t.due_at < ?", [start]), "today": ("t.due_at >= ? AND t.due_at < ?", [start, end]),
              "upcoming": ("t.due_at >= ?", [end])}
    if which is not None:
        if which not in bounds:
            raise InputError(f"`queue` {which!r} is not a queue; choose from {', '.join(QUEUES)}", parameter="queue")
        where.append(bounds[which][0])
        params += bounds[which][1]
    rows = store.fetchall(
        "SELECT t.task_id, t.customer_id, c.external_id, c.name, c.phone, c.email, t.origin, t.playbook, t.reason, "
        "t.offer, t.priority, t.due_at, t.owner_id, u.email, t.state, t.outcome, "
        "(SELECT COUNT(*) FROM task_attempts AS a WHERE a.task_id = t.task_id) "
        "FROM tasks AS t JOIN customers AS c ON c.customer_id = t.customer_id "
        "LEFT JOIN users AS u ON u.user_id = t.owner_id "
        f"WHERE {' AND '.join(where)} ORDER BY t.due_at, "
        "CASE t.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END, t.task_id "
        f"LIMIT {int(limit)}", params)
    found = [dict(zip(_QUEUE_COLUMNS, row)) for row in rows]
    for task in found:
        due = task["due_at"]
        task["queue"] = "overdue" if due < start else "today" if due < end else "upcoming"
    return found


def attempts(store: Store, task_id: int) -> list[dict]:
    columns = ("attempt", "logged_at", "user", "outcome", "note", "call_back_at")
    return [dict(zip(columns, row)) for row in store.fetchall(
        "SELECT a.attempt, a.logged_at, u.email, a.outcome, a.note, a.call_back_at FROM task_attempts AS a "
        "LEFT JOIN users AS u ON u.user_id = a.user_id WHERE a.task_id = ? ORDER BY a.attempt", (int(task_id),))]


def log_outcome(store: Store, settings: TaskSettings, task_id: int, outcome: str, now: datetime, *,
                user_id: int | None, by_whom: str, note: str | None = None,
                call_back_at: datetime | None = None) -> dict:
    """Log what came of a call (see the module's doc); the task as it is afterwards, with
    ``follow_up``: the id of the task a call-back made (None otherwise)."""
    outcome = check_outcome(outcome)
    note = " ".join((note or "").split()) or None
    if outcome == "call_back" and (call_back_at is None or call_back_at <= now):
        raise InputError("a call back needs `call_back_at`, a time after now (e.g. 2026-12-04T15:00)",
                         parameter="call_back_at")
    if outcome != "call_back" and call_back_at is not None:
        raise InputError("`call_back_at` goes with the outcome call_back only", parameter="call_back_at")
    with store.transaction():
        task = one(store, task_id)
        if is_erased(store, task["customer_id"]):
            raise InputError(f"task {task_id}: its customer was erased; nothing can be logged on it",
                             parameter="task_id")
        if task["state"] != "open":
            raise InputError(f"task {task_id} is {task['state']}; only an open task takes an outcome",
                             parameter="task_id")
        attempt = int(store.fetchone("SELECT COUNT(*) FROM task_attempts WHERE task_id = ?", (task_id,))[0]) + 1
        store.execute("INSERT INTO task_attempts (task_id, attempt, logged_at, user_id, outcome, note, call_back_at) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)", (task_id, attempt, now, user_id, outcome, note, call_back_at))
        store.execute("INSERT INTO interactions (interaction_id, customer_id, occurred_at, kind, direction, outcome, "
                      "note, by_whom) VALUES (?, ?, ?, 'call', 'outbound', ?, ?, ?)",
                      (f"task:{task_id}:{attempt}", task["customer_id"], now, outcome, note, by_whom))
        store.execute("UPDATE tasks SET first_attempt_at = COALESCE(first_attempt_at, ?), outcome = ? "
                      "WHERE task_id = ?", (now, outcome, task_id))
        follow_up = None
        if outcome == "no_answer":
            unanswered = int(store.fetchone("SELECT COUNT(*) FROM task_attempts WHERE task_id = ? AND "
                                            "outcome = 'no_answer'", (task_id,))[0])
            if unanswered >= settings.max_no_answer:
                _close(store, task_id, "done", now)
            else:
                store.execute("UPDATE tasks SET due_at = ? WHERE task_id = ?", (now + timedelta(days=1), task_id))
        else:
            _close(store, task_id, "done", now)
            if outcome == "call_back":
                said = f"Call back as agreed on {now:%Y-%m-%d %H:%M}" + (f": {note}" if note else "")
                [follow_up] = create(store, [NewTask(
                    task["customer_id"], "follow_up", f"{said}. Before: {task['reason']}", call_back_at,
                    task["priority"], f"follow-up:{task_id}:{attempt}", task["playbook"], task["offer"], by_whom,
                    owner_id=task["owner_id"] or user_id, follows_task_id=task_id)], now)
        return {**one(store, task_id), "follow_up": follow_up}


def _close(store: Store, task_id: int, state: str, now: datetime) -> None:
    store.execute("UPDATE tasks SET state = ?, closed_at = ? WHERE task_id = ?", (state, now, task_id))


def cancel(store: Store, task_id: int, now: datetime) -> dict:
    """Cancel an open task (nobody needs to call); the task afterwards."""
    with store.transaction():
        task = one(store, task_id)
        if task["state"] != "open":
            raise InputError(f"task {task_id} is {task['state']}; only an open task can be cancelled",
                             parameter="task_id")
        _close(store, task_id, "cancelled", now)
        return one(store, task_id)


def erase_tasks(store: Store, customer_id: int, now: datetime) -> int:
    """An erased customer's tasks: reasons and notes quoted them, so they go; open ones are
    cancelled (nobody calls an erased customer). How many tasks there were."""
    count = int(store.fetchone("SELECT COUNT(*) FROM tasks WHERE customer_id = ?", (customer_id,))[0])
    if count:
        store.execute("UPDATE task_attempts SET note = NULL WHERE task_id IN "
                      "(SELECT task_id FROM tasks WHERE customer_id = ?)", (customer_id,))
        store.execute("UPDATE tasks SET reason = '(erased)', offer = NULL, state = CASE WHEN state = 'open' THEN "
                      "'cancelled' ELSE state END, closed_at = COALESCE(closed_at, ?) WHERE customer_id = ?",
                      (now, customer_id))
    return count
