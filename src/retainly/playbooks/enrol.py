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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retainly.audiences import membership
from retainly.audiences.compile import matching
from retainly.playbooks.definition import Playbook
from retainly.playbooks.library import DEFAULT_SECOND_ORDER_GAP_DAYS
from retainly.store.backends import Store, repeated

HOLDOUT, TREATMENT = "holdout", "treatment"
SCHEDULE_EPOCH = date(2000, 1, 3)  # a Monday: every_days = 7 runs on Mondays


CANDIDATES = pa.schema([("customer_id", pa.int64()), ("occurrence", pa.string())])


def arm(playbook: str, customer_id: int, share: float, salt: str | None = None) -> str:
    """``holdout`` or ``treatment`` by a salted hash of playbook and customer (see the module doc)."""
    prefix = f"{salt or playbook}\x1f{playbook}\x1f"
    number = int.from_bytes(hashlib.sha256(f"{prefix}{customer_id}".encode()).digest()[:8], "big")
    return HOLDOUT if number / 2**64 < share else TREATMENT


def holdout_below(share: float) -> int:
    """The least 64-bit number ``arm`` reads as treatment at ``share`` (2**64: none): the hash's first
    eight bytes below it mean holdout. Found by bisection on ``arm``'s own float comparison, so a
    comparison in the engine draws exactly the same arms."""
    low, high = 0, 2**64
    while low < high:
        middle = (low + high) // 2
        if middle / 2**64 < share:
            low = middle + 1
        else:
            high = middle
    return low


def holdouts(store: Store, playbook: str, customer_ids: np.ndarray, share: float,
             salt: str | None = None) -> np.ndarray:
    """Whether each of ``customer_ids`` is in the holdout arm: ``arm``, hashed in the engine (a run
    draws a million)."""
    return hashed_below(store, f"{salt or playbook}\x1f{playbook}\x1f", customer_ids, share)


def hashed_below(store: Store, prefix: str, customer_ids: np.ndarray, share: float) -> np.ndarray:
    """Whether the SHA-256 of ``prefix`` and each of ``customer_ids``, read as a number in [0, 1), is
    below ``share``, hashed in the engine (the arms, and retainly.experiments.control's group)."""
    return hash_bands(store, prefix, customer_ids, (share,)) == 0


def hash_bands(store: Store, prefix: str, customer_ids: np.ndarray, shares: tuple[float, ...]) -> np.ndarray:
    """For each of ``customer_ids``, the first of the rising ``shares`` its hash (as in ``hashed_below``) is
    below, by its place (``len(shares)``: none), from one hash in the engine (an offer test's two halves)."""
    count = len(customer_ids)
    limits = [holdout_below(share) for share in shares]
    if not count or all(limit == 0 for limit in limits):
        return np.full(count, len(shares), np.int64)
    rows = pa.table({"place": pa.array(np.arange(count), pa.int64()),
                     "customer_id": pa.array(customer_ids, pa.int64())})
    head = store.sha256_head("CAST(? AS VARCHAR) || CAST(s.customer_id AS VARCHAR)")
    # A limit of 2**64 takes every hash: a comparison true for any 16 hex digits.
    tests = [f"{head} < ?" if limit < 2**64 else "TRUE" for limit in limits]
    band = "CASE " + " ".join(f"WHEN {test} THEN {n}" for n, test in enumerate(tests)) + f" ELSE {len(shares)} END"
    values = [value for limit in limits if limit < 2**64 for value in (prefix, f"{limit:016x}")]
    with store.staged(rows) as staged:
        found = store.fetch_arrow(f'SELECT s.place, {band} AS band FROM "{staged}" AS s ORDER BY s.place',
                                  tuple(values))
    return pc.cast(found["band"], pa.int64()).to_numpy(zero_copy_only=False)


def audience_name(playbook: Playbook) -> str:
    """The audience that keeps an audience-triggered playbook's memberships."""
    return f"{membership.RESERVED_PREFIX}{playbook.name}"


def candidates(store: Store, playbook: Playbook, as_of: date, dry_run: bool = False) -> pa.Table:
    """The trigger's candidates as of ``as_of`` (before the condition and re-entry policy), as
    ``CANDIDATES`` (customer_id, occurrence) in customer order.

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
        return _candidates(ids, _occurrence(playbook, as_of.isoformat()))
    if trigger.kind == "first_order":
        delay = trigger.delay_days
        if trigger.delay_from == "second_order_gap":  # measured on the data up to the day, at each run
            delay = second_order_gap_days(store, as_of, default=trigger.delay_days)
        day = as_of - timedelta(days=delay)
        rows = store.fetch_arrow("SELECT customer_id FROM purchases WHERE customer_id IS NOT NULL GROUP BY customer_id "
                                 "HAVING MIN(placed_at) >= ? AND MIN(placed_at) < ? ORDER BY customer_id",
                                 (_start(day), _start(day + timedelta(days=1))))
        return _candidates(rows["customer_id"], "first-order")
    if trigger.kind == "order":
        day = as_of - timedelta(days=trigger.delay_days)
        rows = store.fetch_arrow("SELECT DISTINCT customer_id, order_id FROM purchases WHERE customer_id IS NOT NULL "
                                 "AND placed_at >= ? AND placed_at < ? ORDER BY customer_id, order_id",
                                 (_start(day), _start(day + timedelta(days=1))))
        orders = [_occurrence(playbook, str(o)) for o in rows["order_id"].to_pylist()]
        return pa.table({"customer_id": pc.cast(rows["customer_id"], pa.int64()),
                         "occurrence": pa.array(orders, pa.string())}, schema=CANDIDATES)
    if trigger.kind == "birthday":
        target = as_of + timedelta(days=trigger.days_before)
        days = [target.day]
        if target.month == 2 and target.day == 28 and not _leap(target.year):
            days.append(29)  # born on 29 February: celebrated on the 28th in other years
        rows = store.fetch_arrow("SELECT customer_id FROM customers WHERE birthday IS NOT NULL AND "
                                 "EXTRACT(month FROM birthday) = ? AND EXTRACT(day FROM birthday) IN "
                                 f"({', '.join('?' * len(days))}) ORDER BY customer_id", (target.month, *days))
        return _candidates(rows["customer_id"], _occurrence(playbook, str(target.year)))
    # A schedule: on its days, everyone its rule matches.
    if (as_of - SCHEDULE_EPOCH).days % trigger.every_days:
        return CANDIDATES.empty_table()
    ids = matching(store, trigger.rule, as_of).order_by("customer_id").to_pyarrow()["customer_id"]
    return _candidates(ids, _occurrence(playbook, as_of.isoformat()))


def _candidates(ids, occurrence: str) -> pa.Table:
    """``ids`` (an array or column of customer ids) under one occurrence."""
    ids = pc.cast(ids if isinstance(ids, (pa.Array, pa.ChunkedArray)) else pa.array(ids), pa.int64())
    return pa.table({"customer_id": ids, "occurrence": repeated(occurrence, pa.string(), len(ids))},
                    schema=CANDIDATES)


def second_order_gap_days(store: Store, as_of: date | None = None, default: int = DEFAULT_SECOND_ORDER_GAP_DAYS) -> int:
    """The shop's median days from a first to a second purchase order, on orders up to the end of
    ``as_of`` (all without it); the library's default when nobody has two orders."""
    until = (f"AND placed_at < TIMESTAMP '{(as_of + timedelta(days=1)).isoformat()} 00:00:00'"
             if as_of is not None else "")
    # Days with their fraction on both engines (DuckDB's DATE_PART('day', interval) would drop the
    # hours, and the two engines' medians could round to different days).
    row = store.fetchone(
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


def condition_holds(store: Store, playbook: Playbook, as_of: date) -> np.ndarray | None:
    """The customers ``playbook``'s condition matches as of ``as_of`` (None: it has no condition)."""
    if playbook.condition is None:
        return None
    found = matching(store, playbook.condition, as_of).to_pyarrow()["customer_id"]
    return pc.cast(found, pa.int64()).to_numpy()


def eligible(store: Store, playbook: Playbook, found: pa.Table, as_of: date,
             holds: np.ndarray | None = None) -> pa.Table:
    """``found`` (``candidates``) less those the condition excludes (``holds``, ``condition_holds``),
    outside the active window, or barred by re-entry, in the same order."""
    if not found.num_rows or not playbook.active_on(as_of):
        return CANDIDATES.empty_table()
    if holds is not None:
        found = found.filter(pc.is_in(found["customer_id"], value_set=pa.array(holds, pa.int64())))
    days = playbook.reentry_days()
    if days is not None:
        recent = store.fetch_arrow(
            "SELECT DISTINCT customer_id FROM enrolments WHERE playbook = ? AND enrolled_on > ? AND enrolled_on <= ?",
            (playbook.name, as_of - timedelta(days=days), as_of))["customer_id"]
        found = found.filter(pc.invert(pc.is_in(found["customer_id"],
                                                value_set=pc.cast(recent, pa.int64()).combine_chunks())))
    taken = store.fetch_arrow("SELECT customer_id, occurrence FROM enrolments WHERE playbook = ?", (playbook.name,))
    if not taken.num_rows or not found.num_rows:
        return found
    # (customer, occurrence) pairs as one text each, to test membership column-wise; a customer id is
    # digits only, so the first separator always splits a pair where it was joined.
    def pairs(table: pa.Table) -> pa.Array:
        return pc.binary_join_element_wise(pc.cast(table["customer_id"], pa.string()),
                                           pc.cast(table["occurrence"], pa.string()), "\x1f")
    return found.filter(pc.invert(pc.is_in(pairs(found), value_set=pairs(taken).combine_chunks())))


def enrolment_rows(playbook: Playbook, found: pa.Table, holdout: np.ndarray, as_of: date,
                   run_id: int | None) -> pa.Table:
    """The enrolments of ``found`` (``eligible``) with their arms (``holdouts``) as the table
    ``write_enrolments`` writes."""
    count = found.num_rows
    return pa.table({
        "playbook": pa.array([playbook.name] * count, pa.string()),
        "customer_id": found["customer_id"],
        "occurrence": found["occurrence"],
        "enrolled_on": pa.array([as_of] * count, pa.date32()),
        "arm": pc.if_else(pa.array(holdout, pa.bool_()), HOLDOUT, TREATMENT),
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
