"""Playbooks and the run loop (docs/playbooks.md): the built-in library and the shop's own,
enabling and editing them, `run` (for cron) and the outbox it fills."""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import fields
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from retainly.audiences.fields import CATALOG
from retainly.errors import InputError
from retainly.exports.channel import CHANNEL as EXPORT_CHANNEL, ExportChannel
from retainly.messaging.bounces import at_send
from retainly.messaging.channels import KINDS, make_channel
from retainly.messaging.consent import suppress
from retainly.messaging.links import LinkSigner
from retainly.playbooks import outbox, saved
from retainly.playbooks.attribution import message_results
from retainly.playbooks.definition import Playbook, from_json, to_json
from retainly.playbooks.enrol import HOLDOUT
from retainly.playbooks.enrol import counts as enrolments
from retainly.playbooks.run import run
from retainly.results.actions import (
    MessageResult,
    OutboxItem,
    PlaybookActivity,
    PlaybookDetail,
    PlaybookOutcome,
    PlaybookSummary,
    RunSummary,
)
from retainly.services.audiences import NEEDS, field_names
from retainly.services.base import Service
from retainly.settings import OUTBOX_FOLDER
from retainly.tasks.records import open_task_customers


def _summary(playbook: Playbook) -> PlaybookSummary:
    trigger = playbook.trigger
    after_first = ("the shop's median gap to a second order after the first order"
                   if trigger.delay_from == "second_order_gap" else f"{trigger.delay_days} days after the first order")
    described = {"audience": "entering its audience", "first_order": after_first,
                 "order": f"{trigger.delay_days} days after each order",
                 "birthday": f"{trigger.days_before} days before the birthday",
                 "schedule": f"every {trigger.every_days} days"}[trigger.kind]
    return PlaybookSummary(name=playbook.name, title=playbook.title, enabled=playbook.enabled, trigger=described,
                           priority=playbook.priority, holdout_share=playbook.holdout_share,
                           reentry=playbook.reentry, advice=playbook.advice)


class PlaybookService(Service):
    """What happens to whom, and the loop that makes it happen exactly once."""

    def list(self) -> list[PlaybookSummary]:
        return [_summary(p) for p in saved.all_playbooks(self.store)]

    def show(self, name: str) -> PlaybookDetail:
        found = saved.get(self.store, name)
        return PlaybookDetail(summary=_summary(found), definition=to_json(found))

    def enable(self, names: list[str]) -> list[PlaybookSummary]:
        return [_summary(p) for p in saved.set_enabled(self.store, names, True)]

    def disable(self, names: list[str]) -> list[PlaybookSummary]:
        return [_summary(p) for p in saved.set_enabled(self.store, names, False)]

    def edit(self, name: str, definition: dict | str | Path | None = None, **changes) -> PlaybookDetail:
        """Save a changed copy: a whole definition (a dict or a JSON/TOML/YAML file), and/or single
        keys (``holdout_share``, ``priority``, ``reentry``, ``goal_days``, ...)."""
        current = saved.get(self.store, name)
        data = to_json(current)
        if definition is not None:
            data = saved.read_definition(definition) if isinstance(definition, (str, Path)) else dict(definition)
            data["name"] = name
        data.update({key: value for key, value in changes.items() if value is not None})
        playbook = from_json(data)
        self._check_rules(playbook)
        saved.save(self.store, playbook, enabled=current.enabled)
        return self.show(name)

    def _check_rules(self, playbook: Playbook) -> None:
        for part, rule in (("trigger rule", playbook.trigger.rule), ("condition", playbook.condition)):
            if rule is not None:
                try:
                    self.ws.audiences.rule(rule)
                except InputError as exc:
                    raise InputError(f"playbook {playbook.name!r} {part}: {exc}; fix it with `retainly playbooks "
                                     f"edit {playbook.name} --file ...`") from None

    def run(self, as_of: date | None = None, dry_run: bool = False) -> RunSummary:
        """One pass of the loop as of ``as_of`` (default: the last order) over the enabled playbooks."""
        as_of = self.as_of(as_of)
        playbooks = saved.enabled(self.store)
        for playbook in playbooks:
            self._check_rules(playbook)
        self.prepare(playbooks, as_of)
        with ExitStack() as stack:
            channels = None
            if not dry_run:
                channels = {name: self.channel(name) for name in
                            sorted({c for p in playbooks for s in p.steps for c in s.channels})}
                for channel in channels.values():
                    stack.callback(channel.close)
            paused = None
            if self.settings.tasks.pause_discounts:  # a manager is on it: no automated discount meanwhile
                paused = np.array(open_task_customers(self.store), np.int64)
            # Audiences and conditions are evaluated on the analytics engine; all that is kept goes to the store.
            report = run(self.analytics, playbooks, as_of, self.settings.actions, dry_run=dry_run, channels=channels,
                         progress=self.ws.progress, paused=paused, experiments=self.settings.experiments)
        tasks = None if dry_run else self.ws.tasks.run_pass()
        exports = None if dry_run else self.ws.exports.run_scheduled(report.as_of)  # after delivery: steps' customers
        return RunSummary(as_of=report.as_of, dry_run=report.dry_run, run_id=report.run_id, delivered=report.delivered,
                          tasks=tasks, exports=exports,
                          playbooks=[PlaybookOutcome(
                              playbook=p.name, entered=p.entered, held_out=p.held_out, to_deliver=p.planned,
                              capped=p.capped, suppressed=sum(p.suppressed.values()),
                              suppressed_by_reason=dict(p.suppressed), skipped=sum(p.skipped.values()),
                              skipped_by_reason=dict(p.skipped), global_control=p.global_control)
                              for p in report.playbooks])

    def prepare(self, playbooks: list[Playbook], as_of: date) -> None:
        """The derived results the playbooks' rules and messages read, for ``as_of``."""
        needed = {"rfm", "lifecycle", "insights"}  # stages and buyer types go into every message
        for playbook in playbooks:
            for rule in (playbook.trigger.rule, playbook.condition):
                if rule is not None:
                    needed |= {NEEDS[CATALOG[f].group] for f in field_names(rule)
                               if f in CATALOG and CATALOG[f].group in NEEDS}
            if any("next_product" in template for step in playbook.steps for template in step.templates()):
                needed.add("offers")
        for name in ("rfm", "predictions", "lifecycle", "insights", "offers"):
            if name in needed:
                self.ensure_derived(name, as_of)

    def channel(self, name: str):
        """The channel ``name`` as the settings make it (a file in the outbox folder when not set)."""
        options = self.settings.channels.get(name)
        if name == "task" and options is None:  # managers' tasks in the store (docs/tasks.md)
            return self.ws.tasks.channel()
        if name == EXPORT_CHANNEL and options is None:  # hands customers to an export (docs/exports.md)
            return ExportChannel()
        if options is None:
            folder = Path(OUTBOX_FOLDER.value())
            folder.mkdir(parents=True, exist_ok=True)
            options = {"kind": "file", "path": str(folder / f"{name}.jsonl")}
        elif "kind" not in options and name not in KINDS:
            options = {**options, "kind": "smtp" if "host" in options else "webhook" if "url" in options else "file"}
        # A recipient the mail server refuses while sending is a bounce at once (docs/email.md).
        refused = at_send(self.store, self.settings.actions.soft_bounce_limit,
                          lambda: datetime.now(UTC).replace(tzinfo=None, microsecond=0))
        return make_channel(name, options, links=lambda: LinkSigner.of(self.store), refused=refused)

    def outbox(self, status: str | None = None, playbook: str | None = None, limit: int = 100) -> list[OutboxItem]:
        """Outbox rows, newest first."""
        keep = {f.name for f in fields(OutboxItem)}
        return [OutboxItem(**{k: v for k, v in row.items() if k in keep}, customer=row["payload"].get("customer"))
                for row in outbox.rows(self.store, status=status, playbook=playbook, limit=limit)]

    def activity(self, name: str = "all") -> list[PlaybookActivity]:
        """What each playbook (``all``, highest priority first) or the one named did so far: customers
        entered and held out (enrolments), and its outbox rows by status, counted in the store."""
        names = [p.name for p in self.list()] if name == "all" else [self.show(name).summary.name]
        entered = enrolments(self.store)
        rows: dict[str, dict[str, int]] = {}
        for playbook, _channel, status, n in outbox.summary(self.store, None if name == "all" else names[0]):
            by_status = rows.setdefault(playbook, dict.fromkeys(outbox.STATUSES, 0))
            by_status[status] = by_status.get(status, 0) + n
        return [PlaybookActivity(playbook=n, entered=sum(entered.get(n, {}).values()),
                                 held_out=entered.get(n, {}).get(HOLDOUT, 0),
                                 outbox=rows.get(n, dict.fromkeys(outbox.STATUSES, 0))) for n in names]

    def results(self, name: str = "all", as_of: date | None = None) -> list[MessageResult]:
        """What each step's messages brought up to ``as_of`` (default: today, or the last order's day
        if later): deliveries, orders attributed by last touch and their revenue, unsubscribes,
        bounces, complaints and feedback answers (retainly.playbooks.attribution)."""
        names = None if name == "all" else {self.show(name).summary.name}
        day = as_of if as_of is not None else max(date.today(), self.as_of(None))
        return [MessageResult(**row) for row in message_results(self.store, day)
                if names is None or row["playbook"] in names]

    def suppress(self, customer: str, channel: str, reason: str = "manual") -> None:
        """Suppress a customer (the shop's id) on a channel (or ``all``); it wins over imported consent."""
        from retainly.features.customer_view import find_customer_id

        suppress(self.store, find_customer_id(self.store, customer), channel, reason, source="manual")

    def definition_json(self, name: str) -> str:
        return json.dumps(to_json(saved.get(self.store, name)), indent=2)
