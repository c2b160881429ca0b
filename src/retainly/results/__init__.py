"""The typed results the core returns: the CLI prints them, the API serializes them, the
report and web pages render them. This package is a leaf: it imports nothing else of retainly.
"""

from retainly.results.base import Result, plain
from retainly.results.customers import CustomerMatch, CustomerSearch, CustomerView
from retainly.results.data import ImportRecord, ImportResult, StoreSummary
from retainly.results.insights import (BuyerTypeCount, BuyerTypeEvaluation, BuyerTypeMix, Consumable, DueReorder,
                                       InsightsRun, Reorders)
from retainly.results.lifecycle import CustomerStage, FlowCell, LifecycleFlow, StageCount, StageTally, Transition
from retainly.results.measures import CohortRow, KpiRow
from retainly.results.predictions import AliveBin, BacktestResult, FitRecord, PredictionTotals
from retainly.results.removal import Deletion, Erasure, LeftOutOrders, OrderDate
from retainly.results.report import PredictionsOverview, ReportData, ShopOverview
from retainly.results.rfm import (CallListEntry, ConcentrationPoint, RevenueConcentration, RfmRun, SegmentMove,
                                  SegmentRow)

__all__ = [
    "AliveBin", "BacktestResult", "BuyerTypeCount", "BuyerTypeEvaluation", "BuyerTypeMix", "CallListEntry",
    "CohortRow", "ConcentrationPoint", "Consumable", "CustomerMatch", "CustomerSearch", "CustomerStage", "CustomerView", "Deletion", "DueReorder",
    "Erasure", "FitRecord", "FlowCell", "ImportRecord", "ImportResult", "InsightsRun", "KpiRow", "LeftOutOrders",
    "LifecycleFlow", "OrderDate", "PredictionTotals", "PredictionsOverview", "Reorders", "ReportData", "Result",
    "RevenueConcentration",
    "RfmRun", "SegmentMove", "SegmentRow", "ShopOverview", "StageCount", "StageTally", "StoreSummary", "Transition",
    "plain",
]
