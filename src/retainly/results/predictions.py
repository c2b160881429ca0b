"""Prediction results: fits, backtests and what the stored predictions add up to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from retainly.results.base import Result


@dataclass(frozen=True, kw_only=True)
class FitRecord(Result):
    """One model fit: which model, why, its parameters, and the backtest that chose it."""

    fit_id: int
    as_of: date
    model: str
    time_unit: str
    params: dict[str, Any]
    spend_model: str
    spend_params: dict[str, Any]
    log_likelihood: float | None
    customers: int
    repeat_buyers: int
    horizon_days: int
    discount_rate: float
    confidence: str
    reason: str
    backtest: list[dict[str, Any]] | None
    fitted_at: datetime
    order_window_days: int | None = None  # None: a fit made before the chance to order existed
    calibration: dict[str, Any] | None = None  # the isotonic map of the chance to order (scores.calibration)

    def to_dict(self) -> dict[str, Any]:
        # The fit time to the second: the microseconds only matter to the store's freshness rule.
        return {**super().to_dict(), "fitted_at": self.fitted_at.isoformat(timespec="seconds")}


@dataclass(frozen=True, kw_only=True)
class BacktestResult(Result):
    """Each model fitted on the calibration period and compared with the holdout (docs/models.md)."""

    calibration_end: date
    holdout_end: date
    time_unit: str
    models: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class PredictionTotals(Result):
    """The stored predictions of one date added up."""

    customers: int
    expected_orders: float
    clv: float
    active: int
    mean_p_alive: float | None
    order_window_days: int | None  # the window of the chance to order
    expected_buyers: float  # the chances to order within that window, summed
    likely_buyers: int  # customers whose chance to order is at least LIKELY_TO_ORDER


@dataclass(frozen=True, kw_only=True)
class AliveBin(Result):
    """Customers whose P(alive) (or chance to order) is in [low, low + 0.1) (the last bin includes 1)."""

    low: float
    customers: int
