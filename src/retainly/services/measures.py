"""How retention is going: KPIs per period or channel, cohorts (docs/metrics.md), and what customers
say: the Net Promoter Score of their feedback (docs/email.md)."""

from __future__ import annotations

from datetime import date

from retainly.features.cohorts import COHORT_METRICS, cohort_matrix
from retainly.errors import InputError
from retainly.features.kpis import BY_CHOICES, LONGEST_ACTIVITY_WINDOW_DAYS, shop_kpis
from retainly.features.nps import GROUPS as NPS_GROUPS
from retainly.features.nps import last_answer_day, nps_by, nps_trend
from retainly.features.periods import next_unit_start, unit_start
from retainly.features.summary import shop_currency
from retainly.results import CohortRow, KpiRow
from retainly.results.measures import NpsRow, NpsTable
from retainly.results.base import rows
from retainly.services.base import Service

__all__ = ["BY_CHOICES", "COHORT_METRICS", "LONGEST_ACTIVITY_WINDOW_DAYS", "MeasureService", "next_unit_start", "unit_start"]


class MeasureService(Service):
    """Shop-level measurement, computed in the engine on every call."""

    def kpis(self, first: date | None = None, last: date | None = None, by: str | None = None,
             window_days: int | None = None) -> list[KpiRow]:
        """KPIs for the inclusive dates, one row per period or channel (``by``) or one row in all."""
        window = window_days if window_days is not None else self.settings.activity_window_days
        return rows(KpiRow, shop_kpis(self.analytics, first, last, by, window))

    def cohorts(self, by: str = "month", metric: str = "customers") -> list[CohortRow]:
        """Cohorts by first-order period with the metric per period after it."""
        return rows(CohortRow, cohort_matrix(self.analytics, by, metric))

    def nps(self, by: str = "all", as_of: date | None = None, days: int = 365) -> NpsTable:
        """Net Promoter Score of the feedback answers of the ``days`` up to ``as_of`` (default: the
        later of the last order's and the last answer's day), in all or ``by`` segment, stage,
        buyer_type or channel (docs/email.md, "Feedback")."""
        if by not in ("all", *NPS_GROUPS):
            raise InputError(f"`by` {by!r}: choose all, {', '.join(NPS_GROUPS)}", parameter="by")
        if days < 1:
            raise InputError(f"`days` {days}: give at least 1", parameter="days")
        day = self._nps_day(as_of)
        derived = {"segment": "rfm", "stage": "lifecycle", "buyer_type": "insights"}.get(by)
        if derived:
            self.ensure_derived(derived, day)
        return NpsTable(as_of=day, by=by, days=days, rows=rows(NpsRow, nps_by(self.store, day, by, days)))

    def nps_trend(self, as_of: date | None = None, months: int = 12) -> NpsTable:
        """Net Promoter Score by calendar month of the answers, the ``months`` up to ``as_of``."""
        if months < 1:
            raise InputError(f"`months` {months}: give at least 1", parameter="months")
        day = self._nps_day(as_of)
        return NpsTable(as_of=day, by="month", days=months, rows=rows(NpsRow, nps_trend(self.store, day, months)))

    def _nps_day(self, as_of: date | None) -> date:
        if as_of is not None:
            return self.as_of(as_of)
        answered = last_answer_day(self.store)
        return max(day for day in (self.as_of(None), answered) if day is not None)

    def currency(self) -> str | None:
        """The shop's currency when all orders share one, else None."""
        return shop_currency(self.store)
