"""The Models page, for analysts: the fit behind the stored predictions as ``retainly score``
reports it (model, why, parameters, the spend model, the chance-to-order calibration) and the
backtest that chose the model, with its error measures as ``retainly backtest`` prints them
(RMSE, AUC, Brier: docs/models.md), and the chart of its holdout.

Its JSON twin is ``GET /api/v1/predictions?as_of=...``: the same service calls, with the fit record
under ``fit``. The owner's pages keep to plain words; the measures live here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from retainly.errors import RetainlyError
from retainly.services.predictions import model_title
from retainly.web import charts
from retainly.web.auth import READ_FIGURES
from retainly.web.render import error_page, render
from retainly.web.session import page_user
from retainly.web.shop import shop

router = APIRouter(include_in_schema=False)
# The fit record's figures in the order `retainly score` prints them: field, label.
FIT_FIELDS = (("model", "model"), ("confidence", "confidence"), ("as_of", "fitted on purchases up to"),
              ("fitted_at", "fitted at"), ("time_unit", "time unit"), ("customers", "customers"),
              ("repeat_buyers", "repeat buyers"), ("horizon_days", "horizon, days"),
              ("discount_rate", "discount rate per month"), ("order_window_days", "chance to order within, days"),
              ("log_likelihood", "log-likelihood"), ("spend_model", "spend model"))
# The backtest's columns as `retainly backtest` prints them: key, heading, digits shown.
BACKTEST_COLUMNS = (("predicted_purchases", "predicted purchases", 1), ("actual_purchases", "actual purchases", 0),
                    ("aggregate_error", "aggregate error", 3), ("mae", "MAE", 3), ("rmse", "RMSE", 3),
                    ("brier", "Brier", 4), ("calibrated_brier", "Brier, calibrated", 4), ("roc_auc", "ROC AUC", 3),
                    ("p_alive_auc", "P(alive) AUC", 3), ("revenue_error", "revenue error", 3))


def _text(value: Any, digits: int | None = None) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and digits is not None:
        return f"{value:,.{digits}f}"
    if isinstance(value, float):
        return f"{value:,.6g}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _figures(values: dict | None, prefix: str) -> list[dict]:
    """A dict of the fit record (its parameters, the calibration) as marked figures; lists as their length."""
    return [{"field": f"{prefix}.{key}", "label": key.replace("_", " "), "value": value,
             "marked": not isinstance(value, list),
             "text": f"{len(value)} points" if isinstance(value, list) else _text(value)}
            for key, value in (values or {}).items()]


def backtest_columns(backtest: list[dict] | None) -> list[tuple[str, str, int]]:
    """The columns some model of the backtest has (the calibrated Brier only where a calibration was learnt)."""
    return [column for column in BACKTEST_COLUMNS if any(column[0] in result for result in backtest or [])]


def backtest_rows(backtest: list[dict] | None, chosen: str) -> list[dict]:
    """The backtest, a row per model: its measures as marked figures, or why it could not be fitted."""
    rows = []
    for index, result in enumerate(backtest or []):
        cells = [{"field": f"fit.backtest.{index}.{key}", "value": result.get(key), "present": key in result,
                  "text": _text(result.get(key), digits)} for key, _, digits in backtest_columns(backtest)]
        rows.append({"index": index, "model": result["model"], "title": model_title(result["model"]),
                     "chosen": result["model"] == chosen, "error": result.get("error"), "cells": cells})
    return rows


@router.get("/models")
def models(request: Request) -> Response:
    """The fit behind the predictions of the last order's day (fitted first when missing, as the twin does)."""
    user = page_user(request, READ_FIGURES)
    try:
        with shop(request).use() as ws:
            as_of = ws.predictions.ensure(ws.data.last_order_date())  # an empty store: InputError, a 422 page
            fit = ws.predictions.latest_fit(as_of)
            totals = ws.predictions.totals(as_of)
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    record = fit.to_dict()  # the fit as the twin spells it (its time to the second)
    return render(request, "models.j2", user, with_charts=True, fit=fit, title=model_title(fit.model),
                  twin=f"/api/v1/predictions?as_of={as_of.isoformat()}", totals=totals,
                  figures=[{"field": f"fit.{key}", "label": label, "value": record[key],
                            "text": _text(record[key]).replace("T", " ") if key == "fitted_at" else _text(record[key])}
                           for key, label in FIT_FIELDS],
                  params=_figures(record["params"], "fit.params"),
                  spend_params=_figures(record["spend_params"], "fit.spend_params"),
                  calibration=_figures(record["calibration"], "fit.calibration"),
                  backtest=backtest_rows(record["backtest"], fit.model), columns=backtest_columns(record["backtest"]),
                  tracking=charts.backtest_tracking(fit))
