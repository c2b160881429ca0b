"""Predictions scored against the generator's hidden truth (``generator_truth``).

The generated shop (``ws.data.generate(5000, 42)``: 2023-01-01 to 2025-12-31, docs/generator.md)
buys by a BG/NBD-like process per buyer type, with seasonality, and records for every
customer when they truly dropped out (``dropped_out_at``, their last purchase; NULL for a
customer still alive at the end). The cut-off is 2024-12-31 and the holdout a full seasonal
year to 2025-12-31, so the holdout holds every season once. 2,697 customers had bought by the
cut-off. Tolerances and why (figures measured on this shop, seed 42):

* Holdout purchase days, summed: within 10 % of what happened for the chosen model and for
  each of BG/NBD (+7.6 %), MBG/NBD (+5.6 %) and Pareto/NBD (+0.7 %). 10 % leaves BG/NBD,
  the worst, 2.4 points of room; a full year averages the seasons out, which is why a model
  that knows no seasons can be that close.
* P(alive) at the cut-off must rank the truly alive (``dropped_out_at`` NULL or on/after
  2025-01-01) above the dropped-out: ROC AUC >= 0.80 for MBG/NBD (0.821) and Pareto/NBD
  (0.816). BG/NBD assumes that nobody drops out before their first repeat purchase, so
  every one-time buyer gets P(alive) = 1 whatever their age; its AUC is 0.488 (chance) and
  the test asserts only that it ranks worse than MBG/NBD.
* Mean P(alive) against the true alive share (0.409): MBG/NBD 0.498, within 0.10. Pareto/NBD
  gives 0.595, 0.19 too high, so 0.10 does NOT hold for it; what holds is 0.20, which is
  what is asserted for it (a loose bound, stated as such: its level is biased upwards here
  even though its ranking is as good as MBG/NBD's).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from retainly import Workspace

pytestmark = pytest.mark.slow

CUT = date(2024, 12, 31)
HOLDOUT_END = date(2025, 12, 31)
MODELS = ("bgnbd", "mbgnbd", "paretonbd")
ALIVE_AUC = 0.80
COUNT_TOLERANCE = 0.10
MEAN_ALIVE_TOLERANCE = {"mbgnbd": 0.10, "paretonbd": 0.20}  # see the module docstring


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    ws = Workspace.open(f"duckdb:///{tmp_path_factory.mktemp('generated')}/shop.duckdb")
    ws.data.generate(5000, 42)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def backtest(shop):
    result = shop.predictions.backtest(CUT, HOLDOUT_END, list(MODELS))
    return {row["model"]: row for row in result.models}


@pytest.fixture(scope="module")
def alive_at_cut(shop):
    """customer_id -> truly alive at the end of the cut-off day."""
    return dict(shop.store.fetchall(
        "SELECT customer_id, dropped_out_at IS NULL OR dropped_out_at >= TIMESTAMP '2025-01-01' FROM generator_truth"))


@pytest.fixture(scope="module")
def p_alive(shop, alive_at_cut):
    """Per model: (P(alive) at the cut-off, truly alive), over the customers who had bought by then."""
    found = {}
    for model in MODELS:
        fit = shop.predictions.fit(model=model, as_of=CUT)
        assert fit.model == model, fit.reason
        scores = shop.predictions.scores(CUT).to_pandas()
        found[model] = (scores["p_alive"].to_numpy(), np.array([alive_at_cut[c] for c in scores["customer_id"]]))
    return found


@pytest.mark.parametrize("model", MODELS)
def test_holdout_purchases_within_ten_percent(backtest, model):
    result = backtest[model]
    assert result["customers"] == 2_697
    assert abs(result["aggregate_error"]) < COUNT_TOLERANCE, result["aggregate_error"]
    assert result["predicted_purchases"] == pytest.approx(result["actual_purchases"], rel=COUNT_TOLERANCE)
    # The tracking curve ends at the holdout's last day with the same totals.
    last = result["tracking"][-1]
    assert (last["date"], last["day"]) == ("2025-12-31", 365)
    assert last["actual"] == result["actual_purchases"]
    assert last["predicted"] == pytest.approx(result["predicted_purchases"])


def test_the_chosen_model_is_backtested_on_the_same_year(shop, backtest):
    # 2023-01-01 to 2025-12-31 is 1,095 days: auto holds out min(365, 1095 // 3) = 365 days, so
    # its choice is made on exactly this cut-off and holdout.
    fit = shop.predictions.fit()
    assert fit.as_of == date(2025, 12, 31) and fit.model in MODELS
    assert fit.reason.startswith("backtest on 365 days before 2025-12-31: ")
    chosen = next(row for row in fit.backtest if row["model"] == fit.model)
    assert abs(chosen["aggregate_error"]) < COUNT_TOLERANCE
    assert chosen["actual_purchases"] == backtest[fit.model]["actual_purchases"]
    assert chosen["rmse"] == pytest.approx(backtest[fit.model]["rmse"])


def test_true_alive_share(p_alive):
    _, alive = p_alive["mbgnbd"]
    assert len(alive) == 2_697
    assert alive.mean() == pytest.approx(0.409, abs=0.005)  # 1,103 of 2,697, measured


@pytest.mark.parametrize("model", ["mbgnbd", "paretonbd"])
def test_p_alive_ranks_the_truly_alive_first(p_alive, model):
    score, alive = p_alive[model]
    assert roc_auc_score(alive, score) >= ALIVE_AUC


@pytest.mark.parametrize("model", ["mbgnbd", "paretonbd"])
def test_mean_p_alive_is_near_the_true_share(p_alive, model):
    score, alive = p_alive[model]
    assert abs(score.mean() - alive.mean()) <= MEAN_ALIVE_TOLERANCE[model], (score.mean(), alive.mean())


def test_bgnbd_ranks_worse_than_mbgnbd(p_alive):
    # BG/NBD keeps every one-time buyer alive (P(alive) = 1), the MBG/NBD does not.
    bg_score, alive = p_alive["bgnbd"]
    mbg_score, _ = p_alive["mbgnbd"]
    assert roc_auc_score(alive, bg_score) < roc_auc_score(alive, mbg_score)
    assert roc_auc_score(alive, bg_score) < 0.6
