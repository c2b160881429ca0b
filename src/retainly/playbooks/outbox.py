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
``batch`` loses fewer rows to ``unknown`` at a kill.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pyarrow as pa

from retainly.errors import InputError
from retainly.messaging.channels import FAILED, RETRY, SENT, Channel, Delivery, Outcome, one_line, to_json
from retainly.store.backends import Store

QUEUED, SENDING, UNKNOWN, SUPPRESSED, SKIPPED = "queued", "sending", "unknown", "suppressed", "skipped"
STATUSES = (QUEUED, SENDING, SENT, FAILED, UNKNOWN, SUPPRESSED, SKIPPED)
FINAL_BY_GATE = (SUPPRESSED, SKIPPED)
DEFER = "defer"
WINDOW = 2000  # due keys read at once by the delivery loop
RETRY_DELAYS = (300, 1800, 7200)  # seconds before the 2nd, 3rd, 4th attempt
MAX_ATTEMPTS = 4

# A gate returns None (send), (SUPPRESSED | SKIPPED, reason) or (DEFER, until).
Gate = Callable[[Delivery], "tuple[str, Any] | None"]


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
    payload: dict
    status: str = QUEUED
    reason: str | None = None

    @property
    def key(self) -> str:
        return f"{self.playbook}/{self.step}/{self.customer_id}/{self.occurrence}"


# -- writing -------------------------------------------------------------------------------
def write(store: Store, entries: Iterable[OutboxEntry], run_id: int | None) -> int:
    """Insert ``entries`` in one transaction, skipping keys already present; the rows inserted."""
    by_key: dict[str, OutboxEntry] = {}
    for entry in entries:
        _check_entry(entry)
        by_key.setdefault(entry.key, entry)  # the first of repeated keys wins, as in the store
    if not by_key:
        return 0
    now = _utc(datetime.now(timezone.utc))
    rows = list(by_key.values())
    staged = pa.table({
        "key": pa.array(list(by_key), pa.string()),
        "playbook": pa.array([e.playbook for e in rows], pa.string()),
        "step": pa.array([e.step for e in rows], pa.int32()),
        "customer_id": pa.array([e.customer_id for e in rows], pa.int64()),
        "occurrence": pa.array([e.occurrence for e in rows], pa.string()),
        "channel": pa.array([e.channel for e in rows], pa.string()),
        "priority": pa.array([e.priority for e in rows], pa.int32()),
        "due_at": pa.array([_utc(e.due_at) for e in rows], pa.timestamp("us")),
        "status": pa.array([e.status for e in rows], pa.string()),
        "reason": pa.array([e.reason for e in rows], pa.string()),
        "payload": pa.array([_payload_text(e) for e in rows], pa.string()),
        "attempts": pa.array([0] * len(rows), pa.int32()),
        "run_id": pa.array([run_id] * len(rows), pa.int64()),
        "created_at": pa.array([now] * len(rows), pa.timestamp("us")),
    })
    columns = ", ".join(staged.column_names)
    name = f"outbox_stage_{uuid.uuid4().hex[:12]}"
    with store.transaction():
        store.stage(name, staged)
        try:
            # NOT EXISTS skips known keys in bulk; ON CONFLICT covers a row another writer added.
            inserted = store.fetchall(
                f'INSERT INTO outbox ({columns}) SELECT {columns} FROM "{name}" AS s '
                "WHERE NOT EXISTS (SELECT 1 FROM outbox AS o WHERE o.key = s.key) "
                "ON CONFLICT (key) DO NOTHING RETURNING key")
        finally:
            store.unstage(name)
    return len(inserted)


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
        return to_json(entry.payload)
    except (TypeError, ValueError) as exc:
        raise InputError(f"outbox entry {entry.key}: `payload` is not JSON: {exc}", parameter="payload") from None


# -- claiming and finishing ------------------------------------------------------------------
def claim(store: Store, now: datetime, claimed_by: str, limit: int = 200,
          keys: list[str] | None = None) -> list[Delivery]:
    """Claim up to ``limit`` due queued rows (highest priority, then earliest due, then key) for
    ``claimed_by``, or, with ``keys``, those of them still queued; they become ``sending``. One
    transaction, committed at once."""
    now = _utc(now)
    if keys is not None and not keys:
        return []
    with store.transaction():
        # The outer status test is what makes the claim safe without the writer lock: under
        # READ COMMITTED PostgreSQL re-checks it on a row another transaction just changed.
        if keys is None:
            chosen = ("SELECT key FROM outbox WHERE status = 'queued' AND due_at <= ? "
                      "ORDER BY priority DESC, due_at, key LIMIT ?")
            chosen_params: tuple = (now, int(limit))
        else:
            chosen, chosen_params = ", ".join("?" * len(keys)), tuple(keys)
        store.execute(
            "UPDATE outbox SET status = 'sending', claimed_by = ?, claimed_at = ?, attempts = attempts + 1 "
            f"WHERE status = 'queued' AND key IN ({chosen})", (claimed_by, now, *chosen_params))
        mine = "" if keys is None else f"AND key IN ({chosen}) "
        rows = store.fetchall(
            "SELECT key, playbook, step, customer_id, channel, payload, attempts FROM outbox "
            f"WHERE claimed_by = ? AND status = 'sending' {mine}ORDER BY priority DESC, due_at, key",
            (claimed_by, *(() if keys is None else chosen_params)))
    # Delivery.attempts counts the deliveries tried before this one; the stored count includes it.
    return [Delivery(key, playbook, step, customer_id, channel, json.loads(payload), attempts - 1)
            for key, playbook, step, customer_id, channel, payload, attempts in rows]


def due_keys(store: Store, now: datetime, limit: int) -> list[str]:
    """The keys of up to ``limit`` due queued rows, in claiming order (read, not claimed)."""
    return [key for (key,) in store.fetchall(
        "SELECT key FROM outbox WHERE status = 'queued' AND due_at <= ? ORDER BY priority DESC, due_at, key LIMIT ?",
        (_utc(now), int(limit)))]


def finish(store: Store, key: str, claimed_by: str, outcome: Outcome, now: datetime,
           retry_delays: tuple[int, ...] = RETRY_DELAYS, max_attempts: int = MAX_ATTEMPTS) -> str | None:
    """Record a channel's ``outcome`` for a row ``claimed_by`` holds: ``sent``, ``failed``, or
    (``retry``) queued again after the next of ``retry_delays`` seconds, ``failed`` once
    ``max_attempts`` deliveries were tried. The status recorded; None when the row was no
    longer this claimer's (``recover`` marked it unknown meanwhile)."""
    if not retry_delays or any(delay <= 0 for delay in retry_delays):
        raise InputError(f"`retry_delays` must be seconds > 0, not {retry_delays!r}", parameter="retry_delays")
    if max_attempts < 1:
        raise InputError(f"`max_attempts` must be at least 1, not {max_attempts!r}", parameter="max_attempts")
    now, detail = _utc(now), one_line(outcome.detail)
    held = "WHERE key = ? AND claimed_by = ? AND status = 'sending' RETURNING key"
    with store.transaction():
        if outcome.status == SENT:
            done = store.fetchall(f"UPDATE outbox SET status = 'sent', reason = NULL, response = ?, finished_at = ? "
                                  f"{held}", (detail, now, key, claimed_by))
            return SENT if done else None
        if outcome.status == RETRY:
            row = store.fetchone("SELECT attempts FROM outbox WHERE key = ? AND claimed_by = ? AND status = 'sending'",
                                 (key, claimed_by))
            if row is None:
                return None
            attempts = row[0]
            if attempts < max_attempts:
                due = now + timedelta(seconds=retry_delays[min(attempts, len(retry_delays)) - 1])
                reason = f"attempt {attempts} of {max_attempts} failed; next at {due:%Y-%m-%d %H:%M}"
                store.execute("UPDATE outbox SET status = 'queued', due_at = ?, reason = ?, response = ? "
                              "WHERE key = ? AND claimed_by = ? AND status = 'sending'",
                              (due, reason, detail, key, claimed_by))
                return QUEUED
            reason = f"gave up after {attempts} attempts"
        elif outcome.status == FAILED:
            reason = detail
        else:
            raise InputError(f"outcome status {outcome.status!r} is not one of sent, failed, retry",
                             parameter="status")
        done = store.fetchall(f"UPDATE outbox SET status = 'failed', reason = ?, response = ?, finished_at = ? {held}",
                              (reason, detail, now, key, claimed_by))
        return FAILED if done else None


def release(store: Store, key: str, claimed_by: str, status: str, reason: str | None,
            due_at: datetime | None = None, now: datetime | None = None) -> bool:
    """Hand back a claimed row the gate stopped before any channel saw it: ``suppressed`` or
    ``skipped`` (final, with ``reason``), or ``queued`` again (at ``due_at`` if given). The
    claim's attempt is taken back: no channel tried it. True if the row was still this claimer's."""
    if status in FINAL_BY_GATE:
        if not reason:
            raise InputError(f"releasing {key} as {status} needs a `reason`", parameter="reason")
        done = _update_held(store, key, claimed_by, "status = ?, reason = ?, finished_at = COALESCE(?, claimed_at), attempts = attempts - 1",
                            (status, reason, _utc(now) if now else None))
    elif status == QUEUED:
        done = _update_held(store, key, claimed_by,
                            "status = 'queued', reason = ?, due_at = COALESCE(?, due_at), attempts = attempts - 1",
                            (reason, _utc(due_at) if due_at else None))
    else:
        raise InputError(f"cannot release {key} as {status!r}: use suppressed, skipped or queued", parameter="status")
    return done


def recover(store: Store, now: datetime, lease_seconds: float = 900) -> int:
    """Mark ``unknown`` the rows left ``sending`` for more than ``lease_seconds`` (a crashed or
    killed run); they are never sent again. The number of rows marked."""
    now = _utc(now)
    with store.transaction():
        marked = store.fetchall(
            "UPDATE outbox SET status = 'unknown', reason = ?, finished_at = ? "
            "WHERE status = 'sending' AND claimed_at < ? RETURNING key",
            (f"still sending after {lease_seconds:g} s: the run that claimed it stopped; not sent again",
             now, now - timedelta(seconds=lease_seconds)))
    return len(marked)


def abandon(store: Store, claimed_by: str, now: datetime | None = None) -> int:
    """Mark ``unknown`` the rows ``claimed_by`` still holds (a run's cleanup after an unexpected
    error). The number of rows marked."""
    with store.transaction():
        marked = store.fetchall(
            "UPDATE outbox SET status = 'unknown', reason = ?, finished_at = COALESCE(?, claimed_at) "
            "WHERE claimed_by = ? AND status = 'sending' RETURNING key",
            ("the run stopped while sending: outcome unknown; not sent again", _utc(now) if now else None,
             claimed_by))
    return len(marked)


def _update_held(store: Store, key: str, claimed_by: str, assignments: str, params: tuple) -> bool:
    with store.transaction():
        done = store.fetchall(f"UPDATE outbox SET {assignments} WHERE key = ? AND claimed_by = ? "
                              "AND status = 'sending' RETURNING key", (*params, key, claimed_by))
    return bool(done)


def _mark_unknown(store: Store, key: str, claimed_by: str, now: datetime, reason: str) -> bool:
    return _update_held(store, key, claimed_by, "status = 'unknown', reason = ?, finished_at = ?",
                        (one_line(reason), _utc(now)))


# -- the delivery loop ---------------------------------------------------------------------
def deliver_due(store: Store, channels: Mapping[str, Channel], now: datetime, claimed_by: str,
                gate: Gate | None = None, batch: int = 200, progress: Callable[[str], None] | None = None,
                retry_delays: tuple[int, ...] = RETRY_DELAYS, max_attempts: int = MAX_ATTEMPTS,
                prepare: Callable[[list[Delivery]], None] | None = None) -> dict[str, int]:
    """Deliver every row due at ``now``, ``batch`` claims at a time; counts of the statuses the
    rows handled were left in (``queued`` = retried or deferred).

    ``gate(delivery)`` is asked first: None sends; ``("suppressed" | "skipped", reason)`` ends
    the row; ``("defer", until)`` queues it again at ``until`` (later than ``now``). A row whose
    channel is not configured fails naming the settings to add; a channel that raises leaves its
    row ``unknown`` (the remote side may have received it) and the loop goes on. If the loop
    itself stops on an error, the rows of the batch not yet handed to a channel are queued again.
    ``prepare(batch)``, when given, sees each claimed batch first (a gate reads what it needs for
    the batch at once instead of row by row).
    """
    now = _utc(now)
    counts = dict.fromkeys((SENT, FAILED, QUEUED, UNKNOWN, SUPPRESSED, SKIPPED), 0)
    # Due keys are read a window at a time and claimed ``batch`` by ``batch`` by key: one scan
    # of the queue per window, not per batch (rows another run took meanwhile are just skipped).
    window: list[str] = []
    said = time.monotonic()
    while True:
        if not window:
            window = due_keys(store, now, max(batch, WINDOW))
            if not window:
                return counts
        chunk, window = window[:batch], window[batch:]
        pending = claim(store, now, claimed_by, batch, keys=chunk)
        if not pending:
            continue
        try:
            if prepare is not None:
                prepare(list(pending))
            while pending:
                delivery = pending[0]
                decision = gate(delivery) if gate is not None else None
                if decision is not None:
                    status = _apply_gate(store, delivery, claimed_by, decision, now)
                    pending.pop(0)
                else:
                    pending.pop(0)  # from here on the remote side may see it: never put back
                    status = _send(store, channels.get(delivery.channel), delivery, claimed_by, now,
                                   retry_delays, max_attempts)
                if status is not None:
                    counts[status] += 1
        except BaseException:
            _put_back(store, pending, claimed_by)
            raise
        if progress is not None and time.monotonic() - said >= 1.0:  # a line a second, not one per batch
            said = time.monotonic()
            progress(f"outbox: {counts[SENT]} sent, {counts[FAILED]} failed, {counts[QUEUED]} queued again, "
                     f"{counts[UNKNOWN]} unknown, {counts[SUPPRESSED] + counts[SKIPPED]} not sent")


def _put_back(store: Store, pending: list[Delivery], claimed_by: str) -> None:
    """Queue again the claimed rows no channel has seen, after the loop stopped on an error."""
    for delivery in pending:
        try:
            release(store, delivery.key, claimed_by, QUEUED, None)
        except Exception:  # noqa: BLE001 - a broken store must not mask the first error; recover() marks it later
            return


def _apply_gate(store: Store, delivery: Delivery, claimed_by: str, decision, now: datetime) -> str | None:
    verdict, detail = decision
    if verdict in FINAL_BY_GATE:
        return verdict if release(store, delivery.key, claimed_by, verdict, str(detail), now=now) else None
    if verdict == DEFER:
        until = _utc(detail) if isinstance(detail, datetime) else None
        if until is None or until <= now:
            # A row deferred to now would be claimed again by this same loop, forever.
            raise InputError(f"the gate deferred {delivery.key} to {detail!r}: a deferral needs a datetime later "
                             f"than {now:%Y-%m-%d %H:%M:%S}", parameter="until")
        reason = f"capped until {until:%Y-%m-%d %H:%M}"
        return QUEUED if release(store, delivery.key, claimed_by, QUEUED, reason, due_at=until) else None
    raise InputError(f"the gate answered {verdict!r} for {delivery.key}: use None, suppressed, skipped or defer",
                     parameter="gate")


def _send(store: Store, channel: Channel | None, delivery: Delivery, claimed_by: str, now: datetime,
          retry_delays: tuple[int, ...], max_attempts: int) -> str | None:
    if channel is None:
        outcome = Outcome(FAILED, f"no channel {delivery.channel!r} is configured: add a [channels.{delivery.channel}] "
                                  "section to the settings file (retainly.toml)")
        return finish(store, delivery.key, claimed_by, outcome, now, retry_delays, max_attempts)
    try:
        outcome = channel.deliver(delivery)
    except Exception as exc:  # noqa: BLE001 - one channel's bug must not block the others
        text = one_line(str(exc)) or type(exc).__name__
        marked = _mark_unknown(store, delivery.key, claimed_by, now,
                               f"channel {delivery.channel!r} raised {type(exc).__name__}: {text}")
        return UNKNOWN if marked else None
    except BaseException:  # interrupted mid-call: it may have arrived; record that, then stop
        _mark_unknown(store, delivery.key, claimed_by, now, "interrupted while sending")
        raise
    return finish(store, delivery.key, claimed_by, outcome, now, retry_delays, max_attempts)


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
