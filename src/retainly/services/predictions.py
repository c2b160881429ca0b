"""Predictions: fit a purchase and a spend model, store every customer's P(alive), expected
orders, CLV and next-order date; backtests; what the stored predictions add up to."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pyarrow as pa

from retainly.errors import InputError
from retainly.features.orders import check_day
from retainly.models import PURCHASE_MODELS
from retainly.models.clv import DAYS_PER_MONTH
from retainly.models.heuristic import HeuristicModel
from retainly.results import AliveBin, BacktestResult, FitRecord, PredictionTotals
from retainly.results.base import rows
from retainly.scores import stored
from retainly.scores.backtest import evaluate
from retainly.scores.holdout import backtest_data
from retainly.scores.scoring import MODEL_CHOICES, automatic_choice, calibrator, score
from retainly.services.base import Service

__all__ = ["DAYS_PER_MONTH", "LIKELY_ACTIVE", "LIKELY_TO_ORDER", "MODEL_CHOICES", "PredictionService", "model_title"]

LIKELY_ACTIVE = 0.5  # P(alive) from which a customer counts as probably still a customer
LIKELY_TO_ORDER = 0.5  # a chance to order from which a customer counts as likely to order


class PredictionService(Service):
    """Model fits and the per-customer predictions they store, per date."""

    def fit(self, model: str = "auto", as_of: date | None = None, horizon_days: int | None = None) -> FitRecord:
        """Fit a model (chosen by backtest with 'auto') and store every customer's predictions."""
        settings = self.settings.models
        if horizon_days is not None:
            settings = replace(settings, horizon_days=horizon_days)
        return FitRecord(**score(self.analytics, self.as_of(as_of), model, settings, self.ws.progress))

    def ensure(self, as_of: date | None = None) -> date:
        """Predictions for ``as_of`` that postdate the last import, fitted when missing; return the date."""
        return self.ensure_derived("predictions", as_of)

    def scores(self, as_of: date | None = None) -> pa.Table:
        """Stored per-customer predictions for ``as_of`` (scored first when missing or stale)."""
        return stored.customer_scores(self.store, self.ensure(as_of))

    def latest_fit(self, as_of: date | None = None) -> FitRecord | None:
        """The most recent fit for ``as_of`` (default: the last one of all), or None."""
        found = stored.latest_fit(self.store, as_of)
        return None if found is None else FitRecord(**found)

    def totals(self, as_of: date | None = None) -> PredictionTotals:
        """The stored predictions of ``as_of`` added up (scored first when missing or stale)."""
        return PredictionTotals(**stored.prediction_totals(self.store, self.ensure(as_of), LIKELY_ACTIVE,
                                                           LIKELY_TO_ORDER))

    def alive_histogram(self, as_of: date | None = None) -> list[AliveBin]:
        """Customers per tenth of P(alive)."""
        return rows(AliveBin, stored.probability_histogram(self.store, self.ensure(as_of), "p_alive"))

    def chance_histogram(self, as_of: date | None = None) -> list[AliveBin]:
        """Customers per tenth of the calibrated chance to order within the window."""
        return rows(AliveBin, stored.probability_histogram(self.store, self.ensure(as_of), "order_chance"))

    def backtest(self, calibration_end: date, holdout_end: date | None = None,
                 models: list[str] | None = None) -> BacktestResult:
        """Fit on orders through ``calibration_end``, predict to ``holdout_end``, compare (docs/models.md)."""
        check_day(calibration_end, "calibration_end")
        holdout_end = self.as_of(holdout_end, "holdout_end")
        comparable = [m for m in MODEL_CHOICES if m != "auto"]
        chosen = models or [*comparable, "auto"]
        unknown = [m for m in chosen if m not in MODEL_CHOICES]
        if unknown:
            raise InputError(f"`models` {unknown[0]}: choose from {', '.join(MODEL_CHOICES)}", parameter="models")
        settings = self.settings.models
        data = backtest_data(self.analytics, calibration_end, holdout_end, settings.time_unit)
        if data.inputs.customers == 0:
            raise InputError(f"no customer had bought by {calibration_end}; pick a later `calibration_end`",
                             parameter="calibration_end")
        results = evaluate(data, [m for m in chosen if m != "auto"], settings.penalizer,
                           calibrator(self.analytics, data, settings), self.ws.progress)
        if "auto" in chosen:
            results.append(automatic_choice(self.analytics, data, settings, results))
        return BacktestResult(calibration_end=calibration_end, holdout_end=holdout_end, time_unit=settings.time_unit,
                              models=results)


def model_title(name: str) -> str:
    """A model's name for people: "BG/NBD model", or the heuristics' title."""
    return PURCHASE_MODELS[name].title + " model" if name in PURCHASE_MODELS else HeuristicModel.title
