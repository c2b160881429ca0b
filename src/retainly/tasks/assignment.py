"""Who calls: tasks given to managers by the shop's rule, within each manager's daily limit.

The managers are the enabled users with the role ``manager`` (docs/web.md), with what the
``managers`` table adds: a daily limit, the countries and RFM segments they cover, an absence.

The rule (``[tasks] assign``):

* ``round_robin``: the manager with the fewest tasks given today, then the one given one least
  recently, then the lowest id: turns taken evenly and reproducibly;
* ``region``: among the managers covering the customer's country; ``segment``: among those
  covering the customer's latest RFM segment; ``usual``: the manager of the customer's latest
  task, if they may take it. Where the rule finds nobody, round robin over all.

A manager away today, or at their limit, is passed over. A task nobody may take stays without
an owner and is given out on a later pass (every ``retainly run`` makes one). An absent
manager's open tasks move to the others when the absence is set and on every pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa

from retainly.errors import InputError, NotFoundError
from retainly.settings import TaskSettings
from retainly.store.backends import Store


@dataclass
class Manager:
    user_id: int
    email: str
    name: str | None
    daily_limit: int
    regions: frozenset[str] | None
    segments: frozenset[str] | None
    away: bool
    given_today: int = 0
    last_given: datetime | None = None


def _codes(text: str | None) -> frozenset[str] | None:
    return frozenset(part.strip().lower() for part in text.split(",") if part.strip()) if text else None


def roster(store: Store, settings: TaskSettings, now: datetime) -> list[Manager]:
    """The managers, with their tasks given today and when they were last given one."""
    today = now.date()
    start = datetime.combine(today, datetime.min.time())  # given today: since midnight
    rows = store.fetchall(
        "SELECT u.user_id, u.email, u.name, m.daily_limit, m.regions, m.segments, m.away_from, m.away_until, "
        "(SELECT COUNT(*) FROM tasks AS t WHERE t.owner_id = u.user_id AND t.assigned_at >= ?), "
        "(SELECT MAX(t.assigned_at) FROM tasks AS t WHERE t.owner_id = u.user_id) "
        "FROM users AS u LEFT JOIN managers AS m ON m.user_id = u.user_id "
        "WHERE u.role = 'manager' AND u.disabled_at IS NULL ORDER BY u.user_id", (start,))
    return [Manager(int(uid), email, name, settings.daily_limit if limit is None else int(limit), _codes(regions),
                    _codes(segments), bool(away_from and away_from <= today <= (away_until or date.max)),
                    int(given), last)
            for uid, email, name, limit, regions, segments, away_from, away_until, given, last in rows]


def _pick(candidates: list[Manager]) -> Manager | None:
    free = [m for m in candidates if not m.away and m.given_today < m.daily_limit]
    if not free:
        return None
    return min(free, key=lambda m: (m.given_today, m.last_given or datetime.min, m.user_id))


def assign_open(store: Store, settings: TaskSettings, now: datetime) -> int:
    """Give every open task without an owner, or whose owner is away or no longer a manager, to a
    manager by the rule (in the caller's transaction); how many were given."""
    managers = roster(store, settings, now)
    if not managers:
        return 0
    by_id = {m.user_id: m for m in managers}
    present = [m.user_id for m in managers if not m.away]
    kept = f"t.owner_id IN ({', '.join('?' * len(present))})" if present else "FALSE"
    waiting = store.fetchall(
        "SELECT t.task_id, t.customer_id, c.country FROM tasks AS t "
        "LEFT JOIN customers AS c ON c.customer_id = t.customer_id "
        f"WHERE t.state = 'open' AND (t.owner_id IS NULL OR NOT {kept}) "
        "ORDER BY CASE t.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END, "
        "t.due_at, t.task_id", present)
    if not waiting:
        return 0
    customers = pa.table({"customer_id": pa.array(sorted({int(c) for _, c, _ in waiting}), pa.int64())})
    segments = _segments(store, customers) if settings.assign == "segment" else {}
    usual = _usual(store, customers) if settings.assign == "usual" else {}
    given = 0
    for task_id, customer_id, country in waiting:
        chosen = _pick(_eligible(settings.assign, managers, by_id, country, segments.get(customer_id),
                                 usual.get(customer_id))) or _pick(managers)
        if chosen is None:
            continue
        store.execute("UPDATE tasks SET owner_id = ?, assigned_at = ? WHERE task_id = ?",
                      (chosen.user_id, now, task_id))
        chosen.given_today += 1
        chosen.last_given = now
        given += 1
    return given


def _eligible(rule: str, managers: list[Manager], by_id: dict[int, Manager], country: str | None,
              segment: str | None, usual: int | None) -> list[Manager]:
    if rule == "region" and country:
        return [m for m in managers if m.regions and country.strip().lower() in m.regions]
    if rule == "segment" and segment:
        return [m for m in managers if m.segments and segment.lower() in m.segments]
    if rule == "usual" and usual in by_id:
        return [by_id[usual]]
    return managers


def _segments(store: Store, customers: pa.Table) -> dict[int, str]:
    """Each of ``customers``' RFM segment on the latest day it was computed."""
    with store.staged(customers) as staged:
        return {int(c): segment for c, segment in store.fetchall(
            f'SELECT r.customer_id, r.segment FROM rfm_scores AS r JOIN "{staged}" AS s '
            "ON s.customer_id = r.customer_id WHERE r.as_of = (SELECT MAX(as_of) FROM rfm_scores)")}


def _usual(store: Store, customers: pa.Table) -> dict[int, int]:
    """Each of ``customers``' usual manager: the owner of their latest task that had one."""
    with store.staged(customers) as staged:
        return {int(c): int(owner) for c, owner in store.fetchall(
            "SELECT customer_id, owner_id FROM (SELECT t.customer_id, t.owner_id, ROW_NUMBER() OVER "
            "(PARTITION BY t.customer_id ORDER BY t.created_at DESC, t.task_id DESC) AS nth "
            f'FROM tasks AS t JOIN "{staged}" AS s ON s.customer_id = t.customer_id '
            "WHERE t.owner_id IS NOT NULL) AS latest WHERE nth = 1")}


def manager_id(store: Store, email: str, parameter: str = "owner") -> int:
    """The user id of the manager (or any enabled user) with this email (``parameter``: where it was given)."""
    row = store.fetchone("SELECT user_id FROM users WHERE LOWER(email) = LOWER(?) AND disabled_at IS NULL",
                         (email.strip(),))
    if row is None:
        raise NotFoundError(f"no enabled user {email!r}; add one with `retainly users add EMAIL --role manager`",
                            parameter=parameter)
    return int(row[0])


def set_manager(store: Store, user_id: int, now: datetime, *, daily_limit: int | None = None,
                regions: str | None = None, segments: str | None = None, away_from: date | None = None,
                away_until: date | None = None, clear_away: bool = False) -> None:
    """Change what assignment knows of a manager (only the values given); an absence that covers
    today moves their open tasks on the next pass."""
    if daily_limit is not None and daily_limit < 0:
        raise InputError(f"`daily_limit` {daily_limit} must be 0 or more", parameter="daily_limit")
    if away_from and away_until and away_until < away_from:
        raise InputError(f"`away_until` {away_until} is before `away_from` {away_from}", parameter="away_until")
    if store.fetchone("SELECT 1 FROM managers WHERE user_id = ?", (user_id,)) is None:
        store.execute("INSERT INTO managers (user_id, updated_at) VALUES (?, ?)", (user_id, now))
    changes = {"daily_limit": daily_limit, "regions": regions, "segments": segments, "away_from": away_from,
               "away_until": away_until}
    for column, value in changes.items():
        if value is not None:
            store.execute(f"UPDATE managers SET {column} = ?, updated_at = ? WHERE user_id = ?",
                          (value.strip() or None if isinstance(value, str) else value, now, user_id))
    if clear_away:
        store.execute("UPDATE managers SET away_from = NULL, away_until = NULL, updated_at = ? WHERE user_id = ?",
                      (now, user_id))


def reassign(store: Store, task_id: int, user_id: int, now: datetime) -> None:
    """Give an open task to this user, whatever the rule and their limit (a supervisor's choice)."""
    if store.changed("UPDATE tasks SET owner_id = ?, assigned_at = ? WHERE task_id = ? AND state = 'open'",
                     (user_id, now, task_id)) == 0:
        raise InputError(f"task {task_id} is not open (or does not exist); only an open task can be reassigned",
                         parameter="task_id")


def listed(store: Store, settings: TaskSettings) -> list[dict]:
    """Every enabled manager with their assignment settings and open tasks."""
    return [{"email": email, "name": name, "daily_limit": settings.daily_limit if limit is None else int(limit),
             "regions": regions, "segments": segments, "away_from": away_from, "away_until": away_until,
             "open_tasks": int(open_tasks)}
            for email, name, limit, regions, segments, away_from, away_until, open_tasks in store.fetchall(
                "SELECT u.email, u.name, m.daily_limit, m.regions, m.segments, m.away_from, m.away_until, "
                "(SELECT COUNT(*) FROM tasks AS t WHERE t.owner_id = u.user_id AND t.state = 'open') "
                "FROM users AS u LEFT JOIN managers AS m ON m.user_id = u.user_id "
                "WHERE u.role = 'manager' AND u.disabled_at IS NULL ORDER BY u.email")]
