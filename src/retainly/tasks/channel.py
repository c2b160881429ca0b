"""The ``task`` channel of the playbooks: each task step's outbox row becomes a manager's task.

A batch of rows is made into tasks in one transaction: the reason (the step's text, what the
customer bought, their stage and value, the offer), the priority (the playbook's: 85 and above
urgent, 70 high, 40 normal, below low), due ``[tasks] due_hours`` later; when the run closes the
channel, they are given to managers at once (retainly.tasks.assignment). A task's ``source_key``
is the outbox key, so the row becomes one task however often it is delivered; ``holds`` tells a
recovering run which rows already did.

A shop that hands tasks to another system names the channel in its settings
(``[channels.task]`` with a ``kind``), and this one is not used.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from retainly.messaging.channels import SENT, Delivery, Outcome
from retainly.playbooks import saved
from retainly.settings import TaskSettings
from retainly.store.backends import Store
from retainly.tasks.assignment import assign_open
from retainly.tasks.records import NewTask, create, describe, priority_of_playbook, reason_for


def local_now() -> datetime:
    """Tasks live on the shop's wall clock, as its orders and contacts do."""
    return datetime.now().replace(microsecond=0)


class TaskChannel:
    name = "task"
    batch_size = 50_000  # each batch reads what its customers bought: a few large reads, not many small

    def __init__(self, store: Store, settings: TaskSettings, clock: Callable[[], datetime] = local_now,
                 created: Callable[[list[int]], None] | None = None):
        self.store, self.settings, self.clock = store, settings, clock
        self.created = created  # hears the ids of the new tasks once they are given out (``close``)
        self._made: list[int] = []
        self._priorities: dict[str, str] = {}  # a playbook's priority as its tasks'; read once a run

    def deliver(self, delivery: Delivery) -> Outcome:
        return self.deliver_many([delivery])[0]

    def deliver_many(self, deliveries: list[Delivery]) -> list[Outcome]:
        now = self.clock()
        for name in {d.playbook for d in deliveries} - set(self._priorities):
            known = {p.name: p.priority for p in saved.all_playbooks(self.store)}
            self._priorities[name] = priority_of_playbook(known.get(name, 50))  # a playbook gone since: normal
        profiles = describe(self.store, [d.customer_id for d in deliveries])
        tasks = []
        for delivery in deliveries:
            payload = delivery.payload
            offer = payload.get("offer")
            profile = profiles.get(delivery.customer_id)
            if payload.get("offer_withheld"):  # say why there is nothing to offer
                profile = f"{profile or ''} No incentive: {payload['offer_withheld']}.".strip()
            tasks.append(NewTask(
                delivery.customer_id, "playbook",
                reason_for(payload.get("text") or payload.get("title") or delivery.playbook, profile, offer),
                now + timedelta(hours=self.settings.due_hours),
                self._priorities[delivery.playbook], delivery.key, delivery.playbook, offer,
                "retainly run"))
        with self.store.transaction():
            self._made += create(self.store, tasks, now)
        return [Outcome(SENT, "a manager's task") for _ in deliveries]

    def holds(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` already became tasks (a run killed after making them, before marking them sent)."""
        found: set[str] = set()
        for start in range(0, len(keys), 1000):
            part = keys[start:start + 1000]
            found |= {k for (k,) in self.store.fetchall(
                f"SELECT source_key FROM tasks WHERE source_key IN ({', '.join('?' * len(part))})", part)}
        return found

    def close(self) -> None:
        """Give out the tasks this run made, once for all of them (a pass reads every waiting task),
        then tell who listens of them. A run stopped before this leaves them to the next pass."""
        made, self._made = self._made, []
        if not made:
            return
        with self.store.transaction():
            assign_open(self.store, self.settings, self.clock())
        if self.created is not None:
            self.created(made)
