"""Scores predicted once per distinct history and joined back to customers in the engine.

Everything a purchase model says about a customer depends on their history alone: P(alive),
expected orders, the chance to order, the wait to the next order, the discounted purchases of
CLV. ``score`` fits on the engine's distinct histories (``features.model_summary.model_inputs``), predicts each
once here, and uploads that small table; the engine joins it to every customer by the history's
whole-day keys and adds what depends on the customer's money, expected spend (Gamma-Gamma or the
heuristics, times the share the customer keeps, ``models.returns``) and CLV, by the same formulas
as the models' numpy code. ``customer_scores`` is then written by one INSERT ... SELECT.
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
from ibis.expr.types import Table

from retainly.errors import ConvergenceError
from retainly.features.model_summary import KEYS, ModelInputs
from retainly.models import GammaGammaModel
from retainly.models.clv import DAYS_PER_MONTH, discounted_purchases
from retainly.models.heuristic import HeuristicModel
from retainly.models.returns import NetSpendModel, ReturnRates
from retainly.scores.calibration import raw_order_chance
from retainly.settings import TIME_UNITS, ModelSettings

NO_DATE_AFTER_DAYS = 3 * 365  # an even-odds wait longer than this gives no next-order date
HISTORY_SCHEMA = pa.schema([
    ("purchase_days", pa.int64()), ("span", pa.int64()), ("age", pa.int64()), ("p_alive", pa.float64()),
    ("expected_orders", pa.float64()), ("p_order", pa.float64()), ("purchases", pa.float64()),
    ("next_order_date", pa.date32()), ("order_chance", pa.float64()),
])


def fit_spend_by_history(inputs: ModelInputs, unit_days: float) -> tuple[NetSpendModel, str | None]:
    """Expected net spend per purchase: Gamma-Gamma on the repeat buyers' distinct spend with weights,
    else the heuristics' mean spend (with the reason); return rates on the buyers' distinct money."""
    try:
        gross, note = GammaGammaModel().fit(inputs.spend, weights=inputs.spend["weight"].to_numpy()), None
    except ConvergenceError as error:
        gross, note = HeuristicModel(unit_days).fit(inputs, spend=inputs.spend), str(error)
    returns = ReturnRates().fit(inputs.returns, weights=inputs.returns["weight"].to_numpy())
    return NetSpendModel(gross, returns), note


def predict_histories(model, inputs: ModelInputs, as_of: date, settings: ModelSettings) -> pd.DataFrame:
    """One row per distinct history: its keys and the columns of ``HISTORY_SCHEMA`` (order_chance is
    the model's own; ``score`` calibrates it)."""
    unit_days = TIME_UNITS[settings.time_unit]
    horizon = settings.horizon_days / unit_days
    predicted = model.predict(inputs, horizon)
    months = max(1, round(settings.horizon_days / DAYS_PER_MONTH))
    per_month = DAYS_PER_MONTH / unit_days
    if isinstance(model, HeuristicModel):  # linear in time: the same expected purchases every month
        monthly = predicted["expected_purchases"].to_numpy() * per_month / horizon
        purchases = monthly * np.sum((1 + settings.discount_rate) ** -np.arange(1, months + 1))
    else:
        purchases = discounted_purchases(model, inputs, months, settings.discount_rate, per_month)
    wait_days = np.ceil(predicted["time_to_next_purchase"].to_numpy() * unit_days)
    return inputs.keys.assign(
        p_alive=predicted["probability_alive"].to_numpy(),
        expected_orders=predicted["expected_purchases"].to_numpy(),
        p_order=predicted["probability_of_purchase"].to_numpy(),
        purchases=purchases,
        next_order_date=[as_of + timedelta(days=int(d)) if d <= NO_DATE_AFTER_DAYS else None for d in wait_days],
        order_chance=raw_order_chance(model, inputs, settings.order_window_days / unit_days),
    )


def history_table(predictions: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(predictions[HISTORY_SCHEMA.names], preserve_index=False).cast(HISTORY_SCHEMA)


def customer_rows(customers: Table, predicted: Table, spend_model: NetSpendModel, as_of: date, fit_id: int,
                  model: str, confidence: str) -> Table:
    """The customer_scores rows: every customer of ``customers`` (``customer_summary``) with the
    predictions of their history (``predicted``, a ``history_table`` in the engine) and their spend."""
    joined = customers.join(predicted, list(KEYS))
    joined = joined.mutate(expected_spend=net_spend(spend_model, joined))
    return joined.select(
        as_of=ibis.literal(as_of, "date"), customer_id=joined.customer_id.cast("int64"),
        fit_id=ibis.literal(fit_id, "int64"), model=ibis.literal(model, "string"),
        p_alive=joined.p_alive, expected_orders=joined.expected_orders, p_order=joined.p_order,
        expected_spend=joined.expected_spend, clv=joined.purchases * joined.expected_spend,
        next_order_date=joined.next_order_date, confidence=ibis.literal(confidence, "string"),
        order_chance=joined.order_chance,
    ).order_by("customer_id")


def _number(value: float):
    return ibis.literal(float(value), "float64")


def net_spend(spend_model: NetSpendModel, c: Table):
    """``NetSpendModel.expected_spend`` as an engine expression over ``customer_summary`` columns,
    operation for operation, so that it gives the numbers numpy gives."""
    x = (c.purchase_days - 1).cast("float64")
    repeat = x > 0
    mean = ibis.ifelse(repeat, (c.total - c.first_spend) / ibis.ifelse(repeat, x, 1.0), 0.0)  # monetary_value
    own = repeat & (mean > 0)
    gross = spend_model.gross
    if isinstance(gross, HeuristicModel):
        per_purchase = ibis.ifelse(own, mean, _number(gross.params_["mean_spend"]))
    else:
        p, q, v = (_number(value) for value in gross._params())
        x, mean = ibis.ifelse(own, x, 0.0), ibis.ifelse(own, mean, 0.0)
        per_purchase = p * (v + x * mean) / (p * x + q - 1)
    returns = spend_model.returns
    k = returns.return_weight
    below = c.total + _number(k)
    rate = ibis.ifelse(below > 0, (c.returned + _number(k * returns.return_rate)) / ibis.ifelse(below > 0, below, 1.0),
                       _number(returns.return_rate)).clip(lower=0.0, upper=1.0)
    kept = ibis.ifelse(c.total - c.returned > 0, 1.0 - rate, 0.0)
    return per_purchase * kept
