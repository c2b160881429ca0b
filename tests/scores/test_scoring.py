"""`ws.predictions.fit` and friends on the hand-checked model shop (tests/features/model_shop.py).

Runs on DuckDB and PostgreSQL. As of 2024-03-31 the shop has four customers and two repeat
buyers (P and S), far below the default ``min_repeat_buyers`` of 50, so scoring falls back to
the heuristics of ``retainly.models.heuristic``; their numbers are worked out by hand below from
the rules in that module's docstring, on the summary checked in tests/features/test_model_summary.py:

    P  frequency 2, recency 4 weeks, T 12 weeks, monetary 100 (gross), bought 350, returned 20
    Q  frequency 0, recency 0,       T 11 weeks,                      bought 200, returned 50
    R  frequency 0, recency 0,       T 0,                             bought 70,  returned 0
    S  frequency 2, recency = T = 59/7 weeks, monetary 45,            bought 130, returned 10
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from retainly import Workspace
from retainly.errors import ConvergenceError, InputError, RetainlyError
from retainly.models import PURCHASE_MODELS
from retainly.models.clv import DAYS_PER_MONTH
from retainly.results import FitRecord
from retainly.settings import AnalysisSettings, ModelSettings
from tests.features.model_shop import AS_OF, LAST_ORDER_DAY, MODEL_SHOP, customer_ids, load_model_shop

HEURISTIC_REASON = "2 repeat buyers, fewer than the 50 a model needs: transparent heuristics instead"
PREDICTION_KEYS = {"as_of", "model", "p_alive", "expected_orders", "p_order", "expected_spend", "clv",
                   "next_order_date", "confidence", "horizon_days", "order_chance", "order_window_days"}

# The heuristics by hand (weeks; default horizon 365 days = 365/7 weeks; a month 30.4375 days;
# 12 months of CLV, round(365 / 30.4375) = 12, discounted at 1 % a month).
HORIZON = 365 / 7
PER_MONTH = DAYS_PER_MONTH / 7
DISCOUNTED_MONTHS = sum(1.01 ** -k for k in range(1, 13))  # 11.2551
# The shop's rhythm is the median of the repeat buyers' own: P 4/2 = 2 weeks, S (59/7)/2 = 59/14
# weeks -> (2 + 59/14) / 2 = 87/28 weeks (3.107). Its mean (gross) spend: (100 + 45) / 2 = 72.5.
SHOP_RHYTHM = 87 / 28
# Returns (retainly.models.returns): the shop's rate R = (20 + 50 + 0 + 10) / (350 + 200 + 70 + 130)
# = 80 / 750; k = σ²/τ² from a straight line through (1/bought, (returned/bought - R)²) -- np.polyfit,
# not the nnls retainly uses; both coefficients come out positive (τ² 0.00719, σ² 0.2177), k 30.27.
# A customer keeps 1 - (returned + k R) / (bought + k) of the gross spend: P 0.9389, Q 0.7688,
# R 0.9678, S 0.9175.
_BOUGHT, _RETURNED = np.array([350.0, 200.0, 70.0, 130.0]), np.array([20.0, 50.0, 0.0, 10.0])
SHOP_RETURN_RATE = 80 / 750
_SIGMA2, _TAU2 = np.polyfit(1 / _BOUGHT, (_RETURNED / _BOUGHT - SHOP_RETURN_RATE) ** 2, 1)
RETURN_WEIGHT = _SIGMA2 / _TAU2
KEPT = dict(zip("PQRS", 1 - (_RETURNED + RETURN_WEIGHT * SHOP_RETURN_RATE) / (_BOUGHT + RETURN_WEIGHT)))


def _heuristic(rhythm: float, gap: float, spend: float) -> dict:
    """P(alive) = min(1, 2^-(gap/rhythm - 2)), expected = P(alive) t / rhythm, CLV month by month."""
    alive = min(1.0, 2.0 ** -(gap / rhythm - 2))
    wait_days = math.ceil(rhythm * math.log(2) * 7)  # the median wait, rhythm ln 2, in whole days
    return {"p_alive": alive, "expected_orders": alive * HORIZON / rhythm,
            "p_order": alive * -math.expm1(-HORIZON / rhythm), "expected_spend": spend,
            "clv": alive * PER_MONTH / rhythm * DISCOUNTED_MONTHS * spend,
            "next_order_date": AS_OF + timedelta(days=wait_days)}


EXPECTED = {
    # P: own rhythm 4 / 2 = 2 weeks, gap 12 - 4 = 8 weeks = 4 rhythms -> P(alive) 2^-2 = 0.25;
    # expected 0.25 * 52.14 / 2 = 6.518 purchase days; next order after ceil(2 ln 2 * 7 = 9.7) = 10 days
    # (Apr 10); spend: its own mean repeat spend 100 (Gamma-Gamma cannot be fitted on two repeat
    # buyers, so spend is the heuristic's too) times the 0.9389 it keeps = 93.89;
    # CLV 0.25 * 4.348 / 2 * 11.255 * 93.89 = 574.38.
    "P": _heuristic(2.0, 8.0, 100.0 * KEPT["P"]),
    # Q: one-time buyer -> the shop's rhythm 87/28; gap 11 weeks = 3.54 rhythms -> 2^-1.54 = 0.344;
    # next order after ceil(87/28 ln 2 * 7 = 15.08) = 16 days (Apr 16); spend: the shop's mean 72.5
    # times the 0.7688 Q keeps (a quarter of Q's one purchase came back).
    "Q": _heuristic(SHOP_RHYTHM, 11.0, 72.5 * KEPT["Q"]),
    # R: first bought on the as-of date: gap 0 -> P(alive) 1.
    "R": _heuristic(SHOP_RHYTHM, 0.0, 72.5 * KEPT["R"]),
    # S: own rhythm 59/14 weeks, gap 0 -> 1; next order after ceil(59/14 ln 2 * 7 = 20.4) = 21 days.
    "S": _heuristic(59 / 14, 0.0, 45.0 * KEPT["S"]),
}


@pytest.fixture
def shop(model_shop_store):
    return model_shop_store  # the model shop alone, in a fresh store of its own on each engine (tests/conftest.py)


@pytest.fixture
def settings_file(tmp_path):
    """Write a settings file with the given [models] lines; return its path."""
    def write(*lines: str):
        path = tmp_path / "retainly.toml"
        path.write_text("[models]\n" + "".join(f"{line}\n" for line in lines), encoding="utf-8")
        return path
    return write


@pytest.fixture
def few_buyers_shop(store_url, settings_file):
    """The model shop opened with min_repeat_buyers = 1, so the models are tried on it."""
    ws = load_model_shop(Workspace.open(store_url, settings=settings_file("min_repeat_buyers = 1")))
    yield ws
    ws.close()


def _rows(ws, as_of) -> dict[str, dict]:
    names = {number: name for name, number in customer_ids(ws).items()}
    return {names[row["customer_id"]]: row for row in ws.predictions.scores(as_of).to_pylist()}


def _count(ws, sql: str) -> int:
    return ws.store.fetchone(sql)[0]


def test_few_repeat_buyers_get_the_heuristics_and_are_told_why(shop):
    fit = shop.predictions.fit(as_of=AS_OF)
    assert (fit.model, fit.confidence, fit.spend_model) == ("heuristic", "heuristic", "heuristic")
    # The reason names the count and the threshold; Gamma-Gamma's failure on two repeat buyers is added.
    # Two buyers cannot pin down p: the search runs off towards p -> infinity, and whether L-BFGS-B reaches
    # the edge of the search ("drove p to the edge") or gives up on a flat likelihood just short of it
    # ("stopped ... still moving most in p") depends on SciPy's version (1.17.1 stops at p = 1.5e10).
    spend = fit.reason.removeprefix(HEURISTIC_REASON + "; spend: ")
    assert spend != fit.reason and spend.startswith(("the Gamma-Gamma fit drove p", "the Gamma-Gamma fit stopped"))
    assert "the data do not pin down the spend (p" in spend
    assert (fit.as_of, fit.customers, fit.repeat_buyers, fit.horizon_days) == (date(2024, 3, 31), 4, 2, 365)
    assert fit.backtest is None and fit.log_likelihood is None
    assert fit.params == pytest.approx({"shop_rhythm": SHOP_RHYTHM, "mean_spend": 72.5})
    assert fit.spend_params == pytest.approx({"shop_rhythm": SHOP_RHYTHM, "mean_spend": 72.5,
                                              "return_rate": SHOP_RETURN_RATE, "return_weight": RETURN_WEIGHT})
    assert _count(shop, "SELECT COUNT(*) FROM model_fits") == 1
    rows = _rows(shop, AS_OF)
    assert sorted(rows) == ["P", "Q", "R", "S"]  # one row per customer who had bought by the as-of date
    assert {(row["model"], row["confidence"], row["fit_id"], row["as_of"]) for row in rows.values()} == {
        ("heuristic", "heuristic", fit.fit_id, AS_OF)}


def test_heuristic_numbers_match_the_hand_calculation(shop):
    shop.predictions.fit(as_of=AS_OF)
    rows = _rows(shop, AS_OF)
    for name, hand in EXPECTED.items():
        expected = dict(hand)
        assert rows[name]["next_order_date"] == expected.pop("next_order_date"), name
        assert {key: rows[name][key] for key in expected} == pytest.approx(expected, rel=1e-9), name
    # The figures spelled out in the comment above.
    assert (rows["P"]["p_alive"], round(rows["P"]["expected_orders"], 3), round(rows["P"]["clv"], 2)) == (
        0.25, 6.518, 574.38)
    assert round(RETURN_WEIGHT, 2) == 30.27 and [round(KEPT[c], 4) for c in "PQRS"] == [0.9389, 0.7688, 0.9678, 0.9175]
    assert round(rows["Q"]["p_alive"], 3) == 0.344


def test_time_unit_day_and_a_shorter_horizon(store_url, settings_file):
    # Days instead of weeks: the rhythms are 14 and 21.75 days; P(alive) does not depend on the unit.
    # A 90-day horizon: P expects 0.25 * 90 / 14 purchase days; CLV over round(90 / 30.4375) = 3
    # months at 2 %: 0.25 * 30.4375 / 14 * (1.02^-1 + 1.02^-2 + 1.02^-3) * 100 * P's kept share.
    path = settings_file('time_unit = "day"', "horizon_days = 90", "discount_rate = 0.02")
    with load_model_shop(Workspace.open(store_url, settings=path)) as ws:
        fit = ws.predictions.fit(as_of=AS_OF)
        assert (fit.time_unit, fit.horizon_days, fit.discount_rate) == ("day", 90, 0.02)
        assert fit.params["shop_rhythm"] == pytest.approx(87 / 4)
        row = _rows(ws, AS_OF)["P"]
        assert row["p_alive"] == pytest.approx(0.25)
        assert row["expected_orders"] == pytest.approx(0.25 * 90 / 14)
        assert row["clv"] == pytest.approx(0.25 * DAYS_PER_MONTH / 14 * sum(1.02 ** -k for k in (1, 2, 3)) * 100
                                           * KEPT["P"])
        assert row["next_order_date"] == date(2024, 4, 10)  # ceil(14 ln 2 = 9.7) days


def test_horizon_argument_overrides_the_settings(shop):
    fit = shop.predictions.fit(as_of=AS_OF, horizon_days=182)
    assert fit.horizon_days == 182
    assert _rows(shop, AS_OF)["P"]["expected_orders"] == pytest.approx(0.25 * 182 / 7 / 2)  # P(alive) t / rhythm


def test_scoring_the_same_date_again_replaces_its_rows_and_adds_a_fit(shop):
    first = shop.predictions.fit(as_of=AS_OF)
    second = shop.predictions.fit(as_of=AS_OF)
    assert second.fit_id == first.fit_id + 1
    assert _count(shop, "SELECT COUNT(*) FROM model_fits") == 2
    assert _count(shop, "SELECT COUNT(*) FROM customer_scores") == 4  # no duplicates
    assert {row["fit_id"] for row in _rows(shop, AS_OF).values()} == {second.fit_id}
    assert shop.predictions.latest_fit(AS_OF).fit_id == second.fit_id
    # Another date keeps the first date's rows: by Jul 1 U and V have bought too (6 customers).
    later = shop.predictions.fit(as_of=LAST_ORDER_DAY)
    assert later.customers == 6
    assert _count(shop, "SELECT COUNT(*) FROM customer_scores") == 4 + 6
    assert shop.predictions.latest_fit().fit_id == later.fit_id
    assert shop.predictions.latest_fit(AS_OF).fit_id == second.fit_id
    assert shop.predictions.latest_fit(AS_OF).params == pytest.approx(second.params)  # JSON decoded


def test_ensure_scores_rescores_after_an_import_and_not_otherwise(shop, tmp_path):
    assert shop.predictions.ensure(AS_OF) == AS_OF  # nothing stored yet: scores
    assert _count(shop, "SELECT COUNT(*) FROM model_fits") == 1
    shop.predictions.ensure(AS_OF)
    shop.predictions.scores(AS_OF)
    assert _count(shop, "SELECT COUNT(*) FROM model_fits") == 1  # fresh: kept
    # (an import in the same second as the fit: test_an_import_in_the_same_second_as_the_fit_still_makes_it_stale)
    extra = tmp_path / "more_orders.csv"
    header = (MODEL_SHOP / "orders.csv").read_text(encoding="utf-8").splitlines()[0]
    row = "Q2,Q,2024-03-30 12:00:00,completed,EUR,online,,,0,0,,1,P1,Product,1,10.00,,,merchandise"
    extra.write_text(f"{header}\n{row}\n", encoding="utf-8")
    assert shop.data.import_file("orders", extra).rows_rejected == 0
    shop.predictions.ensure(AS_OF)
    assert _count(shop, "SELECT COUNT(*) FROM model_fits") == 2  # stale after the import: scored again
    assert shop.predictions.latest_fit(AS_OF).repeat_buyers == 3  # Q bought again on Mar 30
    shop.predictions.ensure(AS_OF)
    assert _count(shop, "SELECT COUNT(*) FROM model_fits") == 2
    # Without a date: the last purchase order's day.
    assert shop.predictions.ensure() == LAST_ORDER_DAY
    assert shop.predictions.latest_fit().as_of == LAST_ORDER_DAY


def _clock(moment):
    """A stand-in for the datetime class whose now() is ``moment``."""
    from datetime import datetime

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return moment

    return Clock


def test_an_import_in_the_same_second_as_the_fit_still_makes_it_stale(shop, monkeypatch, tmp_path):
    from datetime import datetime

    from retainly.ingest import load
    from retainly.scores import scoring

    monkeypatch.setattr(scoring, "datetime", _clock(datetime(2030, 1, 1, 12, 0, 0, 300_000)))
    shop.predictions.fit(as_of=AS_OF)  # fitted at 12:00:00.3
    monkeypatch.setattr(load, "datetime", _clock(datetime(2030, 1, 1, 12, 0, 0, 800_000)))
    extra = tmp_path / "more_orders.csv"
    header = (MODEL_SHOP / "orders.csv").read_text(encoding="utf-8").splitlines()[0]
    row = "Q2,Q,2024-03-30 12:00:00,completed,EUR,online,,,0,0,,1,P1,Product,1,10.00,,,merchandise"
    extra.write_text(f"{header}\n{row}\n", encoding="utf-8")
    shop.data.import_file("orders", extra)  # finished at 12:00:00.8, after the fit
    shop.predictions.ensure(AS_OF)
    assert _count(shop, "SELECT COUNT(*) FROM model_fits") == 2


def test_customer_view_has_the_predictions(shop):
    predictions = shop.customers.view("P", AS_OF).predictions
    assert set(predictions.to_dict()) == PREDICTION_KEYS
    assert (predictions.as_of, predictions.model, predictions.confidence) == (AS_OF, "heuristic", "heuristic")
    assert predictions.horizon_days == 365
    assert predictions.p_alive == pytest.approx(0.25)
    assert predictions.next_order_date == date(2024, 4, 10)
    # U first bought after the as-of date: no prediction for that date.
    assert shop.customers.view("U", AS_OF).predictions is None
    # By default the as-of date is the last order's day, and V (first bought May 1) is scored.
    assert shop.customers.view("V").predictions.as_of == LAST_ORDER_DAY


def test_customer_who_never_bought_has_no_predictions(shop):
    assert shop.customers.view("W").predictions is None  # W has a customer record and no order


def test_customer_view_of_a_store_without_orders_has_no_predictions(workspace):
    workspace.data.import_file("customers", MODEL_SHOP / "customers.csv")
    assert workspace.predictions.latest_fit() is None
    assert workspace.customers.view("P").predictions is None
    assert workspace.predictions.latest_fit() is None  # nothing to score, so nothing was scored


def test_unknown_model_and_empty_history_are_input_errors(shop):
    with pytest.raises(InputError) as error:
        shop.predictions.fit(model="foo", as_of=AS_OF)
    assert str(error.value) == "`model` foo: choose one of auto, bgnbd, mbgnbd, paretonbd, heuristic"
    with pytest.raises(InputError) as error:
        shop.predictions.fit(as_of=date(2024, 1, 6))  # the first purchase is on Jan 7
    assert str(error.value) == "no customer had bought by 2024-01-06; import orders first or pick a later `as_of`"
    assert _count(shop, "SELECT COUNT(*) FROM model_fits") == 0


def _fitted_or_told_why(ws, fit: FitRecord, model: str) -> None:
    """A named model is fitted, or the heuristics stand in and the reason says why; the rows are whole."""
    title = PURCHASE_MODELS[model].title
    if fit.model == model:
        assert fit.confidence == "model" and fit.reason.startswith("chosen with --model")
        assert fit.log_likelihood is not None
    else:
        assert (fit.model, fit.confidence) == ("heuristic", "heuristic")
        assert fit.reason.startswith(f"chosen with --model; {title} could not be fitted on all the history "
                                     f"(the {title} fit "), fit.reason
        assert "; heuristics instead" in fit.reason
    rows = _rows(ws, fit.as_of).values()
    assert len(rows) == fit.customers
    for row in rows:
        assert 0 <= row["p_alive"] <= 1 and math.isfinite(row["expected_orders"]) and math.isfinite(row["clv"]), row


@pytest.mark.parametrize("model", sorted(PURCHASE_MODELS))
def test_a_named_model_is_fitted_or_says_why(few_buyers_shop, model):
    # As of Mar 31 two repeat buyers (P, S) meet min_repeat_buyers = 1, so the model is tried; on
    # so little data its likelihood may have no interior maximum, and then the heuristics stand in.
    fit = few_buyers_shop.predictions.fit(model=model, as_of=AS_OF)
    assert fit.repeat_buyers == 2 and fit.customers == 4
    _fitted_or_told_why(few_buyers_shop, fit, model)


def test_a_named_model_on_the_whole_history(few_buyers_shop):
    # By Jul 1: six customers, four repeat buyers (P, R, S, U).
    fit = few_buyers_shop.predictions.fit(model="bgnbd", as_of=LAST_ORDER_DAY)
    assert (fit.customers, fit.repeat_buyers) == (6, 4)
    _fitted_or_told_why(few_buyers_shop, fit, "bgnbd")


def test_auto_backtests_even_a_tiny_history(few_buyers_shop):
    # History Jan 7 to Mar 31 = 84 days; the holdout is min(365, 84 // 3) = 28 days, cut at Mar 3,
    # by which P is a repeat buyer (1 >= min_repeat_buyers), so the models are backtested.
    fit = few_buyers_shop.predictions.fit(as_of=AS_OF)
    assert [result["model"] for result in fit.backtest] == list(PURCHASE_MODELS)
    assert few_buyers_shop.predictions.latest_fit(AS_OF).backtest == fit.backtest  # stored as JSON, read back
    if fit.model in PURCHASE_MODELS:
        assert fit.reason.startswith("backtest on 28 days before 2024-03-31: ")
        assert PURCHASE_MODELS[fit.model].title in fit.reason
    else:  # the model the backtest chose could not be fitted on the whole history
        assert fit.model == "heuristic" and " could not be fitted on all the history (" in fit.reason


@pytest.mark.parametrize(("lines", "message"), [
    (['time_unit = "month"'], "[models] time_unit = 'month': choose one of day, week"),
    (["discount_rate = 1.5"], "[models] discount_rate = 1.5: give a number from 0 up to (not including) 1"),
    (["penalizer = -0.1"], "[models] penalizer = -0.1: give a number from 0 up to (not including) 1"),
    (["discount_rate = true"], "[models] discount_rate = True: give a number from 0 up to (not including) 1"),
    (["min_repeat_buyers = 0"], "[models] min_repeat_buyers = 0: give a whole number of at least 1"),
    (['horizon_days = "1y"'], "[models] horizon_days = '1y': give a whole number of at least 1"),
    (["order_window_days = 0"], "[models] order_window_days = 0: give a whole number of at least 1"),
    (["check_customers = 0.5"], "[models] check_customers = 0.5: give a whole number of at least 1"),
    (["horizon = 90", "speed = 2"], "[models] has no setting horizon, speed; known: time_unit, horizon_days, "
                                    "discount_rate, min_repeat_buyers, penalizer, order_window_days, "
                                    "check_customers"),
])
def test_settings_errors_are_one_line(settings_file, lines, message):
    path = settings_file(*lines)
    with pytest.raises(InputError) as error:
        AnalysisSettings.load(path)
    assert str(error.value) == f"{path} {message}"
    assert "\n" not in str(error.value)


def test_settings_defaults_and_values(settings_file):
    assert AnalysisSettings.load(settings_file()).models == ModelSettings()
    assert ModelSettings() == ModelSettings("week", 365, 0.01, 50, 0.0, 90, 1_000_000)  # as docs/models.md says
    path = settings_file('time_unit = "day"', "horizon_days = 90", "discount_rate = 0", "min_repeat_buyers = 7",
                         "penalizer = 0.001", "order_window_days = 30", "check_customers = 5000")
    assert AnalysisSettings.load(path).models == ModelSettings("day", 90, 0.0, 7, 0.001, 30, 5000)


def test_a_bad_settings_file_stops_scoring(store_url, settings_file):
    path = settings_file('time_unit = "month"')
    with load_model_shop(Workspace.open(store_url)):  # imports read the settings file too: load without it
        pass
    with Workspace.open(store_url, settings=path) as ws:
        with pytest.raises(InputError, match=r"time_unit = 'month': choose one of day, week$"):
            ws.predictions.fit(as_of=AS_OF)


# -- when a model fails or misbehaves ----------------------------------------------------------
def test_a_model_that_cannot_be_fitted_falls_back_with_the_error(few_buyers_shop, monkeypatch):
    from retainly.scores import scoring

    real = scoring.fit_model

    def failing(name, summary, unit_days, penalizer=0.0):
        if name != "heuristic":
            raise ConvergenceError("the MBG/NBD fit went nowhere")
        return real(name, summary, unit_days, penalizer)

    monkeypatch.setattr(scoring, "fit_model", failing)
    fit = few_buyers_shop.predictions.fit(model="mbgnbd", as_of=AS_OF)
    assert (fit.model, fit.confidence) == ("heuristic", "heuristic")
    assert fit.reason.startswith("chosen with --model; MBG/NBD could not be fitted on all the history (the MBG/NBD "
                                 "fit went nowhere); heuristics instead")
    assert len(_rows(few_buyers_shop, AS_OF)) == 4


def _backtest_result(model: str, rmse: float) -> dict:
    return {"model": model, "rmse": rmse, "p_alive_auc": 0.7, "predicted_purchases": 10.0, "actual_purchases": 10.0,
            "aggregate_error": 0.0}


def test_choose_model_skips_a_model_with_nan_error(monkeypatch, tmp_path):
    from retainly.scores import scoring

    monkeypatch.setattr(scoring, "evaluate", lambda data, models, penalizer=0.0, **_: [
        _backtest_result("bgnbd", float("nan")), _backtest_result("mbgnbd", 1.0), _backtest_result("paretonbd", 1.1)])
    with load_model_shop(Workspace.open(f"duckdb:///{tmp_path}/s.duckdb")) as ws:
        model, why, _ = scoring.choose_model(ws.store, AS_OF, ModelSettings(min_repeat_buyers=1))
    assert model == "mbgnbd"


def test_nan_predictions_are_not_stored_as_an_engine_error(monkeypatch, tmp_path):
    from retainly.scores import scoring
    from tests.scores.misbehaving import NaNModel

    monkeypatch.setattr(scoring, "fit_model", lambda name, summary, unit_days, penalizer=0.0:
                        NaNModel(unit_days).fit(summary))
    with load_model_shop(Workspace.open(f"duckdb:///{tmp_path}/s.duckdb")) as ws:
        try:
            fit = ws.predictions.fit(model="heuristic", as_of=AS_OF)
        except RetainlyError:
            return  # a clear, one-line error is fine too
        assert all(math.isfinite(row["expected_orders"]) for row in _rows(ws, AS_OF).values()), fit
