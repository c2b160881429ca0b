"""What a backtest reads from the engine: the histories at the cut, and what came after, by group.

Every metric of ``scores.backtest`` compares a per-customer prediction with what the customer
did in the holdout. A purchase model's prediction depends on the customer's history alone, and
the count metrics (error, Brier, AUC, reliability, tracking) on the history and the holdout
purchases alone, so the backtest reads one row per distinct (history, holdout purchases) with a
weight, the customers who share it, never one row per customer:

* ``inputs``: the models' inputs at the calibration end (``features.model_summary.model_inputs``),
  which every model fits on, as ``retainly score`` fits;
* ``outcomes``: per distinct (history, holdout purchases): ``history`` (the row of ``inputs``),
  ``purchases``, ``weight``, and the money the revenue metrics sum over those customers:
  ``expected_spend`` (each customer's expected net spend per purchase from the spend model fitted on
  ``inputs``, summed) and ``spend`` (net holdout spend, summed);
* ``spend_mae``: the per-purchase spend error over the customers who bought in the holdout, which
  no purchase model changes, computed once in the engine.

The money sums are the engine's (in an order of its own), so revenue figures may differ from run to
run in their last digits; nothing is fitted on them.
"""

from __future__ import annotations

from datetime import date

import ibis
import pandas as pd
from ibis.expr.types import Table

from retainly.errors import InputError
from retainly.features.model_summary import KEYS, customer_summary, holdout_activity_table, holdout_by_day, model_inputs
from retainly.scores.backtest import BacktestData
from retainly.scores.by_history import fit_spend_by_history, net_spend
from retainly.settings import TIME_UNITS
from retainly.store.backends import Store


def backtest_data(store: Store, calibration_end: date, holdout_end: date, unit: str,
                  days: Table | None = None) -> BacktestData:
    """The backtest's inputs for a fit on orders through ``calibration_end`` and a holdout to ``holdout_end``;
    ``days`` are ``bought_days`` as of ``holdout_end`` or later when the caller has them at hand."""
    if holdout_end <= calibration_end:
        raise InputError(f"`holdout_end` {holdout_end} must be after `calibration_end` {calibration_end}",
                         parameter="holdout_end")
    with store.scratch(customer_summary(store, calibration_end, days)) as customers:
        inputs = model_inputs(customers, unit)
        known = customers.select("customer_id")
        if inputs.customers == 0:
            outcomes = pd.DataFrame({"history": [], "purchases": [], "weight": [], "expected_spend": [], "spend": []})
            spend_mae = None
        else:
            spend_model, _ = fit_spend_by_history(inputs, TIME_UNITS[unit])
            activity = holdout_activity_table(store, calibration_end, holdout_end, known, days)
            outcomes, spend_mae = holdout_outcomes(customers, activity, spend_model, inputs.keys)
        by_day = holdout_by_day(store, calibration_end, holdout_end, known, days)
        inputs.customers_table = None  # the scratch table goes when this block ends
    return BacktestData(inputs, outcomes, spend_mae, by_day, calibration_end, holdout_end, unit)


def holdout_outcomes(customers: Table, activity: Table, spend_model,
                     keys: pd.DataFrame) -> tuple[pd.DataFrame, float | None]:
    """(outcomes, spend_mae) as the module docstring has them, from ``customers`` (``customer_summary``
    at the cut) and their holdout ``activity`` (customer_id, purchases, spend)."""
    joined = customers.left_join(activity, "customer_id")
    purchases = joined.purchases.fill_null(0)
    spend = joined.spend.fill_null(0.0)
    expected = net_spend(spend_model, joined)
    # As numpy's nansum and nanmean: a spend the model cannot give (NaN) counts for nothing.
    given = ibis.ifelse(expected.isnan(), ibis.null("float64"), expected)
    miss = ibis.ifelse(purchases > 0, (given - spend / ibis.ifelse(purchases > 0, purchases, 1)).abs(),
                       ibis.null("float64"))
    rows = joined.mutate(purchases=purchases, spend=spend, expected_spend=given, miss=miss)
    grouped = rows.group_by([*KEYS, "purchases"]).aggregate(
        weight=rows.count(), expected_spend=rows.expected_spend.sum().fill_null(0.0), spend=rows.spend.sum(),
        miss=rows.miss.sum().fill_null(0.0), misses=rows.miss.count())
    frame = grouped.to_pandas()
    for column in (*KEYS, "purchases", "weight", "misses"):
        frame[column] = frame[column].astype("int64")
    index = keys.reset_index(names="history")
    frame = frame.merge(index, on=list(KEYS), how="left", validate="many_to_one")
    misses = int(frame["misses"].sum())
    spend_mae = float(frame["miss"].sum()) / misses if misses else None
    frame = frame.sort_values(["history", "purchases"], kind="stable", ignore_index=True)
    return frame[["history", "purchases", "weight", "expected_spend", "spend"]].astype(
        {"expected_spend": float, "spend": float}), spend_mae
