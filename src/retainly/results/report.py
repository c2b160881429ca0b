"""The report's data: every figure the report (and the dashboard) shows, before formatting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from retainly.results.base import Result
from retainly.results.data import StoreSummary
from retainly.results.insights import BuyerTypeMix, DueReorder
from retainly.results.lifecycle import FlowCell, StageCount
from retainly.results.measures import CohortRow, KpiRow, NpsTable
from retainly.results.predictions import AliveBin, FitRecord, PredictionTotals
from retainly.results.rfm import CallListEntry, ConcentrationPoint, SegmentRow


@dataclass(frozen=True, kw_only=True)
class PredictionsOverview(Result):
    """The fit behind the stored predictions, their totals, and the histogram of the chance to order."""

    fit: FitRecord
    model_title: str
    totals: PredictionTotals
    chance_bins: list[AliveBin]


@dataclass(frozen=True, kw_only=True)
class ShopOverview(Result):
    """Everything the report shows about a shop that has purchase orders.

    ``first``..``as_of`` is the span of the KPI tiles (the last ``tile_months`` months, or all
    history when shorter); ``trend`` covers all history by ``unit``; the stage flow runs from
    ``flow_since`` to ``as_of``.
    """

    as_of: date
    first: date
    store_first: date
    unit: str
    currency: str | None
    window_days: int
    summary: StoreSummary
    kpis: KpiRow
    trend: list[KpiRow]
    segments: list[SegmentRow]
    retention: list[CohortRow]
    ltv: list[CohortRow]
    concentration: list[ConcentrationPoint]
    top20_share: float | None
    call_list: list[CallListEntry]
    predictions: PredictionsOverview | None
    stages: list[StageCount]
    flow_since: date
    flow: list[FlowCell]
    buyer_types: BuyerTypeMix
    reorders: list[DueReorder]
    nps: NpsTable | None = None  # by RFM segment; None without feedback answers
    nps_trend: NpsTable | None = None


@dataclass(frozen=True, kw_only=True)
class ReportData(Result):
    """The report's data; ``shop`` is None while the store has no purchase orders."""

    store: str
    shop: ShopOverview | None
