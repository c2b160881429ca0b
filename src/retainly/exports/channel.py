"""The playbooks' ``export`` channel: a step of action ``export`` hands its customers to an export.

A playbook step ``{"action": "export", "export": "<name>"}`` queues one outbox row per customer on
channel ``export``, planned and gated like any other row (a suppression on ``all`` stops it; the
consent each target needs is checked when the export runs). Delivering a row only marks it sent:
this channel holds nothing itself. The export whose source is ``playbook:<playbook>`` then takes the
customers whose rows were sent, during their enrolment's goal window (retainly.exports.sources),
at its next run, scheduled runs coming at the end of `retainly run` (after delivery).
"""

from __future__ import annotations

from retainly.messaging.channels import SENT, Delivery, Outcome

CHANNEL = "export"
_HANDED = Outcome(SENT, "handed to its export; sent at the export's next run")


class ExportChannel:
    """Marks export rows sent, a large batch at a time (there is nothing to wait for)."""

    batch_size = 10_000

    def __init__(self, name: str = CHANNEL):
        self.name = name

    def deliver(self, delivery: Delivery) -> Outcome:
        return _HANDED

    def deliver_many(self, deliveries: list[Delivery]) -> list[Outcome]:
        return [_HANDED] * len(deliveries)

    def close(self) -> None:
        return None
