"""Results of the action layer: audience fields, audiences and their members, playbooks, runs
and the outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from retainly.results.base import Result, optional
from retainly.results.exports import ExportRunResult


@dataclass(frozen=True, kw_only=True)
class AudienceField(Result):
    name: str
    type: str
    group: str
    arguments: str  # "sku|category (text), within_days (number)"; empty for plain fields
    help: str


@dataclass(frozen=True, kw_only=True)
class Audience(Result):
    name: str
    rule: str  # as a one-line expression
    description: str | None = None
    members: int | None = None  # at the last evaluation
    last_evaluated: date | None = None


@dataclass(frozen=True, kw_only=True)
class SampleCustomer(Result):
    customer: str
    name: str | None = None
    stage: str | None = None
    segment: str | None = None


@dataclass(frozen=True, kw_only=True)
class Share(Result):
    value: str | None
    customers: int


@dataclass(frozen=True, kw_only=True)
class AudiencePreview(Result):
    as_of: date
    rule: str
    customers: int
    sample: list[SampleCustomer]
    by_stage: list[Share]
    by_segment: list[Share]


@dataclass(frozen=True, kw_only=True)
class AudienceEvaluation(Result):
    audience: str
    as_of: date
    members: int
    entered: int
    left: int


@dataclass(frozen=True, kw_only=True)
class AudienceMember(Result):
    customer: str
    name: str | None = None
    entered_on: date
    left_on: date | None = None


@dataclass(frozen=True, kw_only=True)
class PlaybookSummary(Result):
    name: str
    title: str
    enabled: bool
    trigger: str
    priority: int
    holdout_share: float
    reentry: str
    advice: str


@dataclass(frozen=True, kw_only=True)
class PlaybookActivity(Result):
    """What a playbook did so far: customers entered (treatment and holdout) and outbox rows by status."""

    playbook: str
    entered: int
    held_out: int
    outbox: dict[str, int]  # status -> rows (every status, 0 included)


@dataclass(frozen=True, kw_only=True)
class MessageResult(Result):
    """What one step of a playbook's messages brought (retainly.playbooks.attribution: last touch)."""

    playbook: str
    step: int
    delivered: int
    opened: int  # messages opened (a soft figure: image preloading inflates it, image blocking hides it)
    clicked: int  # messages with a person's click
    converted: int  # customers with an order attributed to the step
    orders: int
    revenue: float  # of the attributed orders, gross of returns
    conversion_rate: float | None  # converted / delivered
    code_orders: int  # orders placed with a promo code the step's messages gave
    code_revenue: float
    unsubscribed: int
    bounced: int  # hard and soft
    complaints: int
    feedback_answers: int


@dataclass(frozen=True, kw_only=True)
class PlaybookDetail(Result):
    summary: PlaybookSummary
    definition: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class PlaybookOutcome(Result):
    """What one playbook did in a run (or would do, in a dry run)."""

    playbook: str
    entered: int
    held_out: int
    to_deliver: int
    capped: int
    suppressed: int
    suppressed_by_reason: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    # Candidates left out as the global control group ([experiments]; none when there is no group).
    global_control: int | None = optional()


@dataclass(frozen=True, kw_only=True)
class RunSummary(Result):
    as_of: date
    dry_run: bool
    run_id: int | None
    playbooks: list[PlaybookOutcome]
    delivered: dict[str, int] = field(default_factory=dict)
    # What the run did with managers' tasks (not in a dry run): retainly.results.tasks.TaskPass.
    tasks: Result | None = field(default=None, metadata={"omit_none": True})
    # The scheduled exports run at its end (not in a dry run; none when no export is scheduled).
    exports: list[ExportRunResult] | None = field(default=None, metadata={"omit_none": True})


@dataclass(frozen=True, kw_only=True)
class OutboxItem(Result):
    key: str
    playbook: str
    step: int
    customer: str | None
    channel: str
    status: str
    due_at: datetime
    attempts: int
    reason: str | None = None
    response: str | None = None
    finished_at: datetime | None = None
