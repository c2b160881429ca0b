"""Lifecycle results: stages, each customer's standing, and the flow between dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from retainly.results.base import Result, renamed


@dataclass(frozen=True, kw_only=True)
class StageTally(Result):
    """Customers (and VIPs among them) in one stage."""

    stage: str
    customers: int
    vip: int


@dataclass(frozen=True, kw_only=True)
class StageCount(StageTally):
    """A stage's customers, VIPs and share of all customers."""

    share: float


@dataclass(frozen=True, kw_only=True)
class CustomerStage(Result):
    """One customer's stage, VIP flag, reason, risk score and warning signs (JSON text)."""

    external_id: str
    customer_id: int
    stage: str
    vip: bool
    reason: str
    p_alive: float | None
    risk_score: float | None
    signs: str | None


@dataclass(frozen=True, kw_only=True)
class FlowCell(Result):
    """Customers in ``from_stage`` at the first date and ``to_stage`` at the last."""

    from_stage: str
    to_stage: str
    customers: int


@dataclass(frozen=True, kw_only=True)
class Transition(Result):
    """Customers who changed from one stage to another between two snapshot dates."""

    from_date: date
    to_date: date
    from_stage: str
    to_stage: str
    customers: int


@dataclass(frozen=True, kw_only=True)
class LifecycleFlow(Result):
    """Stages at two dates, the flow between them and the month-by-month changes."""

    first: date = renamed("from")
    last: date = renamed("to")
    stages_from: list[StageTally]
    stages_to: list[StageTally]
    flow: list[FlowCell]
    trend: list[Transition]
