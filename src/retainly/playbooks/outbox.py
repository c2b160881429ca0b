"""The outbox: one row per action to deliver, each delivered at most once.

An action is one row of ``outbox`` under the unique key ``playbook/step/customer_id/occurrence``.
Writing the same entries again inserts nothing, so a rerun (or two runs at once) never makes a
second row; a row is claimed by a conditional update before its channel sees it, so it never
makes a second delivery. Times are naive UTC (an aware datetime is converted).

**Statuses** (``STATUSES``)

* ``queued``: waiting for ``due_at``. A row the gate deferred (frequency caps, quiet hours)
  stays queued with a later ``due_at`` and ``reason`` "capped until ..."; a transient failure
  (``retry``) puts it back queued with ``due_at`` pushed back by ``retry_delays``;
* ``sending``: claimed by one run (``claimed_by``, ``claimed_at``), its channel is being called.
  ``attempts`` counts the claims of a row, less those the gate handed back unsent;
* ``sent``: delivered (final); ``response`` holds the channel's one line;
* ``failed``: refused for good, no channel configured, or still transient after
  ``max_attempts`` (final; ``reason`` says which);
* ``unknown``: the outcome cannot be known — the run crashed or was killed while the row was
  ``sending`` (``recover``, ``abandon``), or the channel raised an unexpected error after the
  remote side may have received it. Final: never sent again, since a duplicate marketing
  message costs more than a missed one;
* ``suppressed``: consent or a suppression refused it at send time (final, with ``reason``);
* ``skipped``: the gate decided not to send, e.g. the playbook's condition no longer holds
  (final, with ``reason``).

**Two runs at once.** Each claim and each finish is its own transaction, committed at once, so a
kill leaves durable state. On PostgreSQL writing transactions take retainly's writer lock
(retainly.store.backends), and the claim's UPDATE re-checks ``status = 'queued'`` anyway, so two
processes never claim one row. On DuckDB only one process can open the store for writing; a
second gets ``StoreBusyError``.

**A kill** leaves the rows of its last claim ``sending``; ``recover`` turns those older than the
lease into ``unknown``. Those include the batch's rows not yet handed to a channel, so a smaller
``batch`` loses fewer rows to ``unknown`` at a kill. A channel with its own record of what it
delivered (the file channel's file) settles its rows instead: sent if there, queued again if
not. The delivery loop is retainly.playbooks.delivery.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from retainly.errors import InputError
from retainly.messaging.channels import FAILED, RETRY, SENT, Delivery, Outcome, StoredPayload, one_line, payload_json
from retainly.store.backends import Store

QUEUED, SENDING, UNKNOWN, SUPPRESSED, SKIPPED = "queued", "sending", "unknown", "suppressed", "skipped"
STATUSES = (QUEUED, SENDING, SENT, FAILED, UNKNOWN, SUPPRESSED, SKIPPED)
FINAL_BY_GATE = (SUPPRESSED, SKIPPED)
RETRY_DELAYS = (300, 1800, 7200)  # seconds before the 2nd, 3rd, 4th attempt
MAX_ATTEMPTS = 4


@dataclass(frozen=True)
class OutboxEntry:
    """An action to write to the outbox; ``key`` is its identity."""

    playbook: str
    step: int
    customer_id: int
    occurrence: str
    channel: str
    priority: int
    due_at: datetime
    payload: Mapping  # a dict, or the JSON text already written (StoredPayload)
    status: str = QUEUED
    reason: str | None = None

    @property
    def key(self) -> str:
        return f"{self.playbook}/{self.step}/{self.customer_id}/{self.occurrence}"


# -- writing -------------------------------------------------------------------------------
def write(store: Store, entries: Iterable[OutboxEntry], run_id: int | None) -> int:
    """Insert ``entries`` in one transaction, skipping keys already present; the rows inserted."""
    rows = list(entries)
    for entry in rows:
        _check_entry(entry)
    return insert_rows(store, rows_table({  # rows_table keeps the first of repeated keys
        "key": [e.key for e in rows], "playbook": [e.playbook for e in rows], "step": [e.step for e in rows],
        "customer_id": [e.customer_id for e in rows], "occurrence": [e.occurrence for e in rows],
        "channel": [e.channel for e in rows], "priority": [e.priority for e in rows],
        "due_at": [_utc(e.due_at) for e in rows], "status": [e.status for e in rows],
        "reason": [e.reason for e in rows], "payload": [_payload_text(e) for e in rows]}, run_id))


WRITTEN = {"key": pa.string(), "playbook": pa.string(), "step": pa.int32(), "customer_id": pa.int64(),
           "occurrence": pa.string(), "channel": pa.string(), "priority": pa.int32(), "due_at": pa.timestamp("us"),
           "status": pa.string(), "reason": pa.string(), "payload": pa.string()}


def rows_table(columns: Mapping[str, list], run_id: int | None) -> pa.Table:
    """Outbox rows given as columns (lists or Arrow arrays named as ``WRITTEN``; ``due_at`` naive UTC, ``payload`` JSON
    text), as the run's planner makes them (no object per row), as the table ``insert_rows``
    writes. The first of repeated keys wins."""
    data = {name: _array(columns[name], kind) for name, kind in WRITTEN.items()}
    keys = data["key"]
    if pc.count_distinct(keys).as_py() < len(keys):
        first = pa.table({"key": keys, "row": pa.array(range(len(keys)), pa.int64())}).group_by(
            "key", use_threads=False).aggregate([("row", "min")])["row_min"]  # where each key first appears
        rows = pc.take(first, pc.sort_indices(first))
        data = {name: values.take(rows) for name, values in data.items()}
    count = len(data["key"])
    now = _utc(datetime.now(timezone.utc))
    return pa.table(data | {
        "attempts": pa.array([0] * count, pa.int32()),
        "run_id": pa.array([run_id] * count, pa.int64()),
        "created_at": pa.array([now] * count, pa.timestamp("us")),
    })


def _array(values, kind: pa.DataType) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks().cast(kind)
    return pa.array(values, kind)


def insert_rows(store: Store, rows: pa.Table) -> int:
    """Insert ``rows`` (``rows_table``; unique keys) in one transaction, skipping keys already in the
    outbox (another run may have written them): the rows inserted.

    A run's planner gathers the rows of all its playbooks and inserts them at once: on DuckDB one
    large insert goes to the file in whole row groups, where one per playbook went through the log
    and was written again at the checkpoint (1.2 M rows: 7 s against 13 s)."""
    if not rows.num_rows:
        return 0
    # In key order: the key index is built fastest from sorted keys (900,000 rows: 4.7 s against
    # 5.8 s shuffled), and a key starts with its playbook, so a claim batch (one playbook's rows in
    # key order, mostly) sits together all the same.
    staged = rows.sort_by([("key", "ascending")])
    column_list = ", ".join(staged.column_names)
    name = f"outbox_stage_{uuid.uuid4().hex[:12]}"
    with store.transaction():
        store.stage(name, staged)
        try:
            # The planner left out the keys it found planned; a key another writer added since is
            # skipped by the primary key.
            inserted = store.changed(f'INSERT INTO outbox ({column_list}) SELECT {column_list} FROM "{name}" '
                                     "ON CONFLICT (key) DO NOTHING")
        finally:
            store.unstage(name)
    return inserted


def _check_entry(entry: OutboxEntry) -> None:
    if "/" in entry.playbook:
        raise InputError(f"playbook name {entry.playbook!r} contains '/', which separates the parts of an outbox "
                         "key; rename the playbook", parameter="playbook")
    if entry.status not in (QUEUED, *FINAL_BY_GATE):
        raise InputError(f"outbox entry {entry.key}: entries are written queued, suppressed or skipped, not "
                         f"{entry.status!r}", parameter="status")
    if not isinstance(entry.due_at, datetime):
        raise InputError(f"outbox entry {entry.key}: `due_at` must be a datetime, not {entry.due_at!r}",
                         parameter="due_at")


def _payload_text(entry: OutboxEntry) -> str:
    try:
        return payload_json(entry.payload)
    except (TypeError, ValueError) as exc:
        raise InputError(f"outbox entry {entry.key}: `payload` is not JSON: {exc}", parameter="payload") from None


# -- claiming and finishing ------------------------------------------------------------------
def claim(store: Store, now: datetime, claimed_by: str, limit: int = 200) -> list[Delivery]:
    """Claim up to ``limit`` due queued rows (highest priority, then earliest due, then key) for
    ``claimed_by``; they become ``sending``. One transaction, committed at once."""
    now = _utc(now)
    with store.transaction():
        # The status test is what makes the claim safe without the writer lock: under READ
        # COMMITTED PostgreSQL re-checks it on a row another transaction just changed. (No
        # RETURNING: on DuckDB an UPDATE ... RETURNING is 2-4 times slower than the two statements.)
        store.execute(
            "UPDATE outbox SET status = 'sending', claimed_by = ?, claimed_at = ?, attempts = attempts + 1 "
            "WHERE status = 'queued' AND key IN (SELECT key FROM outbox WHERE status = 'queued' AND due_at <= ? "
            "ORDER BY priority DESC, due_at, key LIMIT ?)", (claimed_by, now, now, int(limit)))
        rows = store.fetchall(f"SELECT {_DELIVERY}, priority, due_at FROM outbox WHERE {HELD}", (claimed_by,))
    rows.sort(key=lambda row: (-row[7], row[8], row[0]))
    return [_delivery(row, claimed=True) for row in rows]


class Due(NamedTuple):
    """A due row as ``due_window`` read it: where to find it again, and its delivery (no payload yet)."""

    address: object  # the store's row address (Store.row_address), else the key
    delivery: Delivery


def due_window(store: Store, now: datetime, limit: int) -> list[Due]:
    """Up to ``limit`` due queued rows in claiming order (read, not claimed), for ``claim_due``.

    Their payloads are left out (``None``): ``claim_due`` reads them for the rows it claims. A
    window is up to 100,000 rows, and sorting and reading their payloads took most of its time."""
    address = store.row_address or "key"
    rows = store.fetchall(f"SELECT key, playbook, step, customer_id, channel, attempts, {address} FROM outbox "
                          "WHERE status = 'queued' AND due_at <= ? ORDER BY priority DESC, due_at, key LIMIT ?",
                          (_utc(now), int(limit)))
    return [Due(place, Delivery(key, playbook, step, customer_id, channel, None, attempts))
            for key, playbook, step, customer_id, channel, attempts, place in rows]


def claim_due(store: Store, now: datetime, claimed_by: str, channel: str, due: list[Due]) -> list[Delivery]:
    """Claim the rows of ``due`` (of one ``channel``, read by ``due_window``) that are still queued
    and due, for ``claimed_by`` (a name for this claim alone): the rows it now holds, in the order
    given, with their payloads.

    Found by address rather than by key (on DuckDB a key list scans the key column; an address is
    a direct lookup), and every claimed row is one this claimer holds, read back by its name: a
    row another process took meanwhile is left out; a row read back that was not asked for (an
    address that moved) is delivered like the others, being due and queued for this channel."""
    if not due:
        return []
    now = _utc(now)
    kind = pa.int64() if store.row_address else pa.string()
    addresses = pa.table({"address": pa.array([d.address for d in due], kind)})
    with store.staged(addresses) as staged:
        store.execute(
            "UPDATE outbox SET status = 'sending', claimed_by = ?, claimed_at = ?, attempts = attempts + 1 "
            "WHERE status = 'queued' AND due_at <= ? AND channel = ? "
            f'AND {store.row_address or "key"} IN (SELECT address FROM "{staged}")', (claimed_by, now, now, channel))
        held = {key: (attempts, payload) for key, attempts, payload in store.fetchall(
            f"SELECT key, attempts, payload FROM outbox WHERE {HELD}", (claimed_by,))}
    claimed = []
    for d in due:
        key, playbook, step, customer_id, channel = d.delivery[:5]
        found = held.pop(key, None)
        if found is not None:  # the stored count includes this claim; changed meanwhile only by another run
            # Built anew rather than by _replace, which costs three times as much (a window is 100,000 rows).
            claimed.append(Delivery(key, playbook, step, customer_id, channel, StoredPayload(found[1]), found[0] - 1))
    if held:  # rows not asked for: read in full
        with _among(store, list(held)) as (among, listed):
            claimed += [_delivery(row, claimed=True) for row in store.fetchall(
                f"SELECT {_DELIVERY} FROM outbox WHERE {HELD} AND {among}", (claimed_by, *listed))]
    return claimed


_DELIVERY = "key, playbook, step, customer_id, channel, payload, attempts"


def _delivery(row: tuple, claimed: bool = False) -> Delivery:
    """A Delivery from the columns ``_DELIVERY`` (first in ``row``), its payload parsed when read.
    ``Delivery.attempts`` counts the deliveries tried before this one; a claimed row's stored
    count includes this claim."""
    key, playbook, step, customer_id, channel, payload, attempts = row[:7]
    return Delivery(key, playbook, step, customer_id, channel, StoredPayload(payload), attempts - claimed)


def finish(store: Store, key: str, claimed_by: str, outcome: Outcome, now: datetime,
           retry_delays: tuple[int, ...] = RETRY_DELAYS, max_attempts: int = MAX_ATTEMPTS) -> str | None:
    """Record a channel's ``outcome`` for a row ``claimed_by`` holds: ``sent``, ``failed``, or
    (``retry``) queued again after the next of ``retry_delays`` seconds, ``failed`` once
    ``max_attempts`` deliveries were tried. The status recorded; None when the row was no
    longer this claimer's (``recover`` marked it unknown meanwhile)."""
    return finish_many(store, [(key, outcome)], claimed_by, now, retry_delays, max_attempts)[key]


def finish_many(store: Store, outcomes: list[tuple[str, Outcome]], claimed_by: str, now: datetime,
                retry_delays: tuple[int, ...] = RETRY_DELAYS, max_attempts: int = MAX_ATTEMPTS,
                whole_claim: bool = False) -> dict[str, str | None]:
    """``finish`` for many rows in one transaction: key -> the status recorded (or None).

    ``whole_claim`` says that ``outcomes`` cover every row ``claimed_by`` holds (the delivery
    loop's batches), which spares reading which rows those are when they all end the same way."""
    if not retry_delays or any(delay <= 0 for delay in retry_delays):
        raise InputError(f"`retry_delays` must be seconds > 0, not {retry_delays!r}", parameter="retry_delays")
    if max_attempts < 1:
        raise InputError(f"`max_attempts` must be at least 1, not {max_attempts!r}", parameter="max_attempts")
    for status in {outcome.status for _, outcome in outcomes}:
        if status not in (SENT, FAILED, RETRY):
            raise InputError(f"outcome status {status!r} is not one of sent, failed, retry", parameter="status")
    now = _utc(now)
    changes: dict[tuple, list[str]] = {}  # (status, assignments, parameters) -> keys
    lines: dict[str, str] = {}  # a batch's outcomes mostly share one detail ("appended to ...")
    with store.transaction():
        retried = [key for key, outcome in outcomes if outcome.status == RETRY]
        attempts = dict(_held(store, "key, attempts", retried, claimed_by)) if retried else {}
        for key, outcome in outcomes:
            detail = lines.get(outcome.detail)
            if detail is None:
                detail = lines[outcome.detail] = one_line(outcome.detail)
            if outcome.status == SENT:
                change = (SENT, "status = 'sent', reason = NULL, response = ?, finished_at = ?", (detail, now))
            elif outcome.status == FAILED:
                change = (FAILED, "status = 'failed', reason = ?, response = ?, finished_at = ?", (detail, detail, now))
            elif key not in attempts:
                continue  # no longer this claimer's
            elif attempts[key] < max_attempts:
                tried = attempts[key]
                due = now + timedelta(seconds=retry_delays[min(tried, len(retry_delays)) - 1])
                reason = f"attempt {tried} of {max_attempts} failed; next at {due:%Y-%m-%d %H:%M}"
                change = (QUEUED, "status = 'queued', due_at = ?, reason = ?, response = ?", (due, reason, detail))
            else:
                reason = f"gave up after {attempts[key]} attempts"
                change = (FAILED, "status = 'failed', reason = ?, response = ?, finished_at = ?", (reason, detail, now))
            changes.setdefault(change, []).append(key)
        done = _update_held_many(store, changes, claimed_by, whole_claim)
    return {key: done.get(key) for key, _ in outcomes}


def release(store: Store, key: str, claimed_by: str, status: str, reason: str | None,
            due_at: datetime | None = None, now: datetime | None = None) -> bool:
    """Hand back a claimed row the gate stopped before any channel saw it: ``suppressed`` or
    ``skipped`` (final, with ``reason``), or ``queued`` again (at ``due_at`` if given). The
    claim's attempt is taken back: no channel tried it. True if the row was still this claimer's."""
    return release_many(store, [(key, status, reason, due_at)], claimed_by, now)[key]


def release_many(store: Store, releases: list[tuple[str, str, str | None, datetime | None]], claimed_by: str,
                 now: datetime | None = None) -> dict[str, bool]:
    """``release`` for many (key, status, reason, due_at) in one transaction: key -> still held."""
    changes: dict[tuple, list[str]] = {}
    for key, status, reason, due_at in releases:
        if status in FINAL_BY_GATE:
            if not reason:
                raise InputError(f"releasing {key} as {status} needs a `reason`", parameter="reason")
            change = (status, "status = ?, reason = ?, finished_at = COALESCE(?, claimed_at), attempts = attempts - 1",
                      (status, reason, _utc(now) if now else None))
        elif status == QUEUED:
            change = (QUEUED, "status = 'queued', reason = ?, due_at = COALESCE(?, due_at), attempts = attempts - 1",
                      (reason, _utc(due_at) if due_at else None))
        else:
            raise InputError(f"cannot release {key} as {status!r}: use suppressed, skipped or queued",
                             parameter="status")
        changes.setdefault(change, []).append(key)
    with store.transaction():
        done = _update_held_many(store, changes, claimed_by)
    return {key: key in done for key, *_ in releases}


def mark_unknown_many(store: Store, reasons: list[tuple[str, str]], claimed_by: str, now: datetime) -> dict[str, bool]:
    """Mark ``unknown`` rows ``claimed_by`` holds whose delivery may or may not have arrived:
    (key, reason) -> still held."""
    changes: dict[tuple, list[str]] = {}
    for key, reason in reasons:
        changes.setdefault((UNKNOWN, "status = 'unknown', reason = ?, finished_at = ?",
                            (one_line(reason), _utc(now))), []).append(key)
    with store.transaction():
        done = _update_held_many(store, changes, claimed_by)
    return {key: key in done for key, _ in reasons}


def recover(store: Store, now: datetime, lease_seconds: float = 900,
            channels: Mapping[str, object] | None = None) -> int:
    """Settle the rows left ``sending`` for more than ``lease_seconds`` (a crashed or killed run):
    they are marked ``unknown`` and never sent again, except those of a channel in ``channels``
    that keeps its own record of what it delivered (``holds(keys)``, the file channel): a key it
    holds is ``sent``, one it does not is queued again (the rerun delivers it). The number of
    rows marked ``unknown``."""
    now = _utc(now)
    cutoff = now - timedelta(seconds=lease_seconds)
    with store.transaction():
        for name, channel in (channels or {}).items():
            if getattr(channel, "holds", None) is not None:
                _settle(store, name, channel, now, cutoff)
        return store.changed(
            "UPDATE outbox SET status = 'unknown', reason = ?, finished_at = ? "
            "WHERE status = 'sending' AND claimed_at < ?",
            (f"still sending after {lease_seconds:g} s: the run that claimed it stopped; not sent again",
             now, cutoff))


def _settle(store: Store, name: str, channel, now: datetime, cutoff: datetime) -> None:
    """Rows of the channel ``name`` left ``sending`` before ``cutoff``: ``sent`` where the channel
    holds the key, else queued again (the claim's attempt taken back: nothing was delivered)."""
    stale = [key for (key,) in store.fetchall(
        "SELECT key FROM outbox WHERE status = 'sending' AND claimed_at < ? AND channel = ?", (cutoff, name))]
    if not stale:
        return
    held = sorted(set(channel.holds(stale)))
    where = "status = 'sending' AND claimed_at < ? AND channel = ?"
    if held:
        with _among(store, held) as (among, keys):
            store.execute(f"UPDATE outbox SET status = 'sent', reason = NULL, response = ?, finished_at = ? "
                          f"WHERE {where} AND {among}",
                          (f"found in channel {name!r} after the run that claimed it stopped", now, cutoff, name, *keys))
    store.execute(f"UPDATE outbox SET status = 'queued', attempts = attempts - 1, reason = ? WHERE {where}",
                  (f"queued again: the run that claimed it stopped before channel {name!r} had it", cutoff, name))


def abandon(store: Store, claimed_by: str, now: datetime | None = None) -> int:
    """Mark ``unknown`` the rows ``claimed_by`` still holds, its batches' (``claimed_by/N``, as
    the delivery loop names them) included: a run's cleanup after an unexpected error. The
    number of rows marked."""
    prefix = f"{claimed_by}/"
    with store.transaction():
        return store.changed(
            "UPDATE outbox SET status = 'unknown', reason = ?, finished_at = COALESCE(?, claimed_at) "
            "WHERE (claimed_by = ? OR SUBSTR(claimed_by, 1, ?) = ?) AND status = 'sending'",
            ("the run stopped while sending: outcome unknown; not sent again", _utc(now) if now else None,
             claimed_by, len(prefix), prefix))


HELD = "claimed_by = ? AND status = 'sending'"
KEYS_PER_STATEMENT = 1000


@contextmanager
def _among(store: Store, keys: list[str]) -> Iterator[tuple[str, tuple]]:
    """``key IN`` ``keys`` (at least one) as (SQL condition, its parameters): a list of parameters up
    to ``KEYS_PER_STATEMENT`` keys, else a join on the keys staged. On DuckDB each ``key IN`` list
    scans the outbox's whole key column, so one statement over many keys beats one per thousand."""
    if len(keys) <= KEYS_PER_STATEMENT:
        yield f"key IN ({', '.join('?' * len(keys))})", tuple(keys)
        return
    with store.staged(pa.table({"key": pa.array(keys, pa.string())})) as staged:
        yield f'key IN (SELECT key FROM "{staged}")', ()


def _held(store: Store, columns: str, keys: list[str], claimed_by: str) -> list[tuple]:
    with _among(store, keys) as (among, listed):
        return store.fetchall(f"SELECT {columns} FROM outbox WHERE {HELD} AND {among}", (claimed_by, *listed))


def _update_held_many(store: Store, changes: dict[tuple, list[str]], claimed_by: str,
                      whole_claim: bool = False) -> dict[str, str]:
    """Apply each (status, assignments, parameters) to its keys, where ``claimed_by`` still holds
    them: one statement per change, not one per row. Key -> status written.

    Called inside a transaction, which holds the writer lock, so the rows read as held stay so
    until the update. A change that covers every row the claimer holds (a batch all sent, the
    delivery loop's usual case) is applied by claimer alone, without a key list: on DuckDB each
    ``key IN (...)`` scans the outbox's whole key column. (No RETURNING either: much slower there.)
    With ``whole_claim`` (the keys of ``changes`` are all the claimer may hold) and one change,
    the held rows are not even read first: the update's count tells whether it found them all."""
    if whole_claim and len(changes) == 1:
        ((status, assignments, params), keys), = changes.items()
        keys = list(dict.fromkeys(keys))
        if store.changed(f"UPDATE outbox SET {assignments} WHERE {HELD}", (*params, claimed_by)) == len(keys):
            return dict.fromkeys(keys, status)
        # Fewer: some were taken meanwhile (recover marked them unknown); the others now have the status.
        done = {key for (key,) in store.fetchall("SELECT key FROM outbox WHERE claimed_by = ? AND status = ?",
                                                  (claimed_by, status))}
        return {key: status for key in keys if key in done}
    held = {key for (key,) in store.fetchall(f"SELECT key FROM outbox WHERE {HELD}", (claimed_by,))}
    done: dict[str, str] = {}
    for (status, assignments, params), keys in changes.items():
        mine = [key for key in dict.fromkeys(keys) if key in held]
        if not mine:
            continue
        if len(mine) == len(held):
            store.execute(f"UPDATE outbox SET {assignments} WHERE {HELD}", (*params, claimed_by))
        else:
            with _among(store, mine) as (among, listed):
                store.execute(f"UPDATE outbox SET {assignments} WHERE {HELD} AND {among}", (*params, claimed_by, *listed))
        held.difference_update(mine)
        done.update(dict.fromkeys(mine, status))
    return done


# -- reading ---------------------------------------------------------------------------------
def summary(store: Store, playbook: str | None = None) -> list[tuple[str, str, str, int]]:
    """(playbook, channel, status, rows), by playbook, channel and status."""
    where, params = ("WHERE playbook = ? ", (playbook,)) if playbook is not None else ("", ())
    return [(p, c, s, int(n)) for p, c, s, n in store.fetchall(
        f"SELECT playbook, channel, status, COUNT(*) FROM outbox {where}"
        "GROUP BY playbook, channel, status ORDER BY playbook, channel, status", params)]


ROW_COLUMNS = ("key", "playbook", "step", "customer_id", "occurrence", "channel", "priority", "due_at", "status",
               "reason", "attempts", "response", "run_id", "created_at", "claimed_at", "claimed_by", "finished_at",
               "payload")


def rows(store: Store, status: str | None = None, playbook: str | None = None, limit: int = 100) -> list[dict]:
    """Outbox rows (newest first, then by key) as dicts of ``ROW_COLUMNS``, payload parsed."""
    if status is not None and status not in STATUSES:
        raise InputError(f"unknown outbox `status` {status!r}; use one of {', '.join(STATUSES)}", parameter="status")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError(f"`limit` must be a whole number >= 1, not {limit!r}", parameter="limit")
    conditions = [(column, value) for column, value in (("status", status), ("playbook", playbook))
                  if value is not None]
    where = ("WHERE " + " AND ".join(f"{column} = ?" for column, _ in conditions)) if conditions else ""
    found = store.fetchall(f"SELECT {', '.join(ROW_COLUMNS)} FROM outbox {where} "
                           "ORDER BY created_at DESC, key LIMIT ?", (*[v for _, v in conditions], limit))
    listed = [dict(zip(ROW_COLUMNS, row)) for row in found]
    for row in listed:
        row["payload"] = json.loads(row["payload"])
    return listed


def _utc(moment: datetime) -> datetime:
    """Naive UTC, as the outbox stores times."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment
