"""The delivery loop: due outbox rows claimed a batch at a time, gated, handed to their channel.

Due rows are read a window at a time (``WINDOW`` rows), then claimed a batch of one channel's
rows at a time, in one transaction each:

1. ``prepare(deliveries)`` reads what the gate needs for the whole window at once;
2. the gate decides each row (``gate(delivery)`` one at a time, or ``gate_many(batch)`` for the
   batch at once): None sends; ``("suppressed" | "skipped", reason)`` ends it; ``("defer",
   until)`` queues it again at ``until``. The gated rows are released in one transaction,
   before any channel sees the rest;
3. the rest go to the channel: all at once when it has ``deliver_many`` (the file channel
   appends a batch with one fsync), else one by one;
4. the outcomes are recorded in one transaction (retainly.playbooks.outbox.finish_many).

**At most once.** Every row is claimed (``sending``) before its channel sees it and never put
back once a channel may have seen it, so a kill anywhere leaves at worst ``sending`` rows that
``recover`` marks ``unknown``, never a second delivery. A channel's ``batch_size`` (or the
loop's ``batch``) bounds how many rows a kill can leave so: a webhook channel works in small
batches. The file channel takes a window at once: it keeps its own record of what it delivered,
from which ``recover`` settles the rows a kill left claimed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from retainly.errors import InputError
from retainly.messaging.channels import FAILED, Channel, Delivery, Outcome, one_line
from retainly.playbooks.outbox import (
    FINAL_BY_GATE,
    MAX_ATTEMPTS,
    QUEUED,
    RETRY_DELAYS,
    SENT,
    SKIPPED,
    SUPPRESSED,
    UNKNOWN,
    Due,
    _utc,
    claim_due,
    due_window,
    finish_many,
    mark_unknown_many,
    release_many,
)
from retainly.store.backends import Store

DEFER = "defer"
# Due rows read at once: one scan of the queue and one read of the customers' consents per window
# (a few seconds of sending at most, so an unsubscribe is seen within seconds); split by channel.
WINDOW = 100_000
# A gate returns None (send), (SUPPRESSED | SKIPPED, reason) or (DEFER, until).
Gate = Callable[[Delivery], "tuple[str, Any] | None"]
GateMany = Callable[[list[Delivery]], "list[tuple[str, Any] | None]"]


def deliver_due(store: Store, channels: Mapping[str, Channel], now: datetime, claimed_by: str,
                gate: Gate | None = None, batch: int = 200, progress: Callable[[str], None] | None = None,
                retry_delays: tuple[int, ...] = RETRY_DELAYS, max_attempts: int = MAX_ATTEMPTS,
                prepare: Callable[[list[Delivery]], None] | None = None,
                gate_many: GateMany | None = None) -> dict[str, int]:
    """Deliver every row due at ``now`` (see the module doc); counts of the statuses the rows
    handled were left in (``queued`` = retried or deferred). ``gate_many``, instead of ``gate``,
    answers for a whole claimed batch at once, in its order.

    ``batch`` rows are claimed at a time, or the channel's own ``batch_size``. A row whose
    channel is not configured fails naming the settings to add; a channel that raises leaves
    its rows ``unknown`` (the remote side may have received them) and the loop goes on. If the
    loop itself stops on an error, the claimed rows no channel saw are queued again.
    """
    now = _utc(now)
    if gate is not None and gate_many is None:
        gate_many = lambda pending: [gate(delivery) for delivery in pending]  # noqa: E731
    counts = dict.fromkeys((SENT, FAILED, QUEUED, UNKNOWN, SUPPRESSED, SKIPPED), 0)
    queues: dict[str, deque[tuple[int, Due]]] = {}  # a window's rows by channel, with their place
    said, batches = time.monotonic(), 0
    while True:
        if not queues:
            window = due_window(store, now, max(batch, WINDOW))
            if not window:
                return counts
            if prepare is not None:  # the gate's reads for the whole window, fresh for each window
                prepare([due.delivery for due in window])
            for place, due in enumerate(window):
                queues.setdefault(due.delivery.channel, deque()).append((place, due))
        name = min(queues, key=lambda each: queues[each][0][0])  # the channel of the window's next row
        channel = channels.get(name)
        size = max(1, int(getattr(channel, "batch_size", None) or batch))
        queue = queues[name]
        chunk = [queue.popleft()[1] for _ in range(min(size, len(queue)))]
        if not queue:
            del queues[name]
        # Each batch is claimed under a name of its own ("run-7/12"), so its outcomes are recorded
        # by that name rather than a list of keys. Rows another run took meanwhile are not claimed.
        batches += 1
        token = f"{claimed_by}/{batches}"
        pending = claim_due(store, now, token, name, chunk)
        if pending:
            for status in _deliver_batch(store, channel, name, pending, token, now, gate_many,
                                         retry_delays, max_attempts):
                counts[status] += 1
        if progress is not None and time.monotonic() - said >= 1.0:  # a line a second, not one per batch
            said = time.monotonic()
            progress(f"outbox: {counts[SENT]} sent, {counts[FAILED]} failed, {counts[QUEUED]} queued again, "
                     f"{counts[UNKNOWN]} unknown, {counts[SUPPRESSED] + counts[SKIPPED]} not sent")


def _deliver_batch(store: Store, channel: Channel | None, name: str, pending: list[Delivery], claimed_by: str,
                   now: datetime, gate: GateMany | None, retry_delays, max_attempts) -> list[str]:
    """One claimed batch through the gate and its channel; the statuses recorded."""
    try:
        decisions = [(delivery, _checked(delivery, answer, now))
                     for delivery, answer in zip(pending, gate(pending), strict=True)] \
            if gate is not None else [(delivery, None) for delivery in pending]
    except BaseException:
        _put_back(store, pending, claimed_by)
        raise
    stopped = [(d.key, *decision) for d, decision in decisions if decision is not None]  # (key, status, reason, until)
    released = release_many(store, stopped, claimed_by, now) if stopped else {}
    statuses = [verdict for key, verdict, _, _ in stopped if released[key]]
    outgoing = [d for d, decision in decisions if decision is None]
    if not outgoing:
        return statuses
    if channel is None:
        outcome = Outcome(FAILED, f"no channel {name!r} is configured: add a [channels.{name}] section to the "
                                  "settings file (retainly.toml)")
        done = finish_many(store, [(d.key, outcome) for d in outgoing], claimed_by, now, retry_delays, max_attempts,
                           whole_claim=True)
        return statuses + [s for s in done.values() if s is not None]
    outcomes, unknown = _send(store, channel, outgoing, claimed_by, now, retry_delays, max_attempts)
    # The rows the gate stopped were released: the outcomes cover all the batch holds, unless some
    # are left to mark unknown.
    done = finish_many(store, outcomes, claimed_by, now, retry_delays, max_attempts,
                       whole_claim=not unknown) if outcomes else {}
    marked = mark_unknown_many(store, unknown, claimed_by, now) if unknown else {}
    return statuses + [s for s in done.values() if s is not None] + [UNKNOWN for ok in marked.values() if ok]


def _send(store: Store, channel: Channel, outgoing: list[Delivery], claimed_by: str, now: datetime,
          retry_delays, max_attempts) -> tuple[list[tuple[str, Outcome]], list[tuple[str, str]]]:
    """Hand ``outgoing`` to ``channel``: (key, outcome) of the answered rows and (key, reason) of
    those whose outcome cannot be known. An interrupt records what was answered, marks the row in
    flight unknown, queues the untried ones again, and goes on up."""
    outcomes: list[tuple[str, Outcome]] = []
    unknown: list[tuple[str, str]] = []
    many = getattr(channel, "deliver_many", None)
    if many is not None:
        try:
            answered = many(outgoing)
        except Exception as exc:  # noqa: BLE001 - one channel's bug must not block the others
            return [], [(d.key, _raised(channel, exc)) for d in outgoing]
        except BaseException:
            mark_unknown_many(store, [(d.key, "interrupted while sending") for d in outgoing], claimed_by, now)
            raise
        return [(d.key, outcome) for d, outcome in zip(outgoing, answered, strict=True)], []
    for index, delivery in enumerate(outgoing):
        try:
            outcomes.append((delivery.key, channel.deliver(delivery)))
        except Exception as exc:  # noqa: BLE001 - one channel's bug must not block the others
            unknown.append((delivery.key, _raised(channel, exc)))
        except BaseException:  # interrupted mid-call: it may have arrived; record that, then stop
            if outcomes:
                finish_many(store, outcomes, claimed_by, now, retry_delays, max_attempts)
            mark_unknown_many(store, [*unknown, (delivery.key, "interrupted while sending")], claimed_by, now)
            _put_back(store, outgoing[index + 1:], claimed_by)
            raise
    return outcomes, unknown


def _raised(channel: Channel, exc: Exception) -> str:
    return f"channel {channel.name!r} raised {type(exc).__name__}: {one_line(str(exc)) or type(exc).__name__}"


def _checked(delivery: Delivery, decision, now: datetime) -> tuple[str, str, datetime | None] | None:
    """A gate's answer as (status, reason, due_at) to release with, or None to send."""
    if decision is None:
        return None
    verdict, detail = decision
    if verdict in FINAL_BY_GATE:
        return verdict, str(detail), None
    if verdict == DEFER:
        until = _utc(detail) if isinstance(detail, datetime) else None
        if until is None or until <= now:
            # A row deferred to now would be claimed again by this same loop, forever.
            raise InputError(f"the gate deferred {delivery.key} to {detail!r}: a deferral needs a datetime later "
                             f"than {now:%Y-%m-%d %H:%M:%S}", parameter="until")
        return QUEUED, f"capped until {until:%Y-%m-%d %H:%M}", until
    raise InputError(f"the gate answered {verdict!r} for {delivery.key}: use None, suppressed, skipped or defer",
                     parameter="gate")


def _put_back(store: Store, pending: list[Delivery], claimed_by: str) -> None:
    """Queue again the claimed rows no channel has seen, after the loop stopped on an error."""
    if not pending:
        return
    try:
        release_many(store, [(d.key, QUEUED, None, None) for d in pending], claimed_by)
    except Exception:  # noqa: BLE001 - a broken store must not mask the first error; recover() marks it later
        return
