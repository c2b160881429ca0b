"""Who enters a playbook on a day, and in which arm.

A playbook's trigger names its candidates as of a date (retainly.playbooks.definition): those who
entered its audience that day, whose first (or any) order was ``delay_days`` before, whose
birthday is ``days_before`` ahead, or, on a schedule's days, everyone its rule matches. The
playbook's condition and re-entry policy then filter them, and each one left is enrolled under a
unique (playbook, customer, occurrence) key, with its arm.

**The arm** is drawn before consent, caps and suppression look at anyone (intention to treat):
a salted SHA-256 of (salt, playbook, customer) read as a number in [0, 1) below the holdout share
means holdout. It is deterministic (a rerun gives the same arm), and independent between
playbooks (each playbook's name is in the hash). The salt is the playbook's name unless the shop
sets one; changing it reshuffles future enrolments only.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, timedelta
from typing import NamedTuple

import pyarrow as pa

from retainly.audiences import membership
from retainly.audiences.compile import matching
from retainly.playbooks.definition import Playbook
from retainly.playbooks.library import DEFAULT_SECOND_ORDER_GAP_DAYS
from retainly.store.backends import Store

HOLDOUT, TREATMENT = "holdout", "treatment"
SCHEDULE_EPOCH = date(2000, 1, 3)  # a Monday: every_days = 7 runs on Mondays


class Candidate(NamedTuple):
    """Who may enter, and under which occurrence (a named tuple: a run makes millions)."""

    customer_id: int
    occurrence: str


def arm(playbook: str, customer_id: int, share: float, salt: str | None = None) -> str:
    """``holdout`` or ``treatment`` by a salted hash of playbook and customer (see the module doc)."""
    return arms(playbook, [customer_id], share, salt)[0]


def arms(playbook: str, customer_ids: list[int], share: float, salt: str | None = None) -> list[str]:
    """``arm`` of each of ``customer_ids``, in order (the same hash; a run draws a million)."""
    prefix, sha256, scale = f"{salt or playbook}\x1f{playbook}\x1f", hashlib.sha256, 2**64
    return [HOLDOUT if int.from_bytes(sha256(f"{prefix}{customer_id}".encode()).digest()[:8], "big") / scale < share
            else TREATMENT for customer_id in customer_ids]


def audience_name(playbook: Playbook) -> str:
    """The audience that keeps an audience-triggered playbook's memberships."""
    return f"{membership.RESERVED_PREFIX}{playbook.name}"


def candidates(store: Store, playbook: Playbook, as_of: date, dry_run: bool = False) -> list[Candidate]:
    """The trigger's candidates as of ``as_of`` (before the condition and re-entry policy).

    An audience trigger brings the playbook's audience up to date (entering is the edge it fires
    on); with ``dry_run`` it only works out who would enter and writes nothing."""
    trigger = playbook.trigger
    if trigger.kind == "audience":
        name = audience_name(playbook)
        if dry_run:
            ids = membership.would_enter(store, name, trigger.rule, as_of)
        else:
            membership.evaluate(store, name, trigger.rule, as_of)
            ids = membership.entered_on(store, name, as_of)
        occurrence = _occurrence(playbook, as_of.isoformat())
        return [Candidate(i, occurrence) for i in ids]
    if trigger.kind == "first_order":
        delay = trigger.delay_days
        if trigger.delay_from == "second_order_gap":  # measured on the data up to the day, at each run
            delay = second_order_gap_days(store, as_of, default=trigger.delay_days)
        day = as_of - timedelta(days=delay)
        rows = store.fetchall("SELECT customer_id FROM purchases WHERE customer_id IS NOT NULL GROUP BY customer_id "
                              "HAVING MIN(placed_at) >= ? AND MIN(placed_at) < ? ORDER BY customer_id",
                              (_start(day), _start(day + timedelta(days=1))))
        return [Candidate(int(c), "first-order") for (c,) in rows]
    if trigger.kind == "order":
        day = as_of - timedelta(days=trigger.delay_days)
        rows = store.fetchall("SELECT DISTINCT customer_id, order_id FROM purchases WHERE customer_id IS NOT NULL "
                              "AND placed_at >= ? AND placed_at < ? ORDER BY customer_id, order_id",
                              (_start(day), _start(day + timedelta(days=1))))
        return [Candidate(int(c), _occurrence(playbook, str(o))) for c, o in rows]
    if trigger.kind == "birthday":
        target = as_of + timedelta(days=trigger.days_before)
        days = [target.day]
        if target.month == 2 and target.day == 28 and not _leap(target.year):
            days.append(29)  # born on 29 February: celebrated on the 28th in other years
        rows = store.fetchall("SELECT customer_id FROM customers WHERE birthday IS NOT NULL AND "
                              "EXTRACT(month FROM birthday) = ? AND EXTRACT(day FROM birthday) IN "
                              f"({', '.join('?' * len(days))}) ORDER BY customer_id", (target.month, *days))
        occurrence = _occurrence(playbook, str(target.year))
        return [Candidate(int(c), occurrence) for (c,) in rows]
    # A schedule: on its days, everyone its rule matches.
    if (as_of - SCHEDULE_EPOCH).days % trigger.every_days:
        return []
    ids = matching(store, trigger.rule, as_of).order_by("customer_id").to_pandas()["customer_id"]
    occurrence = _occurrence(playbook, as_of.isoformat())
    return [Candidate(c, occurrence) for c in ids.astype("int64").tolist()]


def second_order_gap_days(store: Store, as_of: date | None = None, default: int = DEFAULT_SECOND_ORDER_GAP_DAYS) -> int:
    """The shop's median days from a first to a second purchase order, on orders up to the end of
    ``as_of`` (all without it); the library's default when nobody has two orders."""
    until = (f"AND placed_at < TIMESTAMP '{(as_of + timedelta(days=1)).isoformat()} 00:00:00'"
             if as_of is not None else "")
    row = store.fetchone(
        "SELECT MEDIAN(gap) FROM (SELECT customer_id, DATE_PART('day', MIN(CASE WHEN n = 2 THEN placed_at END) "
        "- MIN(CASE WHEN n = 1 THEN placed_at END)) AS gap FROM (SELECT customer_id, placed_at, ROW_NUMBER() OVER "
        "(PARTITION BY customer_id ORDER BY placed_at, order_id) AS n FROM purchases WHERE customer_id IS NOT NULL "
        f"{until}) o WHERE n <= 2 GROUP BY customer_id) g WHERE gap IS NOT NULL") if store.backend_name == "duckdb" else \
        store.fetchone(
        "SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY gap) FROM (SELECT customer_id, "
        "EXTRACT(EPOCH FROM MIN(CASE WHEN n = 2 THEN placed_at END) - MIN(CASE WHEN n = 1 THEN placed_at END)) / 86400 "
        "AS gap FROM (SELECT customer_id, placed_at, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY placed_at, "
        f"order_id) AS n FROM purchases WHERE customer_id IS NOT NULL {until}) o WHERE n <= 2 GROUP BY customer_id) g "
        "WHERE gap IS NOT NULL")
    gap = None if row is None else row[0]
    return default if gap is None else max(1, int(round(float(gap))))


def _occurrence(playbook: Playbook, occurrence: str) -> str:
    """Once ever: one key per customer; otherwise the occurrence itself (a day, an order, a year)."""
    return "once" if playbook.reentry == "once" else occurrence


def _start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def eligible(store: Store, playbook: Playbook, found: list[Candidate], as_of: date) -> list[Candidate]:
    """``found`` less those the condition excludes, outside the active window, or barred by re-entry."""
    if not found or not playbook.active_on(as_of):
        return []
    if playbook.condition is not None:
        keep = set(matching(store, playbook.condition, as_of).to_pandas()["customer_id"].astype("int64"))
        found = [c for c in found if c.customer_id in keep]
    days = playbook.reentry_days()
    if days is not None:
        recent = {int(c) for (c,) in store.fetchall(
            "SELECT DISTINCT customer_id FROM enrolments WHERE playbook = ? AND enrolled_on > ? AND enrolled_on <= ?",
            (playbook.name, as_of - timedelta(days=days), as_of))}
        found = [c for c in found if c.customer_id not in recent]
    taken = {(int(c), o) for c, o in store.fetchall(
        "SELECT customer_id, occurrence FROM enrolments WHERE playbook = ?", (playbook.name,))}
    return [c for c in found if (c.customer_id, c.occurrence) not in taken]


def enrolment_rows(playbook: Playbook, pairs: list[tuple[Candidate, str]], as_of: date,
                   run_id: int | None) -> pa.Table:
    """The enrolments of (candidate, arm) ``pairs`` (``arms`` drew them) as the table ``write_enrolments`` writes."""
    count = len(pairs)
    return pa.table({
        "playbook": pa.array([playbook.name] * count, pa.string()),
        "customer_id": pa.array([c.customer_id for c, _ in pairs], pa.int64()),
        "occurrence": pa.array([c.occurrence for c, _ in pairs], pa.string()),
        "enrolled_on": pa.array([as_of] * count, pa.date32()),
        "arm": pa.array([a for _, a in pairs], pa.string()),
        "holdout_share": pa.array([playbook.holdout_share] * count, pa.float64()),
        "goal_days": pa.array([playbook.goal_days] * count, pa.int64()),
        "run_id": pa.array([run_id] * count, pa.int64()),
        "created_at": pa.array([datetime.now()] * count, pa.timestamp("us")),
    })


def write_enrolments(store: Store, rows: pa.Table) -> set[tuple[str, int, str]]:
    """Insert ``rows`` (``enrolment_rows``, of one playbook or many) in one transaction, leaving a key
    already there as it is: the (playbook, customer, occurrence) of those already there."""
    if not rows.num_rows:
        return set()
    columns = ", ".join(rows.column_names)
    name = f"stage_enrolments_{uuid.uuid4().hex[:12]}"
    with store.transaction():
        store.stage(name, rows)
        try:
            # Another run may have enrolled some since they were found: only this run's count. The
            # transaction holds the writer lock, so what it reads as taken stays so until the insert.
            taken = {(p, int(c), o) for p, c, o in store.fetchall(
                f"SELECT s.playbook, s.customer_id, s.occurrence FROM {name} AS s JOIN enrolments AS e "
                "ON e.playbook = s.playbook AND e.customer_id = s.customer_id AND e.occurrence = s.occurrence")}
            store.execute(f"INSERT INTO enrolments ({columns}) SELECT {columns} FROM {name} "
                          "ON CONFLICT (playbook, customer_id, occurrence) DO NOTHING")
        finally:
            store.unstage(name)
    return taken


def counts(store: Store) -> dict[str, dict[str, int]]:
    """Enrolments so far: {playbook: {arm: customers}}."""
    found: dict[str, dict[str, int]] = {}
    for playbook, chosen, n in store.fetchall("SELECT playbook, arm, COUNT(*) FROM enrolments GROUP BY playbook, arm"):
        found.setdefault(playbook, {})[chosen] = int(n)
    return found
