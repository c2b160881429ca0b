"""RFM results: a scoring run, segments, moves between them, the call list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from retainly.results.base import Result


@dataclass(frozen=True, kw_only=True)
class RfmRun(Result):
    """Scores computed and stored for one date."""

    as_of: date
    customers: int


@dataclass(frozen=True, kw_only=True)
class SegmentRow(Result):
    """One RFM segment: size, shares, mean R/F/M and the suggested action."""

    segment: str
    customers: int
    customer_share: float
    revenue_share: float | None
    mean_recency_days: float
    mean_frequency: float
    mean_monetary: float
    action: str


@dataclass(frozen=True, kw_only=True)
class SegmentMove(Result):
    """Customers who were in ``from_segment`` at one date and in ``to_segment`` at a later one."""

    from_segment: str
    to_segment: str
    customers: int


@dataclass(frozen=True, kw_only=True)
class CallListEntry(Result):
    """A customer worth a call: drifting away but not gone, with the value a call can save
    (rule: retainly.segments.call_list)."""

    customer_id: int
    external_id: str
    name: str | None
    email: str | None
    phone: str | None
    stage: str
    vip: bool
    segment: str
    recency_days: int
    frequency: int
    monetary: float
    p_alive: float
    order_chance: float
    clv: float | None
    saveable_value: float


@dataclass(frozen=True, kw_only=True)
class ConcentrationPoint(Result):
    """A point of the revenue concentration curve, biggest spenders first."""

    customer_share: float
    revenue_share: float


@dataclass(frozen=True, kw_only=True)
class RevenueConcentration(Result):
    """How much of the revenue the biggest spenders bring: the curve, and the share of the top 20 %."""

    as_of: date
    top20_share: float | None
    points: list[ConcentrationPoint]
