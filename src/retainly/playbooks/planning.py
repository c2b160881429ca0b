"""A playbook's due steps, and the outbox rows they become, worked out a whole column at a time.

A first run at 1 M customers plans about a million rows. Row by row in Python that took most of
a minute (a tuple, a dict lookup and a branch per row); here each rule is one operation over
Arrow or NumPy columns, and the only Python work per row is rendering each *distinct* message
once (retainly.playbooks.payloads) and choosing a channel once per reach profile
(retainly.playbooks.facts). The rules themselves are those of retainly.playbooks.run:

* a step is due ``after_days`` after its enrolment and not yet in the outbox (its key);
* a step more than ``late_days`` late is skipped, as is one whose playbook condition no longer holds,
  and a message with an offer to a customer a manager has an open task with;
* otherwise its channel is the first of the step's channels the customer may be reached by (the
  preferred one first), or it is suppressed with the first refusal's reason;
* a marketing row over the customer's weekly cap for its channel (``WeeklyCaps``) is deferred to
  the next day. Playbooks are planned by priority, so the more important one takes the slot.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retainly.messaging.promo_codes import CodePlan, code_of
from retainly.playbooks import enrol as enrolment
from retainly.playbooks.definition import Playbook
from retainly.playbooks.facts import Facts
from retainly.playbooks.payloads import StepPayloads
from retainly.store.backends import Store

EPOCH = date(1970, 1, 1)
DUE = pa.schema([("key", pa.string()), ("customer_id", pa.int64()), ("occurrence", pa.string()),
                 ("step", pa.int32()), ("days_late", pa.int32())])


def due_steps(store: Store, playbook: Playbook, fresh: pa.Table, as_of: date, late_days: int) -> pa.Table:
    """The steps of ``playbook`` due by ``as_of`` and not in the outbox yet (``DUE``), of this run's
    treatment enrolments ``fresh`` (customer_id, occurrence; not written yet in a dry run) and the
    earlier ones whose steps may still be due. In the order a run plans them: by customer,
    occurrence and enrolment day, then step."""
    horizon = max(s.after_days for s in playbook.steps) + late_days
    earlier = store.fetch_arrow(
        "SELECT customer_id, occurrence, enrolled_on FROM enrolments WHERE playbook = ? AND arm = ? "
        "AND enrolled_on >= ? AND enrolled_on <= ?",
        (playbook.name, enrolment.TREATMENT, as_of - timedelta(days=horizon), as_of))
    schema = pa.schema([("customer_id", pa.int64()), ("occurrence", pa.string()), ("enrolled_on", pa.date32())])
    fresh = fresh.select(["customer_id", "occurrence"]).append_column(
        "enrolled_on", pa.array([as_of] * fresh.num_rows, pa.date32()))
    enrolled = pa.concat_tables([fresh.cast(schema), earlier.select(schema.names).cast(schema)])
    enrolled = enrolled.group_by(schema.names, use_threads=False).aggregate([])  # each enrolment once
    enrolled = enrolled.sort_by([(name, "ascending") for name in schema.names])
    steps = len(playbook.steps)
    at = np.repeat(np.arange(enrolled.num_rows), steps)
    number = np.tile(np.arange(1, steps + 1, dtype=np.int32), enrolled.num_rows)
    after = np.tile(np.array([s.after_days for s in playbook.steps], np.int32), enrolled.num_rows)
    enrolled_day = pc.cast(enrolled["enrolled_on"], pa.int32()).to_numpy()[at] if len(at) else np.zeros(0, np.int32)
    days_late = (as_of - EPOCH).days - enrolled_day - after  # negative: not due yet
    rows = enrolled.select(["customer_id", "occurrence"]).take(pa.array(at, pa.int64()))
    prefixes = pa.array([f"{playbook.name}/{n}/" for n in range(1, steps + 1)], pa.string()).take(
        pa.array(number - 1, pa.int64()))
    keys = pc.binary_join_element_wise(prefixes, pc.cast(rows["customer_id"], pa.string()), "/",
                                       rows["occurrence"], "")
    planned = store.fetch_arrow("SELECT key FROM outbox WHERE playbook = ?", (playbook.name,))["key"]
    keep = pc.and_(pa.array(days_late >= 0), pc.invert(pc.is_in(keys, value_set=pc.cast(planned, pa.string()))))
    return pa.table({"key": keys, "customer_id": rows["customer_id"], "occurrence": rows["occurrence"],
                     "step": pa.array(number), "days_late": pa.array(days_late, pa.int32())}, schema=DUE).filter(keep)


class WeeklyCaps:
    """Marketing rows per customer and capped channel in the seven days up to the run, this run's
    planned rows included, kept per position in the run's ``Facts``."""

    def __init__(self, facts: Facts, limits: dict[str, int | None]):
        self.limits = {channel: limit for channel, limit in limits.items() if limit is not None}
        self._used = {channel: np.zeros(facts.table.num_rows, np.int64) for channel in self.limits}
        self._facts = facts

    def load(self, store: Store, since: datetime, marketing: set[str]) -> WeeklyCaps:
        """Count the marketing rows sent, being sent or queued, due after ``since`` (naive UTC)."""
        if not marketing or not self.limits or not self._facts.table.num_rows:
            return self
        counted = store.fetch_arrow(
            "SELECT customer_id, channel, COUNT(*) AS n FROM outbox WHERE status IN ('sent', 'sending', 'queued') "
            f"AND due_at > ? AND playbook IN ({', '.join('?' * len(marketing))}) GROUP BY customer_id, channel",
            (since, *sorted(marketing)))
        for channel, used in self._used.items():
            mine = counted.filter(pc.equal(counted["channel"], channel))
            at = self._facts.positions(mine["customer_id"].to_numpy())
            found = pc.is_valid(at).to_numpy(zero_copy_only=False)
            used += np.bincount(pc.filter(at, found).to_numpy(), weights=mine["n"].to_numpy()[found],
                                minlength=len(used)).astype(np.int64)
        return self

    def take(self, channel: str, positions: np.ndarray) -> np.ndarray:
        """Count rows for the customers at ``positions`` (in planning order) on ``channel``: which of
        them are over the cap, counting those before them (earlier runs, higher priority, earlier rows)."""
        if channel not in self.limits:
            return np.zeros(len(positions), bool)
        used = self._used[channel]
        over = used[positions] + earlier_alike(positions) >= self.limits[channel]
        used += np.bincount(positions, minlength=len(used))
        return over


def earlier_alike(values: np.ndarray) -> np.ndarray:
    """For each element, how many equal elements come before it (0, 1, 2, ... per value, in order)."""
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]]) if len(ranked) else np.zeros(0, np.int64)
    earlier = np.empty(len(values), np.int64)
    earlier[order] = np.arange(len(ranked)) - np.repeat(starts, np.diff(np.r_[starts, len(ranked)]))
    return earlier


class Outcome:
    """What one playbook's planned rows came to (counted into its report)."""

    def __init__(self):
        self.planned, self.capped = 0, 0
        self.suppressed: Counter = Counter()
        self.skipped: Counter = Counter()


def outbox_rows(playbook: Playbook, due: pa.Table, facts: Facts, holds: np.ndarray | None, caps: WeeklyCaps,
                as_of: date, late_days: int, now_due: datetime, capped_due: datetime,
                with_payloads: bool, codes: CodePlan | None = None,
                paused: np.ndarray | None = None, withheld: np.ndarray | None = None) -> tuple[pa.Table, Outcome]:
    """``due`` (``due_steps``) as outbox rows (the columns of retainly.playbooks.outbox.WRITTEN),
    and their counts. ``holds``: the customers the playbook's condition matches (None: no condition);
    ``codes``: where steps with a promo pool take their customers' codes; ``paused``: customers a
    manager has an open task with, whose messages with an offer are skipped meanwhile; ``withheld``:
    per row, why its offer is withheld (None: it is not; retainly.experiments.offers)."""
    count = due.num_rows
    customer_ids = due["customer_id"].to_numpy()
    numbers = due["step"].to_numpy()
    positions = facts.positions(customer_ids)
    status = np.full(count, "queued", object)
    reason = np.full(count, None, object)
    channel = np.empty(count, object)
    late = due["days_late"].to_numpy() > late_days
    status[late], reason[late] = "skipped", f"more than {late_days} days late"
    if holds is not None:
        gone = ~late & ~np.isin(customer_ids, holds)
        status[gone], reason[gone] = "skipped", "the condition no longer holds"
    if paused is not None and len(paused):
        offering = np.array([step.action == "message" and bool(step.offer) for step in playbook.steps])
        waiting = (status == "queued") & offering[numbers - 1] & np.isin(customer_ids, paused)
        status[waiting], reason[waiting] = "skipped", "a manager's task is open"
    open_ = status == "queued"
    for number, step in enumerate(playbook.steps, start=1):
        mine = numbers == number
        channel[mine] = step.channels[0]
        asked = np.flatnonzero(mine & open_)
        chosen, why = facts.choose(positions.take(pa.array(asked, pa.int64())), step.channels, playbook.marketing)
        refused = chosen == None  # noqa: E711 - element-wise over an object array
        channel[asked[~refused]] = chosen[~refused]
        status[asked[refused]], reason[asked[refused]] = "suppressed", why[refused]
    promo = np.full(count, None, object)
    for number, step in enumerate(playbook.steps, start=1):
        if step.promo_pool and codes is not None:
            rows = np.flatnonzero((numbers == number) & (status == "queued"))
            promo[rows] = codes.take(step.promo_pool, customer_ids[rows], due["key"].take(pa.array(rows)).to_pylist())
            none = rows[promo[rows] == None]  # noqa: E711 - element-wise over an object array
            status[none], reason[none] = "skipped", f"no promo code left in pool {step.promo_pool}"
    outcome = Outcome()
    capped = np.zeros(count, bool)
    queued = status == "queued"
    if playbook.marketing:
        at = pc.fill_null(positions, 0).to_numpy()
        for name, limit in caps.limits.items():
            rows = np.flatnonzero(queued & (channel == name))
            over = rows[caps.take(name, at[rows])]
            capped[over] = True
            reason[over] = f"capped: {limit} {name} a week"
    outcome.planned, outcome.capped = int(queued.sum()), int(capped.sum())
    outcome.suppressed.update(reason[status == "suppressed"].tolist())
    outcome.skipped.update(reason[status == "skipped"].tolist())
    payload = pa.nulls(count, pa.string())
    if with_payloads and count:
        context = facts.context(positions)
        if any(step.promo_pool for step in playbook.steps):
            context = context.append_column("promo_code", pa.array(promo, pa.string()))
        if withheld is not None:
            context = context.append_column("offer_withheld", pa.array(withheld, pa.string()))
        payload = _payloads(playbook, numbers, context, as_of)
    table = pa.table({
        "key": due["key"], "playbook": pa.array([playbook.name] * count, pa.string()), "step": due["step"],
        "customer_id": due["customer_id"], "occurrence": due["occurrence"], "channel": pa.array(channel, pa.string()),
        "priority": pa.array(np.full(count, playbook.priority, np.int32)),
        "due_at": pc.if_else(pa.array(capped), pa.scalar(capped_due, pa.timestamp("us")),
                             pa.scalar(now_due, pa.timestamp("us"))),
        "status": pa.array(status, pa.string()), "reason": pa.array(reason, pa.string()), "payload": payload})
    return table, outcome


def one_payload(store: Store, playbook: Playbook, number: int, customer_id: int,
                as_of: date) -> tuple[dict, str | None, str | None]:
    """What step ``number`` of ``playbook`` would carry for one customer as of ``as_of`` (the payload
    a run writes), the channel a run would choose, and why none may be used (None when one may):
    what a preview shows."""
    facts = Facts.load(store, [customer_id], as_of)
    positions = facts.positions(np.array([customer_id], np.int64))
    step = playbook.steps[number - 1]
    chosen, why = facts.choose(positions, step.channels, playbook.marketing)
    context = facts.context(positions)
    if step.promo_pool:  # the customer's code if one was given, else a stand-in: a preview gives none out
        given = code_of(store, step.promo_pool, customer_id)
        context = context.append_column("promo_code", pa.array([given or "PREVIEW-CODE"], pa.string()))
    text = StepPayloads(playbook, step, number, as_of).texts(context)[0].as_py()
    return json.loads(text), chosen[0], why[0]


def _payloads(playbook: Playbook, numbers: np.ndarray, context: pa.Table, as_of: date) -> pa.Array:
    """Each row's payload, written a step at a time, back in the rows' order."""
    order = np.argsort(numbers, kind="stable")
    parts = []
    for number, step in enumerate(playbook.steps, start=1):
        rows = order[numbers[order] == number]
        if len(rows):
            parts.append(StepPayloads(playbook, step, number, as_of).texts(context.take(pa.array(rows, pa.int64()))))
    written = pa.concat_arrays([part.combine_chunks() if isinstance(part, pa.ChunkedArray) else part
                                for part in parts])
    back = np.empty(len(order), np.int64)
    back[order] = np.arange(len(order))
    return written.take(pa.array(back))
