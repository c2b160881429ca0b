"""The learned candidate (retainly.scores.learned) and how the automatic choice treats it.

A small simulated shop (purchase days only, no store): 600 customers with first purchases
spread over 300 days, each buying as a Poisson process (rate Gamma(0.5, 1/20) per day) until
dropping out after a purchase with probability 0.2. What is checked, and why it can fail:

* no leak: purchases after the scoring date change nothing in the fit (the same ratios and
  parameters), while purchases before it do;
* the level is MBG/NBD's: the ratios average 1 weighted by MBG/NBD's expectation over the
  training window, by construction (module docstring), so the totals agree to rounding;
* a history the learner never saw gets MBG/NBD's expectation unchanged;
* ``choose_model`` picks the learned model only when its backtest wins by the chooser's rule
  (lowest RMSE, or within ``CLOSE_CALL`` of it and the best P(alive) ranking), given fixed
  backtest results;
* the backtest trains the learner as of the backtest's calibration end, never later.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from retainly.errors import ConvergenceError
from retainly.models import ModifiedBetaGeoModel
from retainly.scores import learned, scoring
from retainly.scores.backtest import BacktestData
from retainly.settings import ModelSettings

START, AS_OF = date(2024, 1, 1), date(2025, 2, 1)


def simulated_days(customers: int = 600, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    end = (AS_OF - START).days + 200  # purchases run on after AS_OF, to show they are not read
    for customer in range(1, customers + 1):
        day, rate = float(rng.integers(0, 300)), rng.gamma(0.5, 1 / 20)
        while day <= end:
            rows.append((customer, START + timedelta(days=int(day)), float(rng.gamma(2, 20))))
            if rng.random() < 0.2:
                break
            day += rng.exponential(1 / rate)
    frame = pd.DataFrame(rows, columns=["customer_id", "day", "spend"])
    frame["day"] = pd.to_datetime(frame["day"])
    return frame.groupby(["customer_id", "day"], as_index=False)["spend"].sum()


@pytest.fixture(scope="module")
def days():
    return simulated_days()


@pytest.fixture(scope="module")
def model(days):
    return learned.train(days, AS_OF, 91, "week")


def summary_at(days: pd.DataFrame, as_of: date) -> pd.DataFrame:
    seen = days[days["day"] <= pd.Timestamp(as_of)].groupby("customer_id")["day"]
    first, last, count = seen.min(), seen.max(), seen.size()
    return pd.DataFrame({"frequency": (count - 1).astype(float), "recency": (last - first).dt.days / 7.0,
                         "T": (pd.Timestamp(as_of) - first).dt.days / 7.0})


def test_purchases_after_the_scoring_date_change_nothing(days, model):
    changed = pd.concat([days[days["day"] <= pd.Timestamp(AS_OF)],
                         pd.DataFrame({"customer_id": [1, 2, 3], "day": pd.to_datetime([AS_OF + timedelta(days=1)] * 3),
                                       "spend": [1e6] * 3})])
    again = learned.train(changed, AS_OF, 91, "week")
    assert again.params_ == model.params_
    pd.testing.assert_series_equal(again.ratio_, model.ratio_)


def test_purchases_before_the_scoring_date_do_change_the_fit(days, model):
    # The same check can fail: one customer buying every day of the last month moves the fit.
    busy = pd.DataFrame({"customer_id": 1, "day": pd.date_range(AS_OF - timedelta(days=30), AS_OF), "spend": 10.0})
    changed = pd.concat([days[days["customer_id"] != 1], busy])
    again = learned.train(changed, AS_OF, 91, "week")
    assert again.params_ != model.params_


def test_the_learner_keeps_the_level_of_mbgnbd(days, model):
    summary = summary_at(days, AS_OF)
    window = model.training_["window_days"] / 7
    base = ModifiedBetaGeoModel.from_dict({"params": model.params_})
    total_learned = model.expected_purchases(window, summary).sum()
    total_base = base.expected_purchases(window, summary).sum()
    assert total_learned == pytest.approx(total_base, rel=1e-9)
    ratios = model.expected_purchases(window, summary) / base.expected_purchases(window, summary)
    assert ratios.std() > 0.01  # it does re-rank customers, not only copy MBG/NBD


def test_an_unseen_history_gets_mbgnbd_unchanged(model):
    unseen = pd.DataFrame({"frequency": [3.0], "recency": [1000 / 7], "T": [5000 / 7]})  # no customer is 5,000 days old
    base = ModifiedBetaGeoModel.from_dict({"params": model.params_})
    assert model.expected_purchases(13.0, unseen)[0] == base.expected_purchases(13.0, unseen)[0]


def test_too_short_a_history_is_a_clear_error(days):
    with pytest.raises(ConvergenceError, match="no cut-off before"):
        learned.train(days, START + timedelta(days=60), 91, "week")


def _result(name: str, rmse: float, auc: float) -> dict:
    return {"model": name, "rmse": rmse, "p_alive_auc": auc, "predicted_purchases": 100.0,
            "actual_purchases": 100.0, "aggregate_error": 0.0, "mae": rmse / 2}


@pytest.mark.parametrize(("learned_rmse", "learned_auc", "chosen"), [
    (0.90, 0.70, "learned"),   # the lowest RMSE, ranks as well as the others
    (1.10, 0.90, "mbgnbd"),    # ranks best but its RMSE is 10 % worse: not a close call
    (0.995, 0.60, "mbgnbd"),   # within 2 % of MBG/NBD's 1.0, but MBG/NBD ranks returning customers better
    (0.995, 0.80, "learned"),  # within 2 % and ranks better: the close-call rule picks it
])
def test_the_learned_model_is_chosen_only_when_its_backtest_wins(monkeypatch, learned_rmse, learned_auc, chosen):
    calibration = pd.DataFrame({"frequency": np.ones(100)})
    data = BacktestData(calibration, pd.DataFrame(), pd.DataFrame(), date(2024, 10, 1), AS_OF, "week")
    monkeypatch.setattr(scoring, "purchase_span", lambda store: (pd.Timestamp(START), pd.Timestamp(AS_OF)))
    monkeypatch.setattr(scoring, "backtest_data", lambda *args: data)
    monkeypatch.setattr(scoring, "evaluate", lambda *args: [
        _result("bgnbd", 1.05, 0.40), _result("mbgnbd", 1.00, 0.70), _result("paretonbd", 1.2, 0.75)])
    monkeypatch.setattr(scoring, "evaluate_learned", lambda *args: _result("learned", learned_rmse, learned_auc))
    name, why, results = scoring.choose_model(None, AS_OF, ModelSettings(horizon_days=91))
    assert name == chosen, why
    assert [r["model"] for r in results] == ["bgnbd", "mbgnbd", "paretonbd", "learned"]
    assert "MBG/NBD with a learned correction" in why


def test_the_backtest_trains_the_learner_before_its_calibration_end(monkeypatch):
    seen = []

    def fake_fit(store, as_of, horizon_days, unit, penalizer):
        seen.append((as_of, horizon_days))
        raise ConvergenceError("stop here")

    monkeypatch.setattr(learned, "fit_learned", fake_fit)
    data = BacktestData(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), date(2024, 10, 1), AS_OF, "week")
    result = learned.evaluate_learned(None, data)
    assert seen == [(date(2024, 10, 1), (AS_OF - date(2024, 10, 1)).days)]
    assert result == {"model": "learned", "error": "stop here"}


def test_fit_first_falls_back_when_the_learner_cannot_be_fitted(days):
    def fails():
        raise ConvergenceError("too little history")

    summary = summary_at(days, AS_OF)
    fitted, name, why = scoring._fit_first(["learned", "mbgnbd"], summary, 7.0, 0.0, "chosen", fails)
    assert name == "mbgnbd" and isinstance(fitted, ModifiedBetaGeoModel)
    assert why == "chosen; MBG/NBD with a learned correction could not be fitted on all the history (too little history)"
