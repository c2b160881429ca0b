"""The report's data: every figure the offline report (and the dashboard) shows, in one call.

Where each figure comes from: the KPI tiles are ``kpis(first, as_of)`` over the last
``TILE_MONTHS`` months (all history when shorter) and their trends ``kpis(by=unit)`` over all
history (quarters past two years, else months); segments, cohorts, the revenue concentration
curve and the call list come from the RFM scores of ``as_of``; the predictions are the stored
ones and the fit that made them; stages now and their flow over the last ``FLOW_MONTHS``
months; buyer types and the reorders due.
"""

from __future__ import annotations

from datetime import date, timedelta

from retainly.errors import InputError
from retainly.results import PredictionsOverview, ReportData, ShopOverview
from retainly.services.base import Service
from retainly.services.predictions import model_title

__all__ = ["ReportService"]

TILE_MONTHS = 12
FLOW_MONTHS = 6
CALL_LIST_SIZE = 25
REORDERS_SHOWN = 20


class ReportService(Service):
    """Gathers the report's figures from the other services."""

    def data(self) -> ReportData:
        """Everything the report shows; ``shop`` is None while the store has no purchase orders."""
        where = self.store.url.display()
        try:
            as_of = self.ws.data.last_order_date()
        except InputError:  # no purchase orders yet
            return ReportData(store=where, shop=None)
        return ReportData(store=where, shop=self._overview(as_of))

    def _overview(self, as_of: date) -> ShopOverview:
        ws = self.ws
        ws.rfm.ensure(as_of)
        ws.predictions.ensure(as_of)
        summary = ws.data.summary()
        store_first = date.fromisoformat(summary.first_order_at[:10])
        first = max(store_first, months_before(as_of, TILE_MONTHS))
        unit = "quarter" if (as_of - store_first).days > 2 * 365 else "month"
        concentration = ws.rfm.concentration(as_of)
        flow_since = self.flow_since(as_of, store_first)
        ws.progress(f"measuring KPIs, trends, segments and cohorts as of {as_of}")
        return ShopOverview(
            as_of=as_of, first=first, store_first=store_first, unit=unit, currency=ws.measures.currency(),
            window_days=self.settings.activity_window_days, summary=summary,
            kpis=ws.measures.kpis(first, as_of)[0], trend=ws.measures.kpis(store_first, as_of, by=unit),
            segments=ws.rfm.segments(as_of), retention=ws.measures.cohorts(unit, "customers"),
            ltv=ws.measures.cohorts(unit, "revenue"), concentration=concentration.points,
            top20_share=concentration.top20_share,
            call_list=ws.lifecycle.call_list(as_of, CALL_LIST_SIZE), predictions=self._predictions(as_of),
            stages=ws.lifecycle.counts(as_of), flow_since=flow_since,
            flow=ws.lifecycle.flow(flow_since, as_of, trend=False).flow if flow_since < as_of else [],
            buyer_types=ws.insights.buyer_type_mix(as_of), reorders=ws.insights.reorders(as_of, REORDERS_SHOWN).due,
            **self._nps(as_of))

    def _nps(self, as_of: date) -> dict:
        """NPS by segment and its trend, when customers have answered the feedback question."""
        by_segment = self.ws.measures.nps("segment", as_of)
        if not by_segment.rows:
            return {}
        return {"nps": by_segment, "nps_trend": self.ws.measures.nps_trend(as_of)}

    def flow_since(self, as_of: date, store_first: date | None = None) -> date:
        """Where the report's stage flow to ``as_of`` starts: ``FLOW_MONTHS`` months before, or at the
        first order (``store_first``, read when not given) when that is later."""
        if store_first is None:
            store_first = date.fromisoformat(self.ws.data.summary().first_order_at[:10])
        return max(store_first, months_before(as_of, FLOW_MONTHS))

    def _predictions(self, as_of: date) -> PredictionsOverview | None:
        fit = self.ws.predictions.latest_fit(as_of)
        if fit is None:
            return None
        return PredictionsOverview(fit=fit, model_title=model_title(fit.model), totals=self.ws.predictions.totals(as_of),
                                   chance_bins=self.ws.predictions.chance_histogram(as_of))


def months_before(day: date, months: int) -> date:
    """The day after the same day ``months`` months earlier (12 -> a year's worth of days, inclusive)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, candidate) + timedelta(days=1)
        except ValueError:
            continue
    raise AssertionError("unreachable")
