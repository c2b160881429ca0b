"""The run loop: evaluate triggers, enrol with arms, plan due steps into the outbox, deliver.

``run`` is made to be called by cron or a scheduler, once or many times a day:

1. Playbooks are taken by priority, highest first, so that when a frequency cap bites the
   more important playbook has already taken the slot (a win-back beats a cross-sell).
2. Each playbook's candidates (retainly.playbooks.enrol) are enrolled with their arm: the
   arm is drawn before consent and caps (intention to treat). Customers of the global control
   group (``[experiments]``, retainly.experiments.control) are left out first, from the day it
   began: they enter no playbook, and no step of an earlier enrolment of theirs is planned.
3. Every step of a treatment enrolment that is due by the as-of date and not yet planned
   becomes one outbox row (retainly.playbooks.planning, a column at a time, once every playbook
   has enrolled) under the key ``playbook/step/customer/occurrence``: queued for
   the first channel the customer may be reached by, or recorded as suppressed (by reason)
   or skipped (the condition no longer holds, or the step is more than ``late_days`` late).
   A marketing row over the customer's weekly cap for its channel is deferred to the next
   day, not dropped; quiet hours push the due time to their end. Incentives are withheld
   from customers predicted to be hit-and-run buyers and, in the playbooks whose offers are
   targeted (``[experiments] target_offers``, retainly.experiments.offers), from those they are
   not expected to pay for; those decisions are written with the outbox rows.
4. The enrolments and outbox rows of all playbooks are written together, in one transaction.
5. Due rows are delivered through their channels (retainly.playbooks.outbox), which checks
   consent, suppression and caps again at send time.

``dry_run`` works the same out and writes nothing. Exactly once: enrolments and outbox rows
are unique per key and written with ON CONFLICT DO NOTHING; rows are claimed before delivery.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retainly.audiences import membership
from retainly.collector import collector_paused
from retainly.errors import InputError
from retainly.experiments import offers as offer_targeting
from retainly.experiments.control import GlobalControl
from retainly.messaging.promo_codes import CodePlan
from retainly.playbooks import delivery, outbox, planning
from retainly.playbooks import enrol as enrolment
from retainly.playbooks.definition import Playbook
from retainly.playbooks.facts import Facts
from retainly.settings import ActionSettings, ExperimentSettings
from retainly.store.backends import Store

CAPPED_CHANNELS = ("email", "sms")


@dataclass
class PlaybookRun:
    """What one playbook did (or, in a dry run, would do) in a run."""

    name: str
    entered: int = 0
    held_out: int = 0
    planned: int = 0  # outbox rows queued for delivery
    capped: int = 0  # of those, deferred by a frequency cap
    suppressed: Counter = field(default_factory=Counter)  # reason -> rows
    skipped: Counter = field(default_factory=Counter)
    global_control: int | None = None  # candidates left out as the global control group (None: no group)


@dataclass
class RunReport:
    as_of: date
    dry_run: bool
    run_id: int | None
    playbooks: list[PlaybookRun]
    delivered: dict[str, int] = field(default_factory=dict)  # final status -> rows


def utc(moment: datetime) -> datetime:
    """A naive local time (the shop's, as retainly keeps times) as naive UTC, as the outbox keeps them."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def run_moment(as_of: date, now: datetime | None = None) -> datetime:
    """The moment a run plans for: now when running for today, else noon of the as-of day."""
    now = now or datetime.now()
    return now if as_of >= now.date() else datetime.combine(as_of, time(12))


def out_of_quiet_hours(moment: datetime, settings: ActionSettings) -> datetime:
    """``moment``, or the end of the quiet hours it falls in."""
    start, end = settings.quiet_start_hour, settings.quiet_end_hour
    if start == end:
        return moment
    hour = moment.hour
    quiet = (start <= hour or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return moment
    day = moment.date() if hour < end else moment.date() + timedelta(days=1)
    return datetime.combine(day, time(end))


def run(store: Store, playbooks: list[Playbook], as_of: date, settings: ActionSettings, *, dry_run: bool = False,
        channels: Mapping[str, object] | None = None, now: datetime | None = None,
        progress: Callable[[str], None] | None = None, paused: np.ndarray | None = None,
        experiments: ExperimentSettings | None = None) -> RunReport:
    """One run as of ``as_of`` over the enabled ``playbooks`` (see the module doc). ``paused``: the
    customers whose messages with an offer wait (a manager has an open task with them);
    ``experiments``: the settings of the global control group kept out of every playbook, and of
    the offers targeted."""
    say = progress or (lambda _: None)
    moment = run_moment(as_of, now)
    control = GlobalControl.of(experiments)  # a wrong setting is refused before anything is written
    if control is not None and not control.keeps_out(as_of):
        control = None
    for playbook in playbooks:  # refused before anything is written (and in a dry run alike)
        if playbook.trigger.kind == "audience":
            membership.check_order(store, enrolment.audience_name(playbook), as_of,
                                   f"playbook {playbook.name!r} (its audience)")
    run_id = None
    if not dry_run:
        run_id = int(store.fetchone("SELECT nextval('run_ids')")[0])
        store.execute("INSERT INTO runs (run_id, as_of, started_at, status) VALUES (?, ?, ?, 'running')",
                      (run_id, as_of, datetime.now()))
    try:
        with collector_paused(), store.checkpoint_after() if not dry_run else nullcontext():
            report = _run(store, playbooks, as_of, settings, dry_run, channels, moment, run_id, say, progress,
                          paused, control, experiments)
    except BaseException as exc:
        if run_id is not None:  # the run's row says it stopped, and why
            reason = json.dumps({"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__})
            try:
                store.execute("UPDATE runs SET finished_at = ?, status = 'failed', summary = ? WHERE run_id = ?",
                              (datetime.now(), reason, run_id))
            except Exception:  # noqa: BLE001 - a lost connection must not hide the error that stopped the run
                pass
        raise
    return report


def _run(store: Store, playbooks: list[Playbook], as_of: date, settings: ActionSettings, dry_run: bool,
         channels: Mapping[str, object] | None, moment: datetime, run_id: int | None, say: Callable[[str], None],
         progress: Callable[[str], None] | None, paused: np.ndarray | None = None,
         control: GlobalControl | None = None, experiments: ExperimentSettings | None = None) -> RunReport:
    planner = _Planner(store, playbooks, as_of, moment, settings)
    planner.paused, planner.control = paused, control
    if experiments is not None and experiments.target_offers:  # each model fitted once in the run
        planner.offers = offer_targeting.RunOffers(store, experiments, as_of)
    report = RunReport(as_of, dry_run, run_id, [])
    for playbook in sorted(playbooks, key=lambda p: (-p.priority, p.name)):
        say(f"playbook {playbook.name}: who enters as of {as_of}")
        report.playbooks.append(planner.plan(playbook, dry_run, run_id))
    say("planning the due steps")
    planner.plan_rows(dry_run, run_id)
    if not dry_run:
        say("writing enrolments and the outbox")
        planner.write(report.playbooks)
        if channels is not None:
            say("delivering due actions")
            now_utc = datetime.now(timezone.utc)
            outbox.recover(store, now_utc, lease_seconds=settings.lease_seconds, channels=channels)
            planner.load_sent()
            # Small batches unless a channel sets its own: a kill turns a claimed batch's untried
            # rows "unknown" (never sent twice).
            report.delivered = delivery.deliver_due(store, channels, now_utc, claimed_by=f"run-{run_id}",
                                                    gate_many=planner.gate, batch=20, progress=progress,
                                                    prepare=planner.prepare_gate)
        summary = json.dumps({p.name: {"entered": p.entered, "held_out": p.held_out, "planned": p.planned}
                              | ({} if p.global_control is None else {"global_control": p.global_control})
                              for p in report.playbooks}, sort_keys=True)
        store.execute("UPDATE runs SET finished_at = ?, status = 'finished', summary = ? WHERE run_id = ?",
                      (datetime.now(), summary, run_id))
    return report


class _Planner:
    """Plans due steps into outbox entries, keeping this run's cap counts."""

    def __init__(self, store: Store, playbooks: list[Playbook], as_of: date, moment: datetime,
                 settings: ActionSettings):
        self.store, self.as_of, self.moment, self.settings = store, as_of, moment, settings
        self.marketing = {p.name for p in playbooks if p.marketing}
        self.by_name = {p.name: p for p in playbooks}
        self._due: list[tuple] = []  # (playbook, report, condition's customers, due steps) by priority
        self._reach: Facts | None = None  # the send-time checks' reads for the window being delivered
        self._sent: dict[str, Counter] = {}  # channel -> customer -> marketing messages sent this week
        self._later = datetime.now(timezone.utc) + timedelta(days=1)
        self._enrolments: list[pa.Table] = []  # planned, written together by ``write``
        self._codes: CodePlan | None = None  # promo codes given by this run's rows
        self._outbox: list[pa.Table] = []
        self._decisions: list[pa.Table] = []  # offer decisions of the rows planned, written with them
        self.offers: offer_targeting.RunOffers | None = None  # when offers are targeted
        self.paused: np.ndarray | None = None  # customers whose messages with an offer wait
        self.control: GlobalControl | None = None  # the global control group, when it keeps customers out

    def cap(self, channel: str) -> int | None:
        return {"email": self.settings.email_per_week, "sms": self.settings.sms_per_week}.get(channel)

    def plan(self, playbook: Playbook, dry_run: bool, run_id: int | None) -> PlaybookRun:
        """Enrol ``playbook``'s candidates and find its due steps (``plan_rows`` turns them into rows)."""
        if "/" in playbook.name:
            raise InputError(f"playbook name {playbook.name!r} contains '/', which separates the parts of an outbox "
                             "key; rename the playbook", parameter="playbook")
        store, as_of = self.store, self.as_of
        result = PlaybookRun(playbook.name)
        holds = enrolment.condition_holds(store, playbook, as_of)  # read once: enrolment and steps alike
        found = enrolment.eligible(store, playbook, enrolment.candidates(store, playbook, as_of, dry_run), as_of,
                                   holds)
        if self.control is not None:  # before the arm: the group enters no playbook at all
            kept_out = self.control.members(store, found["customer_id"].to_numpy())
            result.global_control = int(kept_out.sum())
            found = found.filter(pa.array(~kept_out, pa.bool_()))
        holdout = enrolment.holdouts(store, playbook.name, found["customer_id"].to_numpy(), playbook.holdout_share)
        if not dry_run and found.num_rows:
            self._enrolments.append(enrolment.enrolment_rows(playbook, found, holdout, as_of, run_id))
        result.entered = found.num_rows
        result.held_out = int(holdout.sum())
        fresh = found.filter(pa.array(~holdout, pa.bool_()))
        due = planning.due_steps(store, playbook, fresh, as_of, self.settings.late_days)
        if self.control is not None and due.num_rows:  # the later steps of those enrolled before it began
            due = due.filter(pa.array(~self.control.members(store, due["customer_id"].to_numpy()), pa.bool_()))
        self._due.append((playbook, result, holds, due))
        return result

    def plan_rows(self, dry_run: bool, run_id: int | None) -> None:
        """The outbox rows of every planned playbook's due steps, counted into its report, in the order
        the playbooks were planned (by priority, for the caps); the customers' facts read once for all."""
        due, self._due = self._due, []
        if not any(found.num_rows for *_, found in due):
            return
        facts = Facts.load(self.store, np.concatenate([found["customer_id"].to_numpy() for *_, found in due]),
                           self.as_of)
        caps = planning.WeeklyCaps(facts, {channel: self.cap(channel) for channel in CAPPED_CHANNELS}).load(
            self.store, utc(self.moment - timedelta(days=7)), self.marketing)
        now_due = utc(out_of_quiet_hours(self.moment, self.settings))
        capped_due = utc(out_of_quiet_hours(datetime.combine(self.moment.date() + timedelta(days=1),
                                                             time(self.settings.quiet_end_hour)), self.settings))
        if any(step.promo_pool for playbook, *_ in due for step in playbook.steps):
            self._codes = CodePlan(self.store)
        for playbook, result, holds, found in due:
            if not found.num_rows:
                continue
            # A dry run decides no offer: it renders no payload, and fitting would only cost time.
            offers = None if dry_run or self.offers is None else self.offers.plan(playbook, found, facts)
            rows, outcome = planning.outbox_rows(playbook, found, facts, holds, caps, self.as_of,
                                                 self.settings.late_days, now_due, capped_due, not dry_run,
                                                 self._codes, self.paused,
                                                 withheld=None if offers is None else offers.withheld)
            if offers is not None:
                self._decisions.append(offers.rows(rows["status"]))
            result.planned, result.capped = outcome.planned, outcome.capped
            result.suppressed.update(outcome.suppressed)
            result.skipped.update(outcome.skipped)
            if not dry_run:
                self._outbox.append(outbox.rows_table({name: rows[name] for name in outbox.WRITTEN}, run_id))

    def write(self, results: list[PlaybookRun]) -> None:
        """Write the planned enrolments and outbox rows of every playbook in one transaction.

        Together, not per playbook: a planning cut short leaves nothing to reconcile, and on DuckDB
        one large insert costs half of fifteen small ones. A key another run wrote meanwhile is
        left as it is: the enrolment (its arm is the same hash) is not counted as this run's, and
        the outbox row (the same key, so never a second delivery) is not written twice."""
        enrolments = pa.concat_tables(self._enrolments) if self._enrolments else None
        with self.store.transaction():
            taken = enrolment.write_enrolments(self.store, enrolments) if enrolments is not None else set()
            if self._outbox:
                outbox.insert_rows(self.store, pa.concat_tables(self._outbox))
            if self._codes is not None:  # the promo codes given, with the rows that say them
                self._codes.write(utc(self.moment))
            if self._decisions:  # the offer decisions, with the rows they decided
                offer_targeting.write(self.store, pa.concat_tables(self._decisions))
        self._enrolments, self._outbox, self._codes, self._decisions = [], [], None, []
        if taken:
            arms = {(p, c, o): a for p, c, o, a in zip(*(enrolments[name].to_pylist() for name in (
                "playbook", "customer_id", "occurrence", "arm")))}
            by_name = {result.name: result for result in results}
            for key in taken:
                result = by_name[key[0]]
                result.entered -= 1
                result.held_out -= int(arms[key] == enrolment.HOLDOUT)

    def load_sent(self) -> None:
        """Each customer's marketing messages sent in the last seven days, per channel, read once
        before delivering; the gate counts this run's sends on top."""
        self._sent = {}
        if not self.marketing:
            return
        for cid, channel, n in self.store.fetchall(
                "SELECT customer_id, channel, COUNT(*) FROM outbox WHERE status = 'sent' AND finished_at > ? "
                f"AND playbook IN ({', '.join('?' * len(self.marketing))}) GROUP BY customer_id, channel",
                (utc(datetime.now() - timedelta(days=7)), *sorted(self.marketing))):
            self._sent.setdefault(channel, Counter())[int(cid)] = int(n)

    def prepare_gate(self, window: list) -> None:
        """Read the contacts, consents and suppressions of a window of due rows' customers at once,
        just before their batches are claimed (they may have changed since planning: an
        unsubscribe arrives at any time)."""
        self._reach = Facts.load(self.store, np.fromiter((d.customer_id for d in window), np.int64, len(window)))
        # One time a day later for the window's capped rows (to the minute): they are deferred together.
        self._later = (datetime.now(timezone.utc) + timedelta(days=1, minutes=1)).replace(second=0, microsecond=0)

    def gate(self, rows: list) -> list[tuple[str, object] | None]:
        """Checked again at send time, for a claimed batch: consent and suppression (``prepare_gate``'s
        reads for the window), and the weekly cap of sent marketing messages (``load_sent``, this
        run's sends included, in the batch's order). None sends a row."""
        if not rows:
            return []
        _, playbooks, _, customer_ids, channels, _, _ = zip(*rows)
        ids = np.array(customer_ids, np.int64)
        reach = self._reach
        positions = None if reach is None else reach.positions(ids)
        if positions is None or pc.any(pc.is_null(positions)).as_py():  # not all in the window: read theirs
            reach = Facts.load(self.store, ids)
            positions = reach.positions(ids)
        decisions: list[tuple[str, object] | None] = [None] * len(rows)
        marketing = {name: self.by_name[name].marketing if name in self.by_name else True for name in set(playbooks)}
        flags = np.fromiter(map(marketing.__getitem__, playbooks), bool, len(rows))
        by_channel = np.array(channels, object)
        for channel, is_marketing in sorted(set(zip(channels, map(marketing.__getitem__, playbooks)))):
            at = np.flatnonzero((by_channel == channel) & (flags == is_marketing))  # in the batch's order
            reasons = reach.refusals(positions.take(pa.array(at)), channel, is_marketing)
            refused = reasons != None  # noqa: E711 - element-wise over an object array
            for index, reason in zip(at[refused].tolist(), reasons[refused].tolist()):
                decisions[index] = ("suppressed", reason)
            limit = self.cap(channel) if is_marketing else None
            if limit is None:
                continue
            # Sent in order while under the cap; a row deferred does not count.
            open_ = at[~refused]
            counter = self._sent.setdefault(channel, Counter())
            whose = ids[open_]
            before = np.fromiter((counter[c] for c in whose.tolist()), np.int64, len(whose))
            sends = before + planning.earlier_alike(whose) < limit
            counter.update(whose[sends].tolist())
            for index in open_[~sends].tolist():
                decisions[index] = ("defer", self._later)
        return decisions
