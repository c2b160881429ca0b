"""RFM: every customer's recency, frequency and monetary scores, segments and their moves."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from retainly.errors import InputError
from retainly.features.orders import check_day
from retainly.results import ConcentrationPoint, RevenueConcentration, RfmRun, SegmentMove, SegmentRow
from retainly.results.base import rows
from retainly.segments import rfm
from retainly.services.base import Service

CURVE_POINTS = 100


class RfmService(Service):
    """Scores stored per date; segments and moves read from them."""

    def compute(self, as_of: date | None = None, bins: int | None = None) -> RfmRun:
        """Compute and store every customer's scores as of a date (default: the last order)."""
        as_of = self.as_of(as_of)
        bins = bins or self.settings.rfm_bins
        if bins < 2:
            raise InputError(f"`bins` {bins}: scores need at least 2 bins", parameter="bins")
        return RfmRun(as_of=as_of, customers=rfm.store_scores(self.analytics, as_of, bins, self.settings.segment_map))

    def ensure(self, as_of: date | None = None) -> date:
        """Scores for ``as_of`` that postdate the last import, computed when missing; return the date.

        Stored scores are kept whatever their bins (`retainly rfm --bins 10` sticks)."""
        return self.ensure_derived("rfm", as_of)

    def scores(self, as_of: date | None = None) -> pa.Table:
        """Every customer's stored scores for ``as_of`` (computed first when missing or stale), led by
        ``customer``, the shop's id of the customer."""
        return rfm.customer_scores(self.store, self.ensure(as_of)).order_by("customer_id").to_pyarrow()

    def segments(self, as_of: date | None = None) -> list[SegmentRow]:
        """Per RFM segment: size, shares, mean R/F/M and the suggested action."""
        as_of = self.ensure(as_of)
        return rows(SegmentRow, rfm.segment_summary(self.store, as_of, self.settings.segment_map))

    def moves(self, earlier: date, later: date | None = None) -> list[SegmentMove]:
        """Customers per (segment at ``earlier``, segment at ``later``)."""
        later = self.as_of(later)
        check_day(earlier, "earlier")
        if earlier >= later:
            raise InputError(f"`earlier` {earlier} must be before the as-of date {later}", parameter="earlier")
        self.ensure(earlier)
        self.ensure(later)
        return rows(SegmentMove, rfm.segment_moves(self.store, earlier, later))

    def revenue_concentration(self, as_of: date | None = None, points: int = CURVE_POINTS) -> list[ConcentrationPoint]:
        """The share of revenue against the share of customers, biggest spenders first, from (0, 0)."""
        as_of = self.ensure(as_of)
        return [ConcentrationPoint(customer_share=x, revenue_share=y)
                for x, y in rfm.revenue_concentration(self.store, as_of, points)]

    def concentration(self, as_of: date | None = None, points: int = CURVE_POINTS) -> RevenueConcentration:
        """The concentration curve with the share of revenue the top 20 % of customers bring."""
        as_of = self.ensure(as_of)
        curve = self.revenue_concentration(as_of, points)
        return RevenueConcentration(as_of=as_of, points=curve, top20_share=rfm.share_at(
            [(point.customer_share, point.revenue_share) for point in curve], 0.2))
