"""Reading stored fits and predictions back (``model_fits``, ``customer_scores``)."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa

from retainly.store.backends import Store

if TYPE_CHECKING:
    import pandas as pd

FIT_COLUMNS = ("fit_id", "as_of", "model", "time_unit", "params", "spend_model", "spend_params", "log_likelihood",
               "customers", "repeat_buyers", "horizon_days", "discount_rate", "confidence", "reason", "backtest",
               "fitted_at", "order_window_days", "calibration")
PREDICTION_COLUMNS = ("model", "p_alive", "expected_orders", "p_order", "expected_spend", "clv", "next_order_date",
                      "confidence", "order_chance")


def latest_fit(store: Store, as_of: date | None = None) -> dict | None:
    """The last fit for ``as_of`` (or of all), with its JSON columns decoded."""
    where, params = ("WHERE as_of = ?", (as_of,)) if as_of else ("", ())
    row = store.fetchone(f"SELECT {', '.join(FIT_COLUMNS)} FROM model_fits {where} ORDER BY fit_id DESC LIMIT 1",
                         params or None)
    if row is None:
        return None
    fit = dict(zip(FIT_COLUMNS, row))
    for key in ("params", "spend_params", "backtest", "calibration"):
        fit[key] = json.loads(fit[key]) if fit[key] else None
    return fit


def customer_scores(store: Store, as_of: date) -> pa.Table:
    """Every customer's stored predictions for ``as_of``, by customer id, as an Arrow table."""
    table = store.table("customer_scores")
    return table.filter(table.as_of == as_of).order_by("customer_id").to_pyarrow()


def customer_prediction(store: Store, customer_id: int, as_of: date) -> dict | None:
    """One customer's stored predictions for ``as_of``, or None (no purchase by then)."""
    row = store.fetchone(f"SELECT {', '.join(PREDICTION_COLUMNS)} FROM customer_scores "
                         "WHERE as_of = ? AND customer_id = ?", (as_of, customer_id))
    return None if row is None else dict(zip(PREDICTION_COLUMNS, row))


def predictions_at(store: Store, as_of: date) -> "pd.DataFrame | None":
    """customer_id, p_alive, expected_orders, clv as of a date: the stored scores for that date,
    else the latest fit's model applied to the summary at that date (no refit; clv empty).
    None when nothing was ever scored."""
    import pandas as pd

    from retainly.features.model_summary import customer_histories
    from retainly.models import PURCHASE_MODELS
    from retainly.models.heuristic import heuristic_from_dict
    from retainly.settings import TIME_UNITS

    stored = store.table("customer_scores")
    stored = stored.filter(stored.as_of == as_of).select("customer_id", "p_alive", "expected_orders", "clv")
    frame = stored.to_pandas()
    if len(frame):
        return frame
    fit = latest_fit(store)
    if fit is None:
        return None
    unit_days = TIME_UNITS[fit["time_unit"]]
    # One row per customer comes out (the caller wants one), but only the history: no money, no returns.
    summary = customer_histories(store, as_of, fit["time_unit"])
    if summary.empty:
        return pd.DataFrame(columns=["customer_id", "p_alive", "expected_orders", "clv"])
    if fit["model"] in PURCHASE_MODELS:
        model = PURCHASE_MODELS[fit["model"]].from_dict({"params": fit["params"]})
    else:
        model = heuristic_from_dict(fit["params"], unit_days)
    predicted = model.predict(summary, fit["horizon_days"] / unit_days)
    return pd.DataFrame({"customer_id": summary["customer_id"], "p_alive": predicted["probability_alive"],
                         "expected_orders": predicted["expected_purchases"], "clv": float("nan")})


def prediction_totals(store: Store, as_of: date, active_from: float, likely_from: float) -> dict:
    """The stored predictions of ``as_of`` added up; ``active`` counts P(alive) >= ``active_from``,
    ``likely_buyers`` a chance to order >= ``likely_from``."""
    table = store.table("customer_scores")
    mine = table.filter(table.as_of == as_of)
    totals = mine.aggregate(customers=mine.count(), expected_orders=mine.expected_orders.sum(), clv=mine.clv.sum(),
                            active=(mine.p_alive >= active_from).sum(),
                            mean_p_alive=mine.p_alive.mean(), expected_buyers=mine.order_chance.sum(),
                            likely_buyers=(mine.order_chance >= likely_from).sum()).to_pyarrow().to_pylist()[0]
    fit = latest_fit(store, as_of)
    return {"customers": int(totals["customers"]), "expected_orders": float(totals["expected_orders"] or 0),
            "clv": float(totals["clv"] or 0), "active": int(totals["active"] or 0),
            "mean_p_alive": totals["mean_p_alive"], "order_window_days": fit["order_window_days"] if fit else None,
            "expected_buyers": float(totals["expected_buyers"] or 0),
            "likely_buyers": int(totals["likely_buyers"] or 0)}


def probability_histogram(store: Store, as_of: date, column: str, bins: int = 10) -> list[dict]:
    """Customers per bin of width 1 / ``bins`` of a probability ``column`` (the last bin includes 1),
    counted in the engine."""
    table = store.table("customer_scores")
    mine = table.filter(table.as_of == as_of)
    placed = mine.mutate(bin=(mine[column] * bins).floor().clip(upper=bins - 1).cast("int32"))
    counted = placed.group_by("bin").aggregate(customers=placed.count()).to_pyarrow().to_pylist()
    by_bin = {row["bin"]: int(row["customers"]) for row in counted}
    return [{"low": i / bins, "customers": by_bin.get(i, 0)} for i in range(bins)]
