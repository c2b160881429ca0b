"""Saved audiences and their memberships, kept per evaluation.

An audience is a name, a rule (stored as JSON, retainly.audiences.tree) and a description.
Evaluating it as of a date compares the customers the rule matches with those in it now:

* who is matched and not in it *enters* (a row in ``audience_members`` with ``entered_on``);
* who is in it and no longer matched *leaves* (``left_on`` is set on their open row);
* everyone else is untouched, so a second evaluation on the same data changes nothing.

Entering is the false → true edge playbooks fire on. Dates are evaluated in order: evaluating
a date before the audience's last evaluation would rewrite history, and is refused. The
comparison runs in the engine, in one transaction: an evaluation is all or nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retainly.audiences.compile import matching
from retainly.audiences.tree import Rule, from_json, to_json
from retainly.errors import InputError, NotFoundError
from retainly.store.backends import Store


@dataclass(frozen=True)
class SavedAudience:
    name: str
    rule: Rule
    description: str | None
    created_at: datetime
    updated_at: datetime


def check_name(name: str) -> str:
    """Audience (and playbook) names: letters, digits, '_' and '-', as they appear in commands and keys."""
    if not name or len(name) > 80 or not all(c.isalnum() or c in "_-" for c in name) or name[0] in "-_":
        raise InputError(f"audience name {name!r}: use letters, digits, '_' and '-' (at most 80), starting with a "
                         "letter or digit")
    return name


RESERVED_PREFIX = "playbook-"  # the memberships of audience-triggered playbooks (retainly.playbooks.enrol)


def save(store: Store, name: str, rule: Rule, description: str | None = None) -> SavedAudience:
    """Create or replace the audience ``name``; its memberships stay (the next evaluation updates them)."""
    check_name(name)
    if name.startswith(RESERVED_PREFIX):
        raise InputError(f"audience name {name!r}: names starting with {RESERVED_PREFIX!r} are kept for playbooks' "
                         "own audiences; choose another")
    now = datetime.now().replace(microsecond=0)
    text = json.dumps(to_json(rule), sort_keys=True)
    with store.transaction():
        found = store.fetchone("SELECT created_at FROM audiences WHERE name = ?", (name,))
        if found:
            store.execute("UPDATE audiences SET rule = ?, description = ?, updated_at = ? WHERE name = ?",
                          (text, description, now, name))
        else:
            store.execute("INSERT INTO audiences (name, description, rule, created_at, updated_at) "
                          "VALUES (?, ?, ?, ?, ?)", (name, description, text, now, now))
    return get(store, name)


def get(store: Store, name: str) -> SavedAudience:
    row = store.fetchone("SELECT name, rule, description, created_at, updated_at FROM audiences WHERE name = ?",
                         (name,))
    if row is None:
        known = [n for (n,) in store.fetchall("SELECT name FROM audiences ORDER BY name")]
        hint = f"saved ones: {', '.join(known)}" if known else "none is saved yet; save one with `retainly audiences save`"
        raise NotFoundError(f"no audience named {name!r} ({hint})")
    return SavedAudience(row[0], from_json(json.loads(row[1]), f"audience {row[0]}"), row[2], row[3], row[4])


def saved(store: Store) -> list[SavedAudience]:
    return [get(store, name) for (name,) in store.fetchall("SELECT name FROM audiences ORDER BY name")]


def delete(store: Store, name: str) -> None:
    """Remove an audience and its membership history."""
    get(store, name)
    with store.transaction():
        for table in ("audience_members", "audience_evaluations"):
            store.execute(f"DELETE FROM {table} WHERE audience = ?", (name,))
        store.execute("DELETE FROM audiences WHERE name = ?", (name,))


def check_order(store: Store, name: str, as_of: date, what: str | None = None) -> None:
    """Refuse ``as_of`` before the audience's last evaluation (``what`` names it in the message)."""
    last = store.fetchone("SELECT MAX(as_of) FROM audience_evaluations WHERE audience = ?", (name,))[0]
    if last is not None and as_of < last:
        raise InputError(f"{what or f'audience {name!r}'} was last evaluated as of {last}; evaluate it as of {last} "
                         "or later (memberships are kept in date order)", parameter="as_of")


def evaluate(store: Store, name: str, rule: Rule, as_of: date) -> dict:
    """Bring ``name``'s membership up to ``as_of`` by ``rule``: {members, entered, left} as of that date."""
    check_order(store, name, as_of)
    text = json.dumps(to_json(rule), sort_keys=True)
    with store.transaction(), store.landed(matching(store, rule, as_of)) as current:
        store.execute("UPDATE audience_members SET left_on = ? WHERE audience = ? AND left_on IS NULL "
                      f"AND customer_id NOT IN (SELECT customer_id FROM {current})", (as_of, name))
        # Left and back on the same day (the data changed between two evaluations): reopen that stay.
        store.execute("UPDATE audience_members SET left_on = NULL WHERE audience = ? AND entered_on = ? "
                      f"AND left_on = ? AND customer_id IN (SELECT customer_id FROM {current})", (name, as_of, as_of))
        store.execute("INSERT INTO audience_members (audience, customer_id, entered_on, left_on) "
                      f"SELECT ?, n.customer_id, ?, NULL FROM {current} n WHERE n.customer_id NOT IN "
                      "(SELECT customer_id FROM audience_members WHERE audience = ? AND left_on IS NULL)",
                      (name, as_of, name))
        members, entered, left = store.fetchone(
            "SELECT COUNT(*) FILTER (WHERE left_on IS NULL), COUNT(*) FILTER (WHERE entered_on = ?), "
            "COUNT(*) FILTER (WHERE left_on = ?) FROM audience_members WHERE audience = ?", (as_of, as_of, name))
        store.execute("DELETE FROM audience_evaluations WHERE audience = ? AND as_of = ?", (name, as_of))
        store.execute("INSERT INTO audience_evaluations (audience, as_of, rule, members, entered, left_count, "
                      "evaluated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (name, as_of, text, members, entered, left, datetime.now()))
    return {"members": int(members), "entered": int(entered), "left": int(left)}


def last_evaluation(store: Store, name: str) -> tuple[date, int] | None:
    """(as_of, members) of the audience's latest evaluation, None before the first."""
    row = store.fetchone("SELECT as_of, members FROM audience_evaluations WHERE audience = ? "
                         "ORDER BY as_of DESC LIMIT 1", (name,))
    return None if row is None else (row[0], int(row[1]))


def would_enter(store: Store, name: str, rule: Rule, as_of: date) -> np.ndarray:
    """Customers ``rule`` matches as of ``as_of`` who are not in ``name`` now, in id order: who an
    evaluation would let enter (for dry runs: nothing is written)."""
    found = matching(store, rule, as_of)
    inside = store.table("audience_members")
    inside = inside.filter((inside.audience == name) & inside.left_on.isnull()).select("customer_id")
    fresh = found.anti_join(inside, "customer_id").order_by("customer_id").to_pyarrow()
    return pc.cast(fresh["customer_id"], pa.int64()).to_numpy()


def entered_on(store: Store, name: str, as_of: date) -> np.ndarray:
    """Customers (retainly ids) who entered ``name`` on ``as_of`` and are still in it, in id order."""
    found = store.fetch_arrow("SELECT customer_id FROM audience_members WHERE audience = ? AND entered_on = ? "
                              "AND left_on IS NULL ORDER BY customer_id", (name, as_of))
    return pc.cast(found["customer_id"], pa.int64()).to_numpy()


def members(store: Store, name: str, limit: int | None = 100, history: bool = False) -> list[dict]:
    """Current members (or every stay, with ``history``) with the shop's ids and names, newest entries first."""
    where = "" if history else "AND m.left_on IS NULL"
    rows = store.fetchall(
        "SELECT c.external_id, c.name, m.entered_on, m.left_on FROM audience_members m "
        f"JOIN customers c ON c.customer_id = m.customer_id WHERE m.audience = ? {where} "
        "ORDER BY m.entered_on DESC, c.external_id" + ("" if limit is None else f" LIMIT {int(limit)}"), (name,))
    return [dict(zip(("customer", "name", "entered_on", "left_on"), row)) for row in rows]
