"""Every prediction against an independent implementation: lifetimes 0.11.3 (MIT, Davidson-Pilon),
a test-only dependency, on the CDNOW summary (../shared/datasets/cdnow).

lifetimes shares no code with retainly: it writes the same papers' formulas with autograd and
its own optimiser. First both fit the same data and must reach the same optimum; then
lifetimes is given retainly's parameters, so that the two predict from identical
parameters and any difference is a difference in the formulas: they must agree to 1e-8.

Where lifetimes 0.11.3 has no counterpart (P(at least one purchase) for BG/NBD and MBG/NBD),
the oracle is brute-force numerical integration of the model's definition over the purchase
rate λ (scipy.integrate.quad), with the dropout probability integrated by Beta functions.

lifetimes emits FutureWarnings and DeprecationWarnings on modern pandas and calls
``warnings.simplefilter`` itself; every use is wrapped in ``quiet()`` so neither leaks.
"""

import contextlib
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.special import betaln

from retainly.models import (BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel, ParetoNBDModel,
                             customer_lifetime_value)
from tests.models import cdnow

pytestmark = [pytest.mark.realdata, cdnow.needs_cdnow, cdnow.needs_cdnow_spend]

MODELS = {"bgnbd": BetaGeoModel, "mbgnbd": ModifiedBetaGeoModel, "paretonbd": ParetoNBDModel}
TOLERANCE = {"rtol": 1e-8, "atol": 1e-8}


@contextlib.contextmanager
def quiet():
    """Silence lifetimes' warnings here only; catch_warnings also undoes its simplefilter calls."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


with quiet():
    import lifetimes

FITTERS = {"bgnbd": lifetimes.BetaGeoFitter, "mbgnbd": lifetimes.ModifiedBetaGeoFitter,
           "paretonbd": lifetimes.ParetoNBDFitter}


@pytest.fixture(scope="module")
def data():
    return cdnow.spend_summary()  # frequency, recency, T (identical to cdnow_customers_summary.csv) and zbar


@pytest.fixture(scope="module")
def retainly_fits(data):
    return {name: model().fit(data) for name, model in MODELS.items()}


def lifetimes_fit(name, data):
    """lifetimes' own fit. Its Pareto/NBD starts from np.random; seeded, and the global state put back."""
    state = np.random.get_state()
    np.random.seed(0)
    try:
        with quiet():
            return FITTERS[name]().fit(data["frequency"], data["recency"], data["T"])  # data["T"]: data.T is the transpose
    finally:
        np.random.set_state(state)


def lifetimes_with(name, params: dict):
    """A lifetimes fitter carrying the given (unscaled) parameters, as its fit leaves them in params_."""
    fitter = FITTERS[name]()
    fitter.params_ = pd.Series(params)
    fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time  # what fit() binds, for CLV
    return fitter


def lifetimes_total_log_likelihood(name, params: dict, data) -> float:
    """lifetimes' likelihood function, summed over customers in the data's own time unit."""
    x, tx, T = (data[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    values = np.array(list(params.values()))
    with quiet():
        if name == "paretonbd":
            return float(lifetimes.ParetoNBDFitter._conditional_log_likelihood(values, x, tx, T).sum())
        mean_negative = FITTERS[name]._negative_log_likelihood(np.log(values), x, tx, T, np.ones_like(x), 0.0)
        return float(-mean_negative * len(x))


@pytest.mark.parametrize("name", MODELS)
def test_both_fits_reach_the_same_optimum(name, data, retainly_fits):
    """Same likelihood function, same maximum.

    lifetimes fits on time rescaled so that the longest T is 1, and stores the optimum as
    ``_negative_log_likelihood_``: the mean negative log-likelihood per customer for BG/NBD
    and MBG/NBD, the total for Pareto/NBD (it divides by the mean weight, 1). Rescaling time by
    c divides the density of each customer's x purchase times by c^x, so the total in weeks is
    -(that total) + Σx · ln c."""
    ours = retainly_fits[name]
    theirs = lifetimes_fit(name, data)
    # 1. lifetimes' likelihood function at retainly's optimum is retainly's log-likelihood.
    assert lifetimes_total_log_likelihood(name, ours.params_, data) == pytest.approx(ours.log_likelihood_, rel=1e-12)
    # 2. lifetimes' optimum, from its own stored value, is the same maximum (within its optimiser's tolerance).
    total = -theirs._negative_log_likelihood_ * (1 if name == "paretonbd" else len(data))
    total += data["frequency"].sum() * np.log(theirs._scale)
    assert total == pytest.approx(lifetimes_total_log_likelihood(name, dict(theirs.params_), data), abs=1e-6)
    assert total == pytest.approx(ours.log_likelihood_, abs=0.01)
    assert ours.log_likelihood_ >= total - 1e-6  # retainly's optimum is at least as high
    # 3. ... at the same parameters (a flat likelihood would allow different ones: this one is not flat).
    for param, value in ours.params_.items():
        assert theirs.params_[param] == pytest.approx(value, rel=1e-3), param


@pytest.mark.parametrize("name", MODELS)
def test_predictions_from_identical_parameters(name, data, retainly_fits):
    """P(alive) and conditional expected purchases in the next 39 and 10 weeks for every
    customer; the brand-new customer's expected purchases for several horizons; predict()'s
    columns are the same numbers."""
    ours = retainly_fits[name]
    theirs = lifetimes_with(name, ours.params_)
    x, tx, T = data["frequency"], data["recency"], data["T"]
    with quiet():
        np.testing.assert_allclose(ours.probability_alive(data), theirs.conditional_probability_alive(x, tx, T),
                                   **TOLERANCE)
        for t in (39, 10):
            np.testing.assert_allclose(
                ours.expected_purchases(t, data),
                theirs.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T), **TOLERANCE)
        for t in (0.5, 1, 10, 39, 78, 520):
            assert ours.expected_purchases(t) == pytest.approx(theirs.expected_number_of_purchases_up_to_time(t),
                                                               rel=1e-8, abs=1e-8)
        frame = ours.predict(data, 39)
        np.testing.assert_allclose(frame["probability_alive"], theirs.conditional_probability_alive(x, tx, T),
                                   **TOLERANCE)
        np.testing.assert_allclose(frame["expected_purchases"],
                                   theirs.conditional_expected_number_of_purchases_up_to_time(39, x, tx, T),
                                   **TOLERANCE)
    assert len(frame) == len(data)




@pytest.mark.parametrize("t", [10, 39])
def test_paretonbd_probability_of_purchase(t, data, retainly_fits):
    """P(at least one purchase in the next t) = 1 - P(0 purchases) of Fader & Hardie's note on the
    Pareto/NBD conditional pmf, as lifetimes implements it (its docstring cites eq. 16), for all 2,357 customers.
    retainly integrates numerically (Gauss-Legendre after a graded change of variable); at
    t = 39 the heavy buyers (11+ repeat purchases) are where a plain rule used to miss by 3e-6."""
    ours = retainly_fits["paretonbd"]
    theirs = lifetimes_with("paretonbd", ours.params_)
    x, tx, T = (data[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    with quiet():
        none = theirs.conditional_probability_of_n_purchases_up_to_time(0, t, x, tx, T)
    np.testing.assert_allclose(ours.probability_of_purchase(t, data), 1 - none, **TOLERANCE)


def bg_family_probability_of_purchase(params, shift, x, tx, T, t):
    """P(a purchase in (T, T + t] | x, t_x, T) for BG/NBD (shift 0) or MBG/NBD (shift 1), by
    integrating the model's definition.

    Given λ and p, the history's likelihood is (1-p)^(x+shift) λ^x e^{-λT} for a customer still
    alive at T, plus, for one who dropped out at t_x (after a repeat purchase, or for MBG/NBD
    also at time 0), p (1-p)^(x+shift-1) λ^x e^{-λ t_x}. An alive customer buys in the next t
    with probability 1 - e^{-λt} (dropout only follows purchases), a dead one never. So
    P = E[alive term · (1 - e^{-λt})] / E[alive term + dead term] over the priors; the p
    expectations are Beta functions, the λ ones numerical integrals (adaptive quad)."""
    r, alpha, a, b = params
    k = r + x

    def over_rate(decay, buys=False):
        """∫ λ^x e^{-λ·decay} (1 - e^{-λt} if buys) Gamma(r, α)(λ) dλ, up to a factor common to
        all three, over y = ln λ: a smooth bell e^{k y - (α + decay) e^y} around its peak."""
        peak = np.log(k / (alpha + decay))
        top = k * peak - k  # the exponent's value at the peak

        def integrand(y):
            value = np.exp(k * y - (alpha + decay) * np.exp(y) - top)
            return value * -np.expm1(-np.exp(y) * t) if buys else value
        return np.exp(top) * quad(integrand, peak - 60 / k, peak + 6, epsabs=0, epsrel=1e-12, limit=200)[0]

    alive = np.exp(betaln(a, b + x + shift) - betaln(a, b))
    dead = np.exp(betaln(a + 1, b + x + shift - 1) - betaln(a, b)) if (x > 0 or shift) else 0.0
    return alive * over_rate(T, buys=True) / (alive * over_rate(T) + dead * over_rate(tx))


@pytest.mark.parametrize("name, shift", [("bgnbd", 0), ("mbgnbd", 1)])
def test_bg_family_probability_of_purchase(name, shift, data, retainly_fits):
    """lifetimes 0.11.3 has no conditional P(N = n) for these models, so: (1) a brute-force
    integral (above) for every 20th distinct history and the 10 most frequent buyers,
    t = 10 and 39, to 1e-8; (2) lifetimes'
    unconditional P(N(t) = 0) (lifetimes cites the BG/NBD paper's eq. 8; MBG/NBD its analogue) for a
    brand-new customer, i.e. a history (0, 0, T) with T -> 0 (1e-9 weeks)."""
    ours = retainly_fits[name]
    params = [ours.params_[n] for n in ("r", "alpha", "a", "b")]
    distinct = data.drop_duplicates(["frequency", "recency", "T"])
    histories = pd.concat([distinct.iloc[::20], distinct.nlargest(10, "frequency")])  # and the heaviest buyers
    assert len(histories) > 50 and histories["frequency"].max() >= 25
    for t in (10, 39):
        got = ours.probability_of_purchase(t, histories)
        want = [bg_family_probability_of_purchase(params, shift, x, tx, T, t)
                for x, tx, T in zip(histories["frequency"], histories["recency"], histories["T"])]
        np.testing.assert_allclose(got, want, **TOLERANCE)

    theirs = lifetimes_with(name, ours.params_)
    new = pd.DataFrame({"frequency": [0.0], "recency": [0.0], "T": [1e-9]})
    for t in (1, 10, 39, 520):
        with quiet():
            none = theirs.probability_of_n_purchases_up_to_time(t, 0)
        assert ours.probability_of_purchase(t, new)[0] == pytest.approx(1 - none, rel=1e-8, abs=1e-8)


def test_gammagamma_against_lifetimes(data):
    """Same optimum on the 946 repeat buyers, and E[spend | x, zbar] (lifetimes' conditional_expected_average_profit) for all
    2,357 customers from identical parameters (one-time buyers get the population mean in both)."""
    ours = GammaGammaModel().fit(data)
    buyers = data[data["frequency"] > 0]
    with quiet():
        theirs = lifetimes.GammaGammaFitter().fit(buyers["frequency"], buyers["monetary_value"])
        their_total = -theirs._negative_log_likelihood_ * len(buyers)  # a mean per customer; spend is not rescaled
    assert their_total == pytest.approx(ours.log_likelihood_, abs=0.01)
    for param, value in ours.params_.items():
        assert theirs.params_[param] == pytest.approx(value, rel=1e-3), param
    theirs.params_ = pd.Series(ours.params_)
    with quiet():
        want = theirs.conditional_expected_average_profit(data["frequency"], data["monetary_value"])
    np.testing.assert_allclose(ours.expected_spend(data), want, **TOLERANCE)
    assert ours.mean_spend() == pytest.approx(want[data["frequency"] == 0].iloc[0], rel=1e-12)


@pytest.mark.parametrize("name", MODELS)
def test_customer_lifetime_value_against_lifetimes(name, data, retainly_fits):
    """12 months at 1 % a month, 4.345 weeks a month (lifetimes' freq="W"), from identical
    parameters: lifetimes' GammaGammaFitter.customer_lifetime_value with the purchase fitter."""
    spend = GammaGammaModel().fit(data)
    purchases = retainly_fits[name]
    ours = customer_lifetime_value(purchases, spend, data, 12, 0.01, 4.345)
    their_spend = lifetimes.GammaGammaFitter()
    their_spend.params_ = pd.Series(spend.params_)
    with quiet():
        theirs = their_spend.customer_lifetime_value(
            lifetimes_with(name, purchases.params_), data["frequency"], data["recency"], data["T"],
            data["monetary_value"], time=12, discount_rate=0.01, freq="W")
    np.testing.assert_allclose(ours, theirs.to_numpy(), **TOLERANCE)
    assert ours.sum() > 0
