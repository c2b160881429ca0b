"""What the task service answers: tasks in a queue, a task with its attempts, managers and
their figures, and what a pass over the tasks did (docs/tasks.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from retainly.results.base import Result


@dataclass(frozen=True, kw_only=True)
class TaskItem(Result):
    """A task as a manager's queue shows it."""

    task_id: int
    customer: str  # the shop's id of the customer
    name: str | None
    phone: str | None
    email: str | None
    origin: str  # playbook, feedback, follow_up, manual
    playbook: str | None
    reason: str  # why this customer, in plain words, and what to offer
    offer: str | None
    priority: str  # urgent, high, normal, low
    due_at: datetime
    queue: str  # overdue, today, upcoming
    owner: str | None  # the manager's email; None while nobody has it
    state: str  # open, done, cancelled
    outcome: str | None  # the last outcome logged
    attempts: int


@dataclass(frozen=True, kw_only=True)
class TaskAttempt(Result):
    attempt: int
    logged_at: datetime
    user: str | None
    outcome: str
    note: str | None
    call_back_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class TaskDetail(Result):
    """A task with every outcome logged on it, and the follow-up a call-back made."""

    task: TaskItem
    attempts: list[TaskAttempt] = field(default_factory=list)
    follow_up: int | None = field(default=None, metadata={"omit_none": True})


@dataclass(frozen=True, kw_only=True)
class ManagerInfo(Result):
    """A manager, as assignment sees them."""

    email: str
    name: str | None
    daily_limit: int  # the manager's own, else the settings' default
    regions: str | None
    segments: str | None
    away_from: date | None
    away_until: date | None
    open_tasks: int


@dataclass(frozen=True, kw_only=True)
class ManagerFigures(Result):
    """The supervisor's figures for one manager (retainly.tasks.supervision)."""

    manager: str
    name: str | None
    open: int
    overdue: int
    flagged: int  # overdue by more than [tasks] overdue_flag_days
    done: int
    median_hours_to_first_attempt: float | None
    attempted: int
    reach_rate: float | None
    orders: int  # within [tasks] order_days after a call the customer answered
    revenue: float


@dataclass(frozen=True, kw_only=True)
class TaskPass(Result):
    """What one pass over the tasks did (``retainly run`` makes one): tasks given to managers, and
    the morning digests (sent, failed, empty, already sent today, left for later)."""

    assigned: int
    digests: dict[str, int] = field(default_factory=dict)
