"""How retention is going: KPIs per period or channel, cohorts (docs/metrics.md)."""

from __future__ import annotations

from datetime import date

from retainly.features.cohorts import COHORT_METRICS, cohort_matrix
from retainly.features.kpis import BY_CHOICES, LONGEST_ACTIVITY_WINDOW_DAYS, shop_kpis
from retainly.features.periods import next_unit_start, unit_start
from retainly.features.summary import shop_currency
from retainly.results import CohortRow, KpiRow
from retainly.results.base import rows
from retainly.services.base import Service

__all__ = ["BY_CHOICES", "COHORT_METRICS", "LONGEST_ACTIVITY_WINDOW_DAYS", "MeasureService", "next_unit_start", "unit_start"]


class MeasureService(Service):
    """Shop-level measurement, computed in the engine on every call."""

    def kpis(self, first: date | None = None, last: date | None = None, by: str | None = None,
             window_days: int | None = None) -> list[KpiRow]:
        """KPIs for the inclusive dates, one row per period or channel (``by``) or one row in all."""
        window = window_days if window_days is not None else self.settings.activity_window_days
        return rows(KpiRow, shop_kpis(self.store, first, last, by, window))

    def cohorts(self, by: str = "month", metric: str = "customers") -> list[CohortRow]:
        """Cohorts by first-order period with the metric per period after it."""
        return rows(CohortRow, cohort_matrix(self.store, by, metric))

    def currency(self) -> str | None:
        """The shop's currency when all orders share one, else None."""
        return shop_currency(self.store)
