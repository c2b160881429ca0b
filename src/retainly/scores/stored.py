"""Reading stored fits and predictions back (``model_fits``, ``customer_scores``)."""

from __future__ import annotations

import json
from datetime import date

from retainly.store.backends import Store

FIT_COLUMNS = ("fit_id", "as_of", "model", "time_unit", "params", "spend_model", "spend_params", "log_likelihood",
               "customers", "repeat_buyers", "horizon_days", "discount_rate", "confidence", "reason", "backtest",
               "fitted_at")
PREDICTION_COLUMNS = ("model", "p_alive", "expected_orders", "p_order", "expected_spend", "clv", "next_order_date",
                      "confidence")


def latest_fit(store: Store, as_of: date | None = None) -> dict | None:
    """The last fit for ``as_of`` (or of all), with its JSON columns decoded."""
    where, params = ("WHERE as_of = ?", (as_of,)) if as_of else ("", ())
    row = store.fetchone(f"SELECT {', '.join(FIT_COLUMNS)} FROM model_fits {where} ORDER BY fit_id DESC LIMIT 1",
                         params or None)
    if row is None:
        return None
    fit = dict(zip(FIT_COLUMNS, row))
    for key in ("params", "spend_params", "backtest"):
        fit[key] = json.loads(fit[key]) if fit[key] else None
    return fit


def customer_prediction(store: Store, customer_id: int, as_of: date) -> dict | None:
    """One customer's stored predictions for ``as_of``, or None (no purchase by then)."""
    row = store.fetchone(f"SELECT {', '.join(PREDICTION_COLUMNS)} FROM customer_scores "
                         "WHERE as_of = ? AND customer_id = ?", (as_of, customer_id))
    return None if row is None else dict(zip(PREDICTION_COLUMNS, row))
