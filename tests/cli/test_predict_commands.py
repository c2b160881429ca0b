"""`retainly score`, `retainly backtest` and the predictions in `customer show`, through the console script.

The store is the hand-checked model shop (tests/features/model_shop.py); its summary and the
heuristics' numbers are checked by hand in tests/features/test_model_summary.py and
tests/scores/test_scoring.py, which the figures below reuse.
"""

import json
import math

import pytest

from retainly.cli.commands.predict import horizon_days
from retainly.errors import InputError
from tests.cli.running import run
from tests.features.model_shop import MODEL_SHOP

FIT_KEYS = {"fit_id", "as_of", "model", "time_unit", "params", "spend_model", "spend_params", "log_likelihood",
            "customers", "repeat_buyers", "horizon_days", "discount_rate", "confidence", "reason", "backtest",
            "fitted_at", "order_window_days", "calibration"}
METRIC_KEYS = {"model", "params", "log_likelihood", "customers", "predicted_purchases", "actual_purchases",
               "aggregate_error", "mae", "rmse", "brier", "roc_auc", "p_alive_auc", "predicted_revenue",
               "actual_revenue", "revenue_error", "spend_mae", "tracking", "reliability", "calibration"}
CALIBRATED_KEYS = {"calibrated_brier", "calibrated_roc_auc", "calibrated_reliability"}  # when a map could be learnt
HORIZON_ERROR = "error: --horizon {!r} is not a horizon; write a number and a unit, e.g. 90d, 26w, 12m or 1y\n"


def import_model_shop(url: str) -> None:
    path = url.removeprefix("duckdb:///")
    for kind in ("customers", "orders", "returns"):
        assert run(["--db", path, "import", kind, str(MODEL_SHOP / f"{kind}.csv")]) == 0


@pytest.fixture
def db(tmp_path, store_templates):
    """A store of its own holding the model shop, imported through the command line into a new store
    (once per session; each test gets a copy of that store, tests/conftest.py)."""
    with store_templates.copy("duckdb", "cli-model-shop", import_model_shop, tmp_path, "shop.duckdb") as (url, _):
        yield url.removeprefix("duckdb:///")


def test_score_json(db, capsys):
    capsys.readouterr()
    assert run(["--db", db, "score", "--json"]) == 0
    fit = json.loads(capsys.readouterr().out)
    assert set(fit) == FIT_KEYS
    # The default as-of date is the last order's day, Jul 1; by then P, R, S and U bought again:
    # 4 repeat buyers of 6 customers, fewer than 50, so the heuristics.
    assert (fit["as_of"], fit["model"], fit["confidence"]) == ("2024-07-01", "heuristic", "heuristic")
    assert (fit["customers"], fit["repeat_buyers"], fit["horizon_days"]) == (6, 4, 365)
    assert fit["reason"].startswith("4 repeat buyers, fewer than the 50 a model needs: transparent heuristics instead")


def test_score_table_with_horizon_and_as_of(db, capsys):
    capsys.readouterr()
    assert run(["--db", db, "score", "--as-of", "2024-03-31", "--horizon", "6m"]) == 0
    out = capsys.readouterr().out
    assert "model fitted on purchases up to 2024-03-31" in out
    assert "predictions over the next 183 days" in out  # 6 * 30.4375 = 182.6 -> 183
    assert "stored every customer's predictions" in out


@pytest.mark.parametrize(("argv", "error"), [
    (["score", "--horizon", "1q"], HORIZON_ERROR.format("1q")),
    (["score", "--horizon", "0d"], HORIZON_ERROR.format("0d")),
    (["score", "--model", "foo"], "error: --model foo: choose one of auto, bgnbd, mbgnbd, paretonbd, heuristic\n"),
    (["score", "--as-of", "2024-02-30"],
     "error: --as-of '2024-02-30' is not a date; write it as YYYY-MM-DD, e.g. 2024-03-31\n"),
    (["score", "--as-of", "2024-01-06"],
     "error: no customer had bought by 2024-01-06; import orders first or pick a later --as-of\n"),
    (["backtest", "--calibration-end", "2024-13-01"],
     "error: --calibration-end '2024-13-01' is not a date; write it as YYYY-MM-DD, e.g. 2024-03-31\n"),
    (["backtest", "--calibration-end", "2024-03-31", "--holdout-end", "2024-03-01"],
     "error: --holdout-end 2024-03-01 must be after --calibration-end 2024-03-31\n"),
    (["backtest", "--calibration-end", "2024-03-31", "--holdout-end", "2024-03-31"],
     "error: --holdout-end 2024-03-31 must be after --calibration-end 2024-03-31\n"),
    (["backtest", "--calibration-end", "2024-01-01"],
     "error: no customer had bought by 2024-01-01; pick a later --calibration-end\n"),
    (["backtest", "--calibration-end", "2024-03-31", "--model", "best"],
     "error: --model best: choose from auto, bgnbd, mbgnbd, paretonbd, heuristic\n"),
])
def test_one_line_errors(db, capsys, argv, error):
    capsys.readouterr()
    assert run(["--db", db, *argv]) == 1
    assert capsys.readouterr().err == error


@pytest.mark.parametrize(("text", "days"), [
    ("12m", 365),  # 12 * 365.25 / 12 = 365.25
    ("1y", 365), ("2y", 730), ("52w", 364), ("26w", 182), ("90d", 90), ("6m", 183), ("1m", 30),
    (" 3M ", 91),  # 91.3; case and spaces do not matter
    (None, None),
])
def test_horizon_days(text, days):
    assert horizon_days(text) == days


@pytest.mark.parametrize("text", ["1q", "0d", "0y", "-3d", "1.5y", "12", "m", "", "12 months"])
def test_horizon_days_rejects(text):
    with pytest.raises(InputError) as error:
        horizon_days(text)
    assert str(error.value) == HORIZON_ERROR.format(text)[len("error: "):-1]


def test_backtest_json(db, capsys):
    capsys.readouterr()
    assert run(["--db", db, "backtest", "--calibration-end", "2024-03-31", "--holdout-end", "2024-06-30",
                "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["calibration_end"], result["holdout_end"]) == ("2024-03-31", "2024-06-30")
    assert result["time_unit"] == "week"
    assert [row["model"] for row in result["models"]] == ["bgnbd", "mbgnbd", "paretonbd", "heuristic", "auto"]
    *models, auto = result["models"]
    for row in models:  # a model either has every metric or says why it could not be fitted
        assert set(row) in (METRIC_KEYS, METRIC_KEYS | CALIBRATED_KEYS, {"model", "error"}), row
    heuristic = models[-1]
    # The automatic choice as of 2024-03-31: 2 repeat buyers (P and S, whose own rhythms appear
    # below), fewer than 50, so the heuristics, scored
    # on the same holdout: its row is the heuristics' row.
    assert (auto["chosen"], auto["why"]) == ("heuristic", "2 repeat buyers, fewer than the 50 a model needs")
    assert {k: v for k, v in auto.items() if k not in ("model", "chosen", "why")} == {
        k: v for k, v in heuristic.items() if k != "model"}
    assert set(heuristic) == METRIC_KEYS
    # 4 customers before 2024-03-31: far too few to learn the chance-to-order map on, and it says so.
    assert "too few to calibrate on" in heuristic["calibration"] or "history" in heuristic["calibration"]
    # 4 calibration customers; 5 holdout purchase days: R Apr 1, P Apr 14, P May 5, S Jun 1, R Jun 30.
    assert (heuristic["customers"], heuristic["actual_purchases"]) == (4, 5)
    # The heuristics over 91 days = 13 weeks: sum of P(alive) * 13 / rhythm (rhythms 2, 87/28, 87/28, 59/14
    # weeks; P(alive) 0.25, 2^-(11 * 28/87 - 2), 1, 1 for P, Q, R, S).
    q_alive = 2 ** -(11 * 28 / 87 - 2)
    assert heuristic["predicted_purchases"] == pytest.approx(
        0.25 * 13 / 2 + q_alive * 13 * 28 / 87 + 13 * 28 / 87 + 13 * 14 / 59)
    # Net holdout spend: what was bought in the holdout less everything returned in it (docs/models.md):
    # P 100 + (60 - 15) - 40 (P4, bought before the cut-off, returned on Apr 5), R 30 + 25, S 80.
    assert heuristic["actual_revenue"] == 240.0
    # Tracking: every 7 days and the holdout's last day (91); the actual curve steps at days 1, 14,
    # 35, 62 and 91.
    tracking = heuristic["tracking"]
    assert [row["day"] for row in tracking] == [*range(7, 91, 7), 91]
    assert [row["actual"] for row in tracking] == [1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5]
    assert (tracking[0]["date"], tracking[-1]["date"]) == ("2024-04-07", "2024-06-30")
    assert tracking[-1]["predicted"] == pytest.approx(heuristic["predicted_purchases"])


def test_backtest_table(db, capsys):
    capsys.readouterr()
    assert run(["--db", db, "backtest", "--calibration-end", "2024-03-31", "--model", "heuristic"]) == 0
    out = capsys.readouterr().out
    # Without --holdout-end the holdout runs to the last order's day.
    assert "backtest: calibration to 2024-03-31, holdout to 2024-07-01" in out
    assert "heuristic" in out and "aggregate_error +0.53 means 53 % more purchases predicted" in out


def test_backtest_json_is_strict_json_even_when_a_model_misbehaves(db, capsys, monkeypatch):
    from retainly.scores import backtest
    from tests.scores.misbehaving import NaNModel

    monkeypatch.setattr(backtest, "fit_model", lambda name, summary, unit_days, penalizer=0.0:
                        NaNModel(unit_days).fit(summary))
    capsys.readouterr()
    assert run(["--db", db, "backtest", "--calibration-end", "2024-03-31", "--holdout-end", "2024-06-30",
                "--model", "heuristic", "--json"]) == 0

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    json.loads(capsys.readouterr().out, parse_constant=refuse)


def test_customer_show_prints_predictions(db, capsys):
    capsys.readouterr()
    assert run(["--db", db, "customer", "show", "P", "--as-of", "2024-03-31"]) == 0
    out = capsys.readouterr().out
    assert "predictions (next 365 days)" in out
    block = out[out.index("predictions (next 365 days)"):]
    for label in ("p alive", "expected orders", "p order", "expected spend", "clv", "next order date", "confidence"):
        assert label in block, label
    assert "2024-04-10" in block and "heuristic" in block  # P's next order date (test_scoring.py)
    assert run(["--db", db, "customer", "show", "P", "--as-of", "2024-03-31", "--json"]) == 0
    predictions = json.loads(capsys.readouterr().out)["predictions"]
    assert set(predictions) == {"as_of", "model", "p_alive", "expected_orders", "p_order", "expected_spend", "clv",
                                "next_order_date", "confidence", "horizon_days", "order_chance", "order_window_days"}
    assert (predictions["as_of"], predictions["next_order_date"], predictions["p_alive"]) == (
        "2024-03-31", "2024-04-10", 0.25)
    assert math.isclose(predictions["expected_orders"], 365 / 56)  # 0.25 * (365/7) / 2
