"""Insight results: buyer types, consumables and reorders due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from retainly.results.base import Result


@dataclass(frozen=True, kw_only=True)
class InsightsRun(Result):
    """Rows stored for one date by the insights, and the note on promotions."""

    buyer_types: int
    product_intervals: int
    reorders_due: int
    next_products: int
    promotion_note: str


@dataclass(frozen=True, kw_only=True)
class BuyerTypeCount(Result):
    """Customers of one buyer type from one source (a rule, or an early prediction)."""

    buyer_type: str
    source: str
    customers: int
    share: float


@dataclass(frozen=True, kw_only=True)
class BuyerTypeMix(Result):
    """Customers per buyer type and source, and what the data say about promotions."""

    as_of: date
    promotion_note: str
    types: list[BuyerTypeCount]


@dataclass(frozen=True, kw_only=True)
class BuyerTypeEvaluation(Result):
    """Precision and recall of the rules and early classifiers against a generated shop's truth.

    Each section holds ``per_type`` {type: precision, recall, f1, support}, ``macro_f1`` and a
    confusion table; the early sections also their baseline and training facts.
    """

    as_of: date
    promotion_note: str
    gone_days: int
    enough_history_days: int
    rules: dict[str, Any]
    after_1: dict[str, Any]
    after_2: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Consumable(Result):
    """A product bought again at a typical interval (days between a customer's purchases)."""

    sku: str
    name: str | None
    repeat_buyers: int
    intervals: int
    median_days: float | None
    p25_days: float | None
    p75_days: float | None


@dataclass(frozen=True, kw_only=True)
class DueReorder(Result):
    """A customer whose reorder of a consumable is due (days overdue within one interval)."""

    customer: str
    sku: str
    name: str | None
    last_purchase: date
    due_date: date
    days_overdue: int
    p_alive: float | None


@dataclass(frozen=True, kw_only=True)
class Reorders(Result):
    """Consumables with their intervals, and the reorders due of customers still likely to buy."""

    as_of: date
    consumables: list[Consumable]
    due: list[DueReorder]
