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
from tests.conftest import generated_copy

pytestmark = pytest.mark.slow

CUT = date(2024, 12, 31)
HOLDOUT_END = date(2025, 12, 31)
MODELS = ("bgnbd", "mbgnbd", "paretonbd")
ALIVE_AUC = 0.80
COUNT_TOLERANCE = 0.10
MEAN_ALIVE_TOLERANCE = {"mbgnbd": 0.10, "paretonbd": 0.20}  # see the module docstring


@pytest.fixture(scope="module")
def shop(tmp_path_factory, store_templates):
    # A copy of a new DuckDB store into which ws.data.generate(5000, 42) was made (tests/conftest.py).
    with generated_copy(store_templates, "duckdb", 5000, 42, tmp_path_factory.mktemp("generated")) as (url, _):
        ws = Workspace.open(url)
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


# -- the calibrated chance to order, stages and the call list, as of the cut-off ---------------
#
# Scored with the automatic choice (MBG/NBD) as of 2024-12-31, the chance to order within 90
# days against who really ordered in the 90 days after (2025-01-01 to 2025-03-31), read from the
# store. MBG/NBD's own chance is close here, and a map learnt on 2024's earlier windows did not
# beat it on the latest one (Brier 0.1324 against 0.1286), so the chance shown is the model's
# own. Measured: mean chance 0.276 against 0.240 who ordered (the quarter after the cut-off is
# quieter than the one before), the largest gap in a tenth of the customers 0.094; the bounds
# below are 0.05 and 0.12. The heuristics' chance is far off, and there the map is kept and
# helps (test_calibration_fixes_a_chance_that_is_off).
WINDOW_END = date(2025, 3, 31)
MEAN_CHANCE_TOLERANCE = 0.05
DECILE_TOLERANCE = 0.12


@pytest.fixture(scope="module")
def chance_at_cut(shop):
    """(scores with who ordered in the 90 days after the cut-off, stages, call list) as of the cut-off."""
    from retainly.features.model_summary import holdout_activity

    fit = shop.predictions.fit(as_of=CUT)
    assert fit.order_window_days == 90, fit.reason
    scores = shop.predictions.scores(CUT).to_pandas()
    activity = holdout_activity(shop.store, CUT, WINDOW_END)
    scores["ordered"] = scores["customer_id"].isin(activity.loc[activity["purchases"] > 0, "customer_id"])
    shop.lifecycle.compute(CUT)  # from these predictions, whatever earlier tests stored for the date
    stages = {row.customer_id: row.stage for row in shop.lifecycle.customers(CUT)}
    scores["stage"] = scores["customer_id"].map(stages)
    return scores, shop.lifecycle.call_list(CUT, 50)


def test_chance_to_order_matches_who_ordered(chance_at_cut):
    from retainly.scores.calibration import reliability

    scores, _ = chance_at_cut
    assert abs(scores["order_chance"].mean() - scores["ordered"].mean()) <= MEAN_CHANCE_TOLERANCE
    for row in reliability(scores["order_chance"].to_numpy(), scores["ordered"].to_numpy()):
        assert abs(row["predicted"] - row["observed"]) <= DECILE_TOLERANCE, row


def test_calibration_fixes_a_chance_that_is_off(shop, chance_at_cut):
    # The heuristics fitted as of the cut-off: their own chance to order within 90 days is far from
    # what happened; calibrate() keeps a map (learnt on 2024's windows only) and it lowers the
    # Brier score on the 90 days after the cut-off. For MBG/NBD it declines, with the reason.
    from retainly.features.model_summary import model_summary
    from retainly.scores.backtest import fit_model
    from retainly.scores.calibration import brier, calibrate, raw_order_chance

    scores, _ = chance_at_cut
    settings = shop.settings.models
    summary = model_summary(shop.store, CUT, settings.time_unit)
    ordered = summary["customer_id"].map(scores.set_index("customer_id")["ordered"]).to_numpy(float)
    heuristics = fit_model("heuristic", summary, 7.0)
    calibration, note = calibrate(shop.store, CUT, heuristics, settings, 90)
    assert calibration is not None, note
    raw = raw_order_chance(heuristics, summary, 90 / 7)
    assert brier(calibration.apply(raw), ordered) < brier(raw, ordered) - 0.02  # measured 0.132 against 0.210
    mbgnbd = fit_model("mbgnbd", summary, 7.0)
    declined, note = calibrate(shop.store, CUT, mbgnbd, settings, 90)
    assert declined is None and "did not improve it on the latest window" in note


def test_a_one_time_buyer_silent_for_a_year_is_not_likely_to_order(shop, chance_at_cut):
    from retainly.services.predictions import LIKELY_TO_ORDER

    scores, _ = chance_at_cut
    from retainly.features.model_summary import model_summary

    summary = model_summary(shop.store, CUT, "day")  # one purchase day (frequency 0), at least 365 days ago
    year_ago = summary.loc[(summary["frequency"] == 0) & (summary["T"] >= 365), "customer_id"].tolist()
    assert len(year_ago) > 100
    chances = scores.set_index("customer_id").loc[year_ago, "order_chance"]
    assert (chances < LIKELY_TO_ORDER).all(), chances.max()
    # and they are indeed unlikely: fewer than one in ten ordered in the 90 days
    assert scores.set_index("customer_id").loc[year_ago, "ordered"].mean() < 0.1


def test_lost_customers_have_a_low_chance_to_order(chance_at_cut):
    from retainly.services.predictions import LIKELY_TO_ORDER

    scores, _ = chance_at_cut
    by_stage = scores.groupby("stage")["order_chance"]
    # measured: lost mean 0.033, max 0.150; active mean 0.654
    assert by_stage.max()["lost"] < LIKELY_TO_ORDER
    assert by_stage.mean()["lost"] < by_stage.mean()["lapsed"] < by_stage.mean()["at_risk"] < by_stage.mean()["active"]


def test_the_call_list_follows_its_rule(chance_at_cut):
    from retainly.segments.call_list import DRIFTING_STAGES, MAX_CHANCE, MIN_CHANCE

    scores, calls = chance_at_cut
    assert len(calls) == 50
    assert all(c.stage in DRIFTING_STAGES and MIN_CHANCE <= c.order_chance <= MAX_CHANCE for c in calls)
    saveable = [c.saveable_value for c in calls]
    assert saveable == sorted(saveable, reverse=True)
    assert all(c.saveable_value == pytest.approx((c.clv or 0) * (1 - c.order_chance)) for c in calls)


def test_the_call_list_finds_customers_still_alive_and_valuable(shop, alive_at_cut, chance_at_cut):
    # Against the generator's truth and the year after the cut-off: the call list's 50 customers
    # against the 50 biggest past spenders of the RFM segments the old list used ("Can't Lose
    # Them", "At Risk"). Measured: alive 0.40 against 0.02; spent in the year after 161 against 2.
    from retainly.features.model_summary import holdout_activity

    _, calls = chance_at_cut
    rfm = shop.rfm.scores(CUT).to_pandas()
    old = rfm[rfm["segment"].isin(["Can't Lose Them", "At Risk"])].sort_values(
        ["monetary", "customer_id"], ascending=[False, True]).head(50)["customer_id"].tolist()
    listed = [c.customer_id for c in calls]
    spend = holdout_activity(shop.store, CUT, HOLDOUT_END).set_index("customer_id")["spend"]
    alive_share = lambda ids: np.mean([alive_at_cut[c] for c in ids])  # noqa: E731
    later_spend = lambda ids: np.mean([spend.get(c, 0.0) for c in ids])  # noqa: E731
    assert alive_share(listed) >= 5 * max(alive_share(old), 0.02)
    assert later_spend(listed) >= 5 * max(later_spend(old), 1.0)
