"""`score` by distinct history (scores/by_history.py) stores what a per-customer computation gives.

The generated shop (``ws.data.generate(1500, 11)``), on DuckDB and PostgreSQL. ``score`` pulls
distinct histories, spend and money with weights, predicts once per history and lets the engine
join the predictions back to customers. The expected numbers here come from the other way round,
independently of that code: the per-customer summary (``model_summary``, one row per customer),
the models refitted on it (``backtest.fit_model`` and the conftest's ``fit_spend``, per customer) and
their own numpy predictions per customer, with the stored calibration map applied.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest

from retainly.features.model_summary import customer_histories, customer_summary, model_inputs, model_summary
from retainly.models.clv import DAYS_PER_MONTH, discounted_purchases
from retainly.models.heuristic import HeuristicModel
from retainly.scores.backtest import fit_model
from retainly.scores.calibration import Calibration
from retainly.scores.scoring import score
from retainly.scores.stored import latest_fit
from retainly.settings import TIME_UNITS
from tests.scores.conftest import fit_spend

RELATIVE = 1e-7  # fits on merged rows sum in another order: the optimum moves in the last digits only




def test_the_engine_pulls_fewer_rows_than_customers(generated_shop):
    as_of = generated_shop.predictions.as_of(None)
    summary = model_summary(generated_shop.store, as_of, "week")
    with generated_shop.store.scratch(customer_summary(generated_shop.store, as_of)) as customers:
        inputs = model_inputs(customers, "week")
    assert inputs.customers == len(summary) and inputs.repeat_buyers == int((summary["frequency"] > 0).sum())
    assert len(inputs.weight) < len(summary)
    assert len(inputs.spend) <= inputs.repeat_buyers and inputs.spend["weight"].sum() == inputs.repeat_buyers
    assert len(inputs.returns) < len(summary) and inputs.returns["weight"].sum() == (summary["bought"] > 0).sum()
    # Each distinct history is one of the summary's, with as many customers as share it there.
    shared = summary.groupby(["frequency", "recency", "T"]).size()
    assert [shared[key] for key in zip(inputs.frequency, inputs.recency, inputs.T)] == inputs.weight.tolist()


@pytest.mark.parametrize("model", ["mbgnbd", "heuristic"])
def test_stored_scores_are_the_per_customer_predictions(generated_shop, model):
    fit = generated_shop.predictions.fit(model=model)
    table = generated_shop.predictions.scores(fit.as_of)
    stored = table.to_pandas()
    record = latest_fit(generated_shop.store, fit.as_of)
    settings = generated_shop.settings.models
    unit_days = TIME_UNITS[record["time_unit"]]
    summary = model_summary(generated_shop.store, fit.as_of, record["time_unit"])  # one row per customer, by id
    assert stored["customer_id"].tolist() == summary["customer_id"].tolist()

    fitted = fit_model(model, summary, unit_days, settings.penalizer)
    assert record["params"] == pytest.approx(fitted.to_dict()["params"], rel=RELATIVE)
    spend_model, _ = fit_spend(summary, unit_days)
    assert record["spend_params"] == pytest.approx(spend_model.to_dict()["params"], rel=RELATIVE)
    assert record["customers"] == len(summary)

    horizon = record["horizon_days"] / unit_days
    predicted = fitted.predict(summary, horizon)
    months = max(1, round(record["horizon_days"] / DAYS_PER_MONTH))
    per_month = DAYS_PER_MONTH / unit_days
    if isinstance(fitted, HeuristicModel):  # linear in time (models/heuristic.py)
        purchases = (predicted["expected_purchases"].to_numpy() * per_month / horizon
                     * sum((1 + record["discount_rate"]) ** -k for k in range(1, months + 1)))
    else:
        purchases = discounted_purchases(fitted, summary, months, record["discount_rate"], per_month)
    spend = spend_model.expected_spend(summary)
    chance = fitted.predict(summary, record["order_window_days"] / unit_days)["probability_of_purchase"].to_numpy()
    if record["calibration"] is not None:
        chance = Calibration.from_dict(record["calibration"]).apply(chance)
    for column, expected in (("p_alive", predicted["probability_alive"]),
                             ("expected_orders", predicted["expected_purchases"]),
                             ("p_order", predicted["probability_of_purchase"]),
                             ("expected_spend", spend), ("clv", purchases * spend), ("order_chance", chance)):
        np.testing.assert_allclose(stored[column].to_numpy(dtype=float), np.asarray(expected, dtype=float),
                                   rtol=RELATIVE, atol=1e-12, err_msg=column)
    waits = [math.ceil(days) for days in predicted["time_to_next_purchase"].to_numpy() * unit_days]
    expected_dates = [fit.as_of + timedelta(days=d) if d <= 3 * 365 else None for d in waits]
    assert table.column("next_order_date").to_pylist() == expected_dates
    assert set(stored["model"]) == {model} and set(stored["confidence"]) == {record["confidence"]}


def test_histories_alone_are_those_of_the_summary(generated_shop):
    # predictions_at (scores/stored.py) reads customer_histories: the model summary's history columns.
    as_of = generated_shop.predictions.as_of(None)
    for unit in ("week", "day"):
        summary = model_summary(generated_shop.store, as_of, unit)[["customer_id", "frequency", "recency", "T"]]
        assert customer_histories(generated_shop.store, as_of, unit).equals(summary)


def test_the_backtest_and_the_check_read_every_kth_customer_of_a_large_shop(generated_shop):
    # With check_customers = 500, the generated shop's backtest and chance-to-order check read every k-th
    # customer by id, k = ceil(buyers / 500); the fit and the stored scores still cover every customer.
    # The expected counts come from plain SQL over the purchases, and the cut from the rule in
    # scores/scoring.py's docstring (the holdout is the horizon, at most a third of the history).
    store = generated_shop.store
    as_of = generated_shop.predictions.as_of(None)
    known = "FROM purchases WHERE customer_id IS NOT NULL AND placed_at < ?"
    buyers = store.fetchone(f"SELECT COUNT(DISTINCT customer_id) {known}", (as_of + timedelta(days=1),))[0]
    every = math.ceil(buyers / 500)
    assert every == 3  # the shop has 1,001 to 1,500 buyers
    settings = replace(generated_shop.settings.models, check_customers=500)
    fit = score(generated_shop.analytics, as_of, "auto", settings)

    first = store.fetchone("SELECT MIN(placed_at) FROM purchases WHERE customer_id IS NOT NULL")[0].date()
    cut = as_of - timedelta(days=min(settings.horizon_days, (as_of - first).days // 3))
    by_cut = (cut + timedelta(days=1),)
    sampled = store.fetchone(f"SELECT COUNT(DISTINCT customer_id) {known} AND MOD(customer_id, {every}) = 0", by_cut)[0]
    everyone = store.fetchone(f"SELECT COUNT(DISTINCT customer_id) {known}", by_cut)[0]
    assert 0 < sampled < everyone
    assert fit["backtest"] and {row["customers"] for row in fit["backtest"]} == {sampled}
    assert (f"the backtest and this check read every 3rd customer by id (about {buyers / 3:,.0f} of {buyers:,}; "
            "[models] check_customers = 500)") in fit["reason"]
    assert fit["customers"] == buyers
    assert store.fetchone("SELECT COUNT(*) FROM customer_scores WHERE as_of = ?", (as_of,))[0] == buyers
