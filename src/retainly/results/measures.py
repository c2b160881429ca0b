"""Shop measurement results: KPI rows and cohort rows (docs/metrics.md defines each figure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from retainly.results.base import Result, optional

# CAC, LTV:CAC and payback are {channel: value} in a period row and one value in a channel row.
PerChannel = dict[str, float | None] | float | None


@dataclass(frozen=True, kw_only=True)
class KpiRow(Result):
    """The KPIs of one period, or of one acquisition channel over the whole range."""

    channel: str | None = optional()
    period: str
    start: date
    end: date
    customers: int
    new_customers: int
    orders: int
    revenue: Decimal
    returns: Decimal
    net_revenue: Decimal
    aov: float | None
    purchase_frequency: float | None
    repeat_purchase_rate: float | None
    avg_days_between_orders: float | None
    customers_at_start: int
    customers_at_end: int
    reactivated_customers: int
    lost_customers: int
    crr: float | None
    churn_rate: float | None
    # True when the activity window before ``start`` reaches before the data's first order.
    warming_up: bool
    # Why CRR and churn are empty (no customers at the start) or to be read with care (warming up).
    retention_note: str | None
    simple_ltv: float | None
    historic_ltv: float | None
    historic_ltv_gross: float | None
    top20_revenue_share: float | None
    marketing_spend: Decimal
    cac: PerChannel
    ltv_cac: PerChannel
    payback_months: PerChannel


@dataclass(frozen=True, kw_only=True)
class CohortRow(Result):
    """One cohort: its size and the metric for each period after the first order."""

    cohort: str
    customers: int
    values: list[float | None]


@dataclass(frozen=True, kw_only=True)
class NpsRow(Result):
    """Net Promoter Score of one group (or one month): each customer's latest answer counted once."""

    group: str
    answers: int
    promoters: int  # 9-10
    passives: int  # 7-8
    detractors: int  # 0-6
    nps: float  # 100 * (promoters - detractors) / answers


@dataclass(frozen=True, kw_only=True)
class NpsTable(Result):
    as_of: date
    by: str  # all, segment, stage, buyer_type, channel, or month (the trend)
    days: int  # the window of answers (the trend: months back)
    rows: list[NpsRow]
