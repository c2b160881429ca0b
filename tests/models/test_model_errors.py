"""Bad input, fits that cannot be trusted, unfitted models, the Gamma-Gamma's excluded
customers and saving a fit.

Rows are named by their 0-based position in the summary (what retainly.models.base reports).
The small data sets are written out by hand below; the one fit used for round-trips is a
seeded simulation (tests/models/simulate.py).
"""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from retainly.errors import ConvergenceError, InputError
from retainly.models import (PURCHASE_MODELS, BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel, ParetoNBDModel,
                             customer_lifetime_value)
from tests.models import simulate

PURCHASE = [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel]
GOOD = {"frequency": [2.0, 0.0, 1.0, 3.0], "recency": [20.0, 0.0, 5.0, 28.0], "T": [30.0, 30.0, 25.0, 30.0]}


def summary_with(row: int, **values) -> pd.DataFrame:
    frame = pd.DataFrame(GOOD)
    for column, value in values.items():
        frame.loc[row, column] = value
    return frame


@pytest.fixture(scope="module")
def fitted():
    """All four models fitted on 3,000 simulated BG/NBD customers with made-up spend."""
    rng = np.random.default_rng(5)
    data = simulate.beta_geo(rng, 0.8, 4.0, 1.2, 3.0, T=rng.integers(26, 53, 3000).astype(float))
    data["monetary_value"] = np.where(data["frequency"] > 0, rng.gamma(5.0, 6.0, len(data)), 0.0)
    models = {model.name: model().fit(data) for model in PURCHASE}
    models["gammagamma"] = GammaGammaModel().fit(data)
    return data, models


@pytest.mark.parametrize("model_class", PURCHASE)
@pytest.mark.parametrize("broken, why", [
    ({"recency": 31.0}, "recency is larger than T"),
    ({"frequency": -1.0}, "frequency .* is negative"),
    ({"frequency": 1.5}, "not a whole number"),
    ({"frequency": 0.0, "recency": 4.0}, "frequency is 0 but recency is not"),
    ({"recency": -1.0}, "recency .* is negative"),
    ({"T": -5.0, "recency": 0.0, "frequency": 0.0}, "T .* negative|T .* not positive"),
])
def test_impossible_histories_name_the_row(model_class, broken, why):
    data = summary_with(2, **broken)
    with pytest.raises(InputError, match=rf"row 2 .*{why}"):
        model_class().fit(data)
    # Predictions check the rows they are given in the same way.
    model = model_class.from_dict({"params": dict(zip(model_class.param_names, (0.5, 5.0, 0.8, 2.5)))})
    with pytest.raises(InputError, match="row 2 "):
        model.probability_alive(data)


@pytest.mark.parametrize("model_class", PURCHASE)
def test_missing_values_name_the_row_and_column(model_class):
    for column in ("frequency", "recency", "T"):
        with pytest.raises(InputError, match=rf"row 3 of the summary has {column} = nan"):
            model_class().fit(summary_with(3, **{column: np.nan}))
    with pytest.raises(InputError, match="row 1 of the summary has T = inf"):
        model_class().fit(summary_with(1, T=np.inf))


@pytest.mark.parametrize("model_class", PURCHASE)
def test_missing_column(model_class):
    with pytest.raises(InputError, match="no column 'recency'.*frequency, recency, T"):
        model_class().fit(pd.DataFrame(GOOD).drop(columns="recency"))
    # The literature's names, not lifetimes-style guesses: a 'Recency' column does not count.
    with pytest.raises(InputError, match="no column 'recency'"):
        model_class().fit(pd.DataFrame(GOOD).rename(columns={"recency": "Recency"}))


def test_gammagamma_input_errors():
    data = pd.DataFrame({"frequency": [1.0, 2.0, 3.0], "monetary_value": [10.0, np.nan, 30.0]})
    with pytest.raises(InputError, match="row 1 of the summary has monetary_value = nan"):
        GammaGammaModel().fit(data)
    with pytest.raises(InputError, match="no column 'monetary_value'"):
        GammaGammaModel().fit(data.drop(columns="monetary_value"))


def test_other_summary_types_are_read_the_same(fitted):
    """A pyarrow table gives the same fit as the pandas frame it came from, and its bad rows are named too."""
    data, models = fitted
    model = BetaGeoModel().fit(pa.Table.from_pandas(data[["frequency", "recency", "T"]]))
    assert model.params_ == pytest.approx(models["bgnbd"].params_, rel=1e-12)
    with pytest.raises(InputError, match="row 2 .*recency is larger than T"):
        BetaGeoModel().fit(pa.Table.from_pandas(summary_with(2, recency=31.0)))


@pytest.mark.parametrize("model_class", PURCHASE)
def test_no_repeat_buyers_is_a_convergence_error_saying_what_to_do(model_class):
    nobody = pd.DataFrame({"frequency": [0.0] * 5, "recency": [0.0] * 5, "T": [10.0, 20, 30, 40, 50]})
    with pytest.raises(ConvergenceError, match="bought twice") as caught:
        model_class().fit(nobody)
    assert "wait for repeat purchases" in str(caught.value) or "heuristic" in str(caught.value)
    with pytest.raises(InputError, match="empty"):
        model_class().fit(nobody.iloc[:0])
    # Zero weights are no customers either.
    with pytest.raises(InputError, match="empty"):
        model_class().fit(pd.DataFrame(GOOD), weights=np.zeros(4))


def test_gammagamma_without_usable_repeat_buyers():
    data = pd.DataFrame({"frequency": [0.0, 0.0, 1.0], "monetary_value": [0.0, 0.0, 25.0]})
    with pytest.raises(ConvergenceError, match="needs repeat buyers with positive spend.*has 1"):
        GammaGammaModel().fit(data)




@pytest.mark.parametrize("model_class", PURCHASE)
@pytest.mark.parametrize("data", [
    {"frequency": [1.0, 0.0], "recency": [30.0, 0.0], "T": [30.0, 30.0]},  # two customers
    {"frequency": [1.0, 2, 3, 4, 0, 0], "recency": [30.0, 30, 30, 30, 0, 0], "T": [30.0] * 6},  # nobody has left
], ids=["two-customers", "nobody-left"])
def test_fits_the_data_cannot_pin_down_raise(model_class, data):
    """The contract: a fit that cannot be trusted raises ConvergenceError. Neither summary
    identifies the four parameters (the second has its maximum at the boundary a/(a+b) -> 0)."""
    with pytest.raises(ConvergenceError):
        model_class().fit(pd.DataFrame(data))


def test_negative_options_are_input_errors(fitted):
    data, models = fitted
    for model_class in (*PURCHASE, GammaGammaModel):
        with pytest.raises(InputError, match="penalizer must be 0 or more"):
            model_class(penalizer=-0.1)
    for months, rate, unit in ((0, 0.01, 4.345), (12, -0.01, 4.345), (12, 0.01, 0.0)):
        with pytest.raises(InputError, match="CLV needs months >= 1"):
            customer_lifetime_value(models["bgnbd"], models["gammagamma"], data, months, rate, unit)


@pytest.mark.parametrize("model_class", PURCHASE)
def test_predicting_before_fitting(model_class):
    model = model_class()
    data = pd.DataFrame(GOOD)
    calls = [lambda: model.probability_alive(data), lambda: model.probability_alive(data, t=5),
             lambda: model.expected_purchases(10), lambda: model.expected_purchases(10, data),
             lambda: model.probability_of_purchase(10, data), lambda: model.time_to_next_purchase(data),
             lambda: model.predict(data, 10)]
    for call in calls:
        with pytest.raises(InputError, match="not fitted yet: call fit"):
            call()
    assert repr(model) == f"{model_class.__name__}(not fitted)"


def test_gammagamma_and_clv_before_fitting(fitted):
    data, models = fitted
    spend = GammaGammaModel()
    for call in (lambda: spend.expected_spend(data), spend.mean_spend,
                 lambda: customer_lifetime_value(models["bgnbd"], spend, data, 12, 0.01, 4.345),
                 lambda: customer_lifetime_value(BetaGeoModel(), models["gammagamma"], data, 12, 0.01, 4.345)):
        with pytest.raises(InputError, match="not fitted yet"):
            call()


def test_gammagamma_leaves_out_non_positive_spenders_and_predicts_them_the_mean():
    """Net spend after returns can leave a repeat buyer at 0 or below. Those customers are
    excluded from the fit (which is then exactly the fit without them), counted in excluded_,
    and predicted the population mean p v / (q - 1), like a one-time buyer."""
    rng = np.random.default_rng(11)
    clean = simulate.gamma_gamma(rng, 6.0, 4.0, 15.0, customers=2000)
    returned = pd.DataFrame({"frequency": [2.0, 1.0, 4.0], "monetary_value": [0.0, -12.5, -0.01]})
    one_timers = pd.DataFrame({"frequency": [0.0, 0.0], "monetary_value": [0.0, 35.0]})
    data = pd.concat([clean.iloc[:700], returned, clean.iloc[700:], one_timers], ignore_index=True)
    model = GammaGammaModel().fit(data)
    assert model.excluded_ == 3 and model.customers_ == 2000
    reference = GammaGammaModel().fit(clean)
    assert model.params_ == pytest.approx(reference.params_, rel=1e-9)
    assert model.log_likelihood_ == pytest.approx(reference.log_likelihood_, rel=1e-12)
    p, q, v = (model.params_[n] for n in ("p", "q", "v"))
    assert model.mean_spend() == pytest.approx(p * v / (q - 1), rel=1e-12)
    spend = model.expected_spend(data)
    assert np.all(np.isfinite(spend)) and np.all(spend > 0)
    np.testing.assert_allclose(spend[700:703], model.mean_spend(), rtol=1e-12)
    np.testing.assert_allclose(spend[-2:], model.mean_spend(), rtol=1e-12)  # one-time buyers, whatever their zbar


def test_gammagamma_with_q_at_most_1_refuses_to_predict():
    """q <= 1 means an infinite population mean spend (heavy-tailed spend): the formula would
    give one-time buyers p v / (q - 1), a negative spend. Such parameters are refused with a
    reason; a fit that lands there raises ConvergenceError instead (see gammagamma.py)."""
    model = GammaGammaModel.from_dict({"params": {"p": 2.0, "q": 0.8, "v": 10.0}})
    data = pd.DataFrame({"frequency": [0.0, 1.0, 5.0], "monetary_value": [0.0, 30.0, 30.0]})
    with pytest.raises(InputError, match=r"q = 0.8 \(at most 1\) have no finite mean spend"):
        model.expected_spend(data)
    with pytest.raises(InputError, match="no finite mean spend"):
        model.mean_spend()


@pytest.mark.parametrize("name", ["bgnbd", "mbgnbd", "paretonbd", "gammagamma"])
def test_to_dict_from_dict_round_trip(name, fitted):
    """Through JSON and back: the same parameters, log-likelihood, standard errors and
    customer count, and bit-for-bit the same predictions."""
    data, models = fitted
    model = models[name]
    saved = json.loads(json.dumps(model.to_dict()))
    assert saved["model"] == name
    model_class = GammaGammaModel if name == "gammagamma" else PURCHASE_MODELS[name]
    loaded = model_class.from_dict(saved)
    assert loaded.params_ == model.params_
    assert loaded.log_likelihood_ == model.log_likelihood_
    assert loaded.standard_errors_ == model.standard_errors_
    assert loaded.customers_ == model.customers_
    assert repr(loaded) == repr(model)
    if name == "gammagamma":
        assert loaded.excluded_ == model.excluded_
        np.testing.assert_array_equal(loaded.expected_spend(data), model.expected_spend(data))
        assert loaded.mean_spend() == model.mean_spend()
        return
    pd.testing.assert_frame_equal(loaded.predict(data, 26), model.predict(data, 26))
    np.testing.assert_array_equal(loaded.probability_alive(data, t=13), model.probability_alive(data, t=13))
    assert loaded.expected_purchases(52) == model.expected_purchases(52)
    np.testing.assert_array_equal(customer_lifetime_value(loaded, models["gammagamma"], data, 12, 0.01, 4.345),
                                  customer_lifetime_value(model, models["gammagamma"], data, 12, 0.01, 4.345))


def test_from_dict_needs_every_parameter():
    with pytest.raises((KeyError, InputError)):
        BetaGeoModel.from_dict({"params": {"r": 0.5, "alpha": 5.0, "a": 0.8}})
