"""The backtest on distinct (history, holdout purchases) rows gives what a per-customer backtest gives.

The generated shop (``ws.data.generate(1500, 11)``), on DuckDB and PostgreSQL. ``backtest`` reads
distinct rows with weights (``scores.holdout``); the expected numbers here come the other way round,
independently of that code: the per-customer summary and holdout activity (one row per customer),
each model refitted on it per customer, its own numpy predictions per customer, and the metrics by
their textbook definitions (numpy means, scikit-learn's unweighted AUC, the reliability table of
the per-customer predictions).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from retainly.features.model_summary import holdout_activity, model_summary
from retainly.scores.backtest import fit_model
from retainly.scores.calibration import reliability
from retainly.settings import TIME_UNITS
from tests.scores.conftest import fit_spend

RELATIVE = 1e-6  # fits on merged rows sum in another order: the optimum moves in the last digits only



def test_backtest_metrics_are_the_per_customer_ones(generated_shop):
    holdout_end = generated_shop.predictions.as_of(None)
    cut = holdout_end - timedelta(days=120)
    models = ["bgnbd", "mbgnbd", "paretonbd", "heuristic"]
    result = generated_shop.predictions.backtest(cut, holdout_end, models)
    settings = generated_shop.settings.models
    unit_days = TIME_UNITS[settings.time_unit]

    summary = model_summary(generated_shop.store, cut, settings.time_unit)  # one row per customer, by id
    activity = holdout_activity(generated_shop.store, cut, holdout_end)
    actual = summary[["customer_id"]].merge(activity, on="customer_id", how="left")
    actual = actual.fillna({"purchases": 0, "spend": 0.0})
    purchases = actual["purchases"].to_numpy(dtype=float)
    bought = purchases > 0
    spend = fit_spend(summary, unit_days)[0].expected_spend(summary)
    horizon = (holdout_end - cut).days / unit_days
    assert bought.any() and not bought.all()

    for row, name in zip(result.models, models):
        assert row["model"] == name and "error" not in row, row
        model = fit_model(name, summary, unit_days, settings.penalizer)
        predicted = model.predict(summary, horizon)
        expected = predicted["expected_purchases"].to_numpy()
        chance = predicted["probability_of_purchase"].to_numpy()
        assert row["customers"] == len(summary)
        assert row["predicted_purchases"] == pytest.approx(expected.sum(), rel=RELATIVE)
        assert row["actual_purchases"] == purchases.sum()
        assert row["mae"] == pytest.approx(np.mean(np.abs(expected - purchases)), rel=RELATIVE)
        assert row["rmse"] == pytest.approx(np.sqrt(np.mean((expected - purchases) ** 2)), rel=RELATIVE)
        assert row["brier"] == pytest.approx(np.mean((chance - bought) ** 2), rel=RELATIVE)
        assert row["roc_auc"] == pytest.approx(roc_auc_score(bought, chance), rel=RELATIVE)
        assert row["p_alive_auc"] == pytest.approx(roc_auc_score(bought, predicted["probability_alive"]), rel=RELATIVE)
        tenths = reliability(chance, bought)
        assert [r["customers"] for r in row["reliability"]] == [r["customers"] for r in tenths]
        for got, want in zip(row["reliability"], tenths):
            assert [got[k] for k in ("low", "high", "predicted", "observed")] == pytest.approx(
                [want[k] for k in ("low", "high", "predicted", "observed")], rel=RELATIVE, abs=1e-9)
        assert row["predicted_revenue"] == pytest.approx(np.nansum(expected * spend), rel=RELATIVE)
        assert row["actual_revenue"] == pytest.approx(actual["spend"].sum(), rel=1e-9)
        per_purchase = actual["spend"].to_numpy()[bought] / purchases[bought]
        assert row["spend_mae"] == pytest.approx(np.nanmean(np.abs(spend[bought] - per_purchase)), rel=RELATIVE)
        weekly = [float(np.sum(model.expected_purchases(t["day"] / unit_days, summary))) for t in row["tracking"]]
        assert [t["predicted"] for t in row["tracking"]] == pytest.approx(weekly, rel=RELATIVE)
