"""Managers' tasks: made, assigned, worked, reminded of and supervised (docs/tasks.md).

``ws.tasks.queue(owner=...)`` is a manager's list (overdue, due today, upcoming);
``log(task_id, outcome, ...)`` records what came of a call; ``add`` makes a task by hand;
``assign``, ``reassign`` and ``set_manager`` give tasks out; ``supervise`` has the figures per
manager; ``run_pass`` is what ``retainly run`` does with tasks (assignment, morning digests).
Tasks from playbooks come through the ``task`` channel (retainly.tasks.channel); a low feedback
score makes one (``after_feedback``). Tasks live on the shop's wall clock (local time).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from retainly.errors import InputError, NotFoundError
from retainly.features.customer_view import find_customer_id
from retainly.messaging.channels import Delivery, make_channel
from retainly.messaging.feedback import DETRACTOR_MAX
from retainly.messaging.links import LinkSigner
from retainly.results.base import rows
from retainly.results.tasks import ManagerFigures, ManagerInfo, TaskAttempt, TaskDetail, TaskItem, TaskPass
from retainly.services.base import Service
from retainly.tasks import assignment, records, supervision, work
from retainly.tasks.channel import TaskChannel, local_now
from retainly.tasks.digest import send_digests

_ITEM = [name for name in TaskItem.__dataclass_fields__]
# The words of a task, for the shells' forms and checks (the web app may not import retainly.tasks).
OUTCOMES, PRIORITIES, QUEUES, STATES = work.OUTCOMES, records.PRIORITIES, work.QUEUES, records.STATES


def _item(task: dict) -> TaskItem:
    return TaskItem(**{name: task[name] for name in _ITEM})


class TaskService(Service):
    """Tasks for the shop's managers (see the module doc)."""

    clock: Callable[[], datetime] = staticmethod(local_now)

    @property
    def _settings(self):
        return self.settings.tasks

    def channel(self) -> TaskChannel:
        """The playbooks' ``task`` channel: each task step's row becomes a task here."""
        return TaskChannel(self.store, self._settings, clock=self.clock, created=self.notify_urgent)

    # -- reading ---------------------------------------------------------------------------------
    def queue(self, owner: str | None = None, queue: str | None = None, state: str = "open",
              customer: str | None = None, limit: int = 500) -> list[TaskItem]:
        """Tasks most pressing first (open by default); ``owner``: one manager's (by email);
        ``queue``: overdue, today or upcoming; ``customer``: one customer's (the shop's id)."""
        if state not in records.STATES:
            raise InputError(f"`state` {state!r} is not a task state; choose from {', '.join(records.STATES)}",
                             parameter="state")
        owner_id = assignment.manager_id(self.store, owner) if owner else None
        customer_id = find_customer_id(self.store, customer) if customer else None
        return [_item(task) for task in work.queue(self.store, self.clock(), owner_id=owner_id, which=queue,
                                                    state=state, customer_id=customer_id, limit=limit)]

    def show(self, task_id: int) -> TaskDetail:
        """One task with every outcome logged on it."""
        found = work.queue(self.store, self.clock(), state=None, task_id=task_id)
        if not found:
            records.one(self.store, task_id)  # raises: there is no such task
            raise NotFoundError(f"task {task_id}: its customer is no longer in the store", parameter="task_id")
        return TaskDetail(task=_item(found[0]), attempts=rows(TaskAttempt, work.attempts(self.store, task_id)))

    def managers(self) -> list[ManagerInfo]:
        return rows(ManagerInfo, assignment.listed(self.store, self._settings))

    def supervise(self, days: int = 30) -> list[ManagerFigures]:
        """Each manager's figures over the last ``days`` days (retainly.tasks.supervision)."""
        if days < 1:
            raise InputError(f"`days` {days} must be 1 or more", parameter="days")
        now = self.clock()
        return rows(ManagerFigures, supervision.figures(self.store, self._settings, now - timedelta(days=days), now))

    # -- changing ----------------------------------------------------------------------------------
    def add(self, customer: str, reason: str, *, due_at: datetime | None = None, priority: str = "normal",
            owner: str | None = None, offer: str | None = None, by: str | None = None) -> TaskDetail:
        """A task made by hand for ``customer`` (the shop's id), given to ``owner`` (an email) or by the rule."""
        if not reason or not reason.strip():
            raise InputError("`reason` is empty; say why the customer should be called", parameter="reason")
        records.check_priority(priority)
        customer_id = find_customer_id(self.store, customer)
        if records.is_erased(self.store, customer_id):
            raise InputError(f"customer {customer!r} was erased; no task can be made for them", parameter="customer")
        now = self.clock()
        owner_id = assignment.manager_id(self.store, owner) if owner else None
        profile = records.describe(self.store, [customer_id]).get(customer_id)
        task = records.NewTask(customer_id, "manual", records.reason_for(reason, profile, offer),
                               due_at or now + timedelta(hours=self._settings.due_hours), priority, offer=offer,
                               created_by=by, owner_id=owner_id)
        with self.store.transaction():
            [task_id] = records.create(self.store, [task], now)
            assignment.assign_open(self.store, self._settings, now)
        self.notify_urgent([task_id])
        return self.show(task_id)

    def log(self, task_id: int, outcome: str, *, note: str | None = None, call_back_at: datetime | None = None,
            by: str | None = None) -> TaskDetail:
        """Log what came of a call on ``task_id`` (by the user ``by``, an email)."""
        user_id = assignment.manager_id(self.store, by, "by") if by else None
        done = work.log_outcome(self.store, self._settings, task_id, outcome, self.clock(), user_id=user_id,
                                by_whom=by or "retainly", note=note, call_back_at=call_back_at)
        detail = self.show(task_id)
        return TaskDetail(task=detail.task, attempts=detail.attempts, follow_up=done["follow_up"])

    def cancel(self, task_id: int) -> TaskDetail:
        work.cancel(self.store, task_id, self.clock())
        return self.show(task_id)

    def reassign(self, task_id: int, owner: str) -> TaskDetail:
        """Give an open task to ``owner`` (an email), whatever the rule and their limit."""
        owner_id = assignment.manager_id(self.store, owner)
        with self.store.transaction():
            assignment.reassign(self.store, task_id, owner_id, self.clock())
        return self.show(task_id)

    def assign(self) -> int:
        """Give out the open tasks nobody has, and those of managers away today; how many."""
        with self.store.transaction():
            return assignment.assign_open(self.store, self._settings, self.clock())

    def set_manager(self, email: str, *, daily_limit: int | None = None, regions: str | None = None,
                    segments: str | None = None, away_from: date | None = None, away_until: date | None = None,
                    back: bool = False) -> ManagerInfo:
        """Change what assignment knows of a manager; an absence from today moves their open tasks at once."""
        user_id = assignment.manager_id(self.store, email)
        now = self.clock()
        with self.store.transaction():
            assignment.set_manager(self.store, user_id, now, daily_limit=daily_limit, regions=regions,
                                   segments=segments, away_from=away_from, away_until=away_until, clear_away=back)
            assignment.assign_open(self.store, self._settings, now)
        return next(m for m in self.managers() if m.email.lower() == email.strip().lower())

    def after_feedback(self, customer_id: int, message_key: str, score: int, comment: str | None) -> int | None:
        """A detractor's score (0-6) makes a task (``[tasks] feedback_tasks``), once per answered
        message, in the caller's transaction; its id, or None."""
        if not self._settings.feedback_tasks or score > DETRACTOR_MAX:
            return None
        now = self.clock()
        playbook = message_key.split("/", 1)[0]
        comment = " ".join((comment or "").split())  # as the answer keeps it
        said = f"Gave {score}/10 when asked after {playbook}" + (f': "{comment}"' if comment else "")
        reason = records.reason_for(said + ". Hear them out before they leave",
                                    records.describe(self.store, [customer_id]).get(customer_id), None)
        made = records.create(self.store, [records.NewTask(
            customer_id, "feedback", reason, now + timedelta(hours=self._settings.due_hours),
            "urgent" if score <= 3 else "high", f"feedback:{message_key}", playbook, created_by="feedback link")], now)
        assignment.assign_open(self.store, self._settings, now)
        return made[0] if made else None

    # -- reminders -----------------------------------------------------------------------------------
    def run_pass(self, digests: bool | None = None) -> TaskPass:
        """What ``retainly run`` does with tasks: give out those waiting, then (``[tasks] digest``)
        send each manager's morning digest through the email channel, once a day."""
        assigned = self.assign()
        sent: dict[str, int] = {}
        if (self._settings.digest if digests is None else digests) and self._email_options() is not None:
            sent = dict(self.digest())
        return TaskPass(assigned=assigned, digests=sent)

    def digest(self) -> dict[str, int]:
        """Send today's digests now (each manager's once a day); how many went, failed, were empty."""
        options = self._email_options()
        if options is None:
            raise InputError("the morning digest goes by email: set up an SMTP channel in [channels.email] "
                             "(docs/email.md)", parameter="channels.email")
        channel = make_channel("email", {**options, "kind": "smtp"}, links=lambda: LinkSigner.of(self.store))
        try:
            return dict(send_digests(self.store, channel, options["public_url"], self.clock()))
        finally:
            channel.close()

    def _email_options(self) -> dict | None:
        options = self.settings.channels.get("email")
        if options is None or not (options.get("kind") == "smtp" or ("kind" not in options and "host" in options)):
            return None
        return {key: value for key, value in options.items() if key != "kind"}

    def notify_urgent(self, task_ids: list[int]) -> None:
        """Tell the ``[tasks] urgent_channel`` webhook of each new urgent task (at most once: a
        failure is not retried; the task is in the manager's queue either way)."""
        name = self._settings.urgent_channel
        if not name or not task_ids:
            return
        channel = self.ws.playbooks.channel(name)
        try:
            for task_id in task_ids:
                task = records.one(self.store, task_id)
                if task["priority"] == "urgent" and task["state"] == "open":
                    channel.deliver(Delivery(f"task/{task_id}", task["playbook"] or "task", 0, task["customer_id"],
                                             name, {"task_id": task_id, "reason": task["reason"],
                                                    "due_at": task["due_at"], "priority": "urgent",
                                                    "owner_id": task["owner_id"]}, 0))
        finally:
            channel.close()
