"""Properties every fitted model must have, whatever its parameters and the customers' histories.

Hypothesis draws parameters (shapes 0.05-5 or 10, scales 0.1-100) and valid histories (integer
frequency 0-40, 0 <= recency <= T, recency 0 when x = 0, T 0.5-200). The formulas' hard
corners, a = 1, BG/NBD a + b <= 1 and heavy buyers (hundreds of repeat purchases), have tests
of their own below against independent integrals. What must hold follows from the models' definitions, not from
retainly's formulas: probabilities lie in [0, 1]; a BG/NBD customer with no repeat purchase
cannot have dropped out (dropout follows purchases), an MBG/NBD one can; expected purchases
cannot fall as the horizon grows; buying in the next t requires being alive now; being alive
later requires being alive now; the Gamma-Gamma's expected spend is a weighted mean of the
customer's own mean and the population mean. The fitting properties (row order and
duplication do not matter) use one small seeded simulation instead, since fitting is slower.

HYPOTHESIS_PROFILE=thorough (environment) runs 2,000 examples per property instead of 60.
"""

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.special import betaln

from retainly.models import BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel, ParetoNBDModel
from tests.models import simulate

EXAMPLES = 2000 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 60
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HORIZONS = (0.1, 1.0, 4.0, 13.0, 52.0, 260.0, 1000.0)


def positive(low, high):
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def bg_parameters(bgnbd):
    return st.fixed_dictionaries({"r": positive(0.05, 5.0), "alpha": positive(0.1, 100.0),
                                  "a": positive(0.05, 5.0), "b": positive(0.05, 10.0)})


PARAMETERS = {
    BetaGeoModel: bg_parameters(bgnbd=True),
    ModifiedBetaGeoModel: bg_parameters(bgnbd=False),
    ParetoNBDModel: st.fixed_dictionaries({"r": positive(0.05, 5.0), "alpha": positive(0.1, 100.0),
                                           "s": positive(0.05, 5.0), "beta": positive(0.1, 100.0)}),
}


@st.composite
def histories(draw, max_rows=8):
    """A summary of valid histories: T in [0.5, 200] time units, x up to 40 repeat purchases."""
    rows = draw(st.lists(st.tuples(st.integers(0, 40), positive(0.0, 1.0), positive(0.5, 200.0)),
                         min_size=1, max_size=max_rows))
    frequency = np.array([x for x, _, _ in rows], dtype=float)
    T = np.array([t for _, _, t in rows])
    recency = np.where(frequency > 0, np.array([share for _, share, _ in rows]) * T, 0.0)
    return pd.DataFrame({"frequency": frequency, "recency": recency, "T": T})


def model_and_data():
    return st.sampled_from(list(PARAMETERS)).flatmap(
        lambda model_class: st.tuples(st.just(model_class), PARAMETERS[model_class], histories()))


@PROPERTY
@given(model_and_data())
def test_probability_alive_is_a_probability(case):
    model_class, params, data = case
    model = model_class.from_dict({"params": params})
    alive = model.probability_alive(data)
    assert np.all(np.isfinite(alive)) and np.all((alive >= 0) & (alive <= 1))
    first_timers = data["frequency"].to_numpy() == 0
    if model_class is BetaGeoModel:
        # dropout only happens right after a repeat purchase: with none, nobody has left
        assert np.all(alive[first_timers] == 1.0)
    elif model_class is ModifiedBetaGeoModel:
        # the coin flip right after the first purchase: P(alive | x = 0, T) = b / (b + a ((α+T)/α)^r) < 1,
        # the posterior odds of "dropped at time 0" against "alive and no purchase in T"
        r, alpha, a, b = (params[n] for n in ("r", "alpha", "a", "b"))
        T = data["T"].to_numpy()[first_timers]
        expected = b / (b + a * np.exp(r * (np.log(alpha + T) - np.log(alpha))))
        np.testing.assert_allclose(alive[first_timers], expected, rtol=1e-10)
        assert np.all(alive[first_timers] < 1)


@PROPERTY
@given(model_and_data())
def test_expected_purchases_never_fall_as_the_horizon_grows(case):
    model_class, params, data = case
    model = model_class.from_dict({"params": params})
    table = np.array([model.expected_purchases(t, data) for t in HORIZONS])
    assert np.all(np.isfinite(table)) and np.all(table >= 0)
    steps = np.diff(table, axis=0)
    assert np.all(steps >= -1e-9 * (1 + table[1:])), table
    new = np.array([model.expected_purchases(t) for t in HORIZONS])
    assert np.all(np.isfinite(new)) and np.all(new > 0) and np.all(np.diff(new) >= -1e-9 * (1 + new[1:]))


@PROPERTY
@given(model_and_data(), positive(0.01, 500.0))
def test_buying_requires_being_alive(case, t):
    model_class, params, data = case
    model = model_class.from_dict({"params": params})
    alive = model.probability_alive(data)
    buys = model.probability_of_purchase(t, data)
    assert np.all(np.isfinite(buys)) and np.all((buys >= 0) & (buys <= 1))
    assert np.all(buys <= alive * (1 + 1e-12))
    # More time, more chance to buy (for the same customer).
    assert np.all(model.probability_of_purchase(2 * t, data) >= buys * (1 - 1e-9))


@PROPERTY
@given(model_and_data(), positive(0.01, 500.0))
def test_alive_later_requires_alive_now(case, t):
    model_class, params, data = case
    model = model_class.from_dict({"params": params})
    now = model.probability_alive(data)
    later = model.probability_alive(data, t=t)
    much_later = model.probability_alive(data, t=3 * t)
    assert np.all(np.isfinite(later)) and np.all(later >= 0)
    assert np.all(later <= now * (1 + 1e-12))
    assert np.all(much_later <= later * (1 + 1e-9) + 1e-300)


@PROPERTY
@given(model_and_data(), positive(0.05, 0.95))
def test_time_to_next_purchase_and_predict(case, probability):
    """For an alive BG/NBD or MBG/NBD customer the time to the next purchase is exact (they can
    only drop out after buying), so P(purchase within it) = P(alive) · probability; the
    Pareto/NBD's ignores dropout before that purchase, so the chance is at most that.
    predict() gathers the separate predictions, row for row."""
    model_class, params, data = case
    model = model_class.from_dict({"params": params})
    waits = model.time_to_next_purchase(data, probability)
    assert np.all(np.isfinite(waits)) and np.all(waits > 0)
    alive = model.probability_alive(data)
    for row, wait in enumerate(waits):
        buys = model.probability_of_purchase(wait, data.iloc[[row]])[0]
        if model_class is ParetoNBDModel:
            assert buys <= alive[row] * probability * (1 + 1e-9)
        else:
            assert buys == pytest.approx(alive[row] * probability, rel=1e-9)
    frame = model.predict(data, 13.0, probability)
    np.testing.assert_array_equal(frame["probability_alive"], alive)
    np.testing.assert_array_equal(frame["expected_purchases"], model.expected_purchases(13.0, data))
    np.testing.assert_array_equal(frame["probability_of_purchase"], model.probability_of_purchase(13.0, data))
    np.testing.assert_array_equal(frame["time_to_next_purchase"], waits)


@settings(max_examples=max(EXAMPLES // 3, 20), deadline=None)
@given(st.sampled_from([BetaGeoModel, ModifiedBetaGeoModel]), PARAMETERS[BetaGeoModel], histories(max_rows=3),
       positive(0.1, 200.0))
def test_bg_family_alive_later_by_integration(model_class, params, data, t):
    """P(alive at T + t) against an independent integral. Given alive at T, λ ~ Gamma(r + x,
    α + T) and p ~ Beta(a, b + x + shift) (shift 1 for the MBG/NBD's extra coin flip); dropouts
    then strike at rate p λ, so P(still alive at T + t) = P(alive) · E[(1 + p t / (α + T))^-(r + x)]
    over p, done here by adaptive quadrature (retainly uses a hypergeometric function)."""
    model = model_class.from_dict({"params": params})
    shift = 1 if model_class is ModifiedBetaGeoModel else 0
    r, alpha, a, b = (params[n] for n in ("r", "alpha", "a", "b"))
    alive = model.probability_alive(data)
    got = model.probability_alive(data, t=t)
    for row, (x, T) in enumerate(zip(data["frequency"], data["T"])):
        shape = b + x + shift  # quad's algebraic weight p^(a-1) (1-p)^(shape-1) takes the Beta density's endpoints
        survive = quad(lambda p: (1 + p * t / (alpha + T)) ** -(r + x), 0, 1, weight="alg", wvar=(a - 1, shape - 1),
                       epsabs=1e-14, epsrel=1e-11, limit=200)[0] / np.exp(betaln(a, shape))
        assert got[row] == pytest.approx(alive[row] * survive, rel=1e-7, abs=1e-12)


def test_paretonbd_alive_later_by_hand():
    """Pareto/NBD: given alive at T, μ ~ Gamma(s, β + T), so P(alive at T + t) = P(alive) ·
    ((β + T) / (β + T + t))^s. With s = 2, β = 10, T = 10, t = 20: (20 / 40)^2 = 1/4."""
    model = ParetoNBDModel.from_dict({"params": {"r": 0.5, "alpha": 5.0, "s": 2.0, "beta": 10.0}})
    data = pd.DataFrame({"frequency": [0.0, 3.0], "recency": [0.0, 8.0], "T": [10.0, 10.0]})
    np.testing.assert_allclose(model.probability_alive(data, t=20.0), model.probability_alive(data) / 4, rtol=1e-14)


def paretonbd_alive_by_integration(r, alpha, s, beta, x, tx, T):
    """P(alive at T | x, t_x, T) for the Pareto/NBD from its definition: a customer who died at τ in
    (t_x, T) made the same purchases, so the odds dead : alive are
    ∫ E[λ^x e^{-λτ}] E[μ e^{-μτ}] dτ / (E[λ^x e^{-λT}] E[e^{-μT}])
    = ∫_{t_x}^T ((α+T)/(α+τ))^(r+x) · s (β+T)^s / (β+τ)^(s+1) dτ (Gamma expectations), by adaptive quad."""
    def ratio(tau):
        return np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + tau)) + np.log(s) + s * np.log(beta + T)
                      - (s + 1) * np.log(beta + tau))
    return 1.0 / (1.0 + quad(ratio, tx, T, epsabs=0, epsrel=1e-12, limit=200)[0])


@settings(max_examples=max(EXAMPLES // 3, 20), deadline=None)
@given(PARAMETERS[ParetoNBDModel], histories(max_rows=3))
def test_paretonbd_alive_by_integration(params, data):
    """retainly's P(alive) (closed form via hypergeometric functions) against the integral."""
    model = ParetoNBDModel.from_dict({"params": params})
    got = model.probability_alive(data)
    for row, (x, tx, T) in enumerate(zip(data["frequency"], data["recency"], data["T"])):
        want = paretonbd_alive_by_integration(params["r"], params["alpha"], params["s"], params["beta"], x, tx, T)
        assert got[row] == pytest.approx(want, rel=1e-8, abs=1e-14)


@pytest.mark.parametrize("case", ["paretonbd-alive", "bgnbd-expected"])
def test_heavy_buyers(case):
    """A customer who bought on 456 of 489 days (time in days) and a near-daily buyer's 8.5-year
    expectation. Pareto/NBD: P(alive) = 1.465e-16 by the integral above (the odds of having died
    are huge but finite). BG/NBD: E[Y(3095)] = 64.2468851 by lifetimes 0.11.3 and by a 2-million-
    point quadrature of E[(1 - e^{-λpt}) / p] over the posterior (both to 1e-10)."""
    if case == "paretonbd-alive":
        params = {"r": 1.703, "alpha": 1.048, "s": 4.993, "beta": 2682.123}
        data = pd.DataFrame({"frequency": [456.0], "recency": [489.0], "T": [537.0]})
        expected = paretonbd_alive_by_integration(1.703, 1.048, 4.993, 2682.123, 456.0, 489.0, 537.0)
        assert expected == pytest.approx(1.4650925585e-16, rel=1e-8)
        assert ParetoNBDModel.from_dict({"params": params}).probability_alive(data)[0] == pytest.approx(expected, rel=1e-6)
    else:
        params = {"r": 4.967, "alpha": 4.179, "a": 4.226, "b": 8.065}
        data = pd.DataFrame({"frequency": [332.0], "recency": [334.0], "T": [338.0]})
        model = BetaGeoModel.from_dict({"params": params})
        assert model.expected_purchases(2000.0, data)[0] == pytest.approx(64.1500066171, rel=1e-9)  # still fine
        assert model.expected_purchases(3095.0, data)[0] == pytest.approx(64.2468851106, rel=1e-9)


@pytest.mark.parametrize("model_class, params, vary", [
    (BetaGeoModel, {"r": 0.5, "alpha": 5.0, "a": 1.0, "b": 2.0}, "a"),
    (ModifiedBetaGeoModel, {"r": 0.5, "alpha": 5.0, "a": 1.0, "b": 2.0}, "a"),
    (BetaGeoModel, {"r": 0.5, "alpha": 5.0, "a": 0.5, "b": 0.5}, "b"),
], ids=["bgnbd-a=1", "mbgnbd-a=1", "bgnbd-a+b=1"])
def test_bg_family_expected_purchases_where_the_formula_is_0_over_0(model_class, params, vary):
    """E[X(t)] is continuous in a and b; the formulas' 1/(a - 1) and 2F1(r, b; a + b - 1; z)
    at a + b = 1 are removable singularities. There E must be finite and equal to its linear
    extrapolation from 1e-6 and 2e-6 above."""
    data = pd.DataFrame({"frequency": [0.0, 3.0], "recency": [0.0, 20.0], "T": [30.0, 30.0]})

    def at(value):
        model = model_class.from_dict({"params": {**params, vary: value}})
        return np.append(model.expected_purchases(10.0, data), model.expected_purchases(10.0))

    here = params[vary]
    near, further = at(here + 1e-6), at(here + 2e-6)
    assert np.all(np.isfinite(near)) and np.all(np.isfinite(further))
    value = at(here)
    assert np.all(np.isfinite(value))
    np.testing.assert_allclose(value, 2 * near - further, rtol=1e-5)


def bgnbd_new_customer_by_integration(r, alpha, a, b, t):
    """E[X(t)] for a customer who has just made a first purchase, from the BG/NBD's story: given λ
    and p, dropout strikes at rate p λ, so E[X(t) | λ, p] = ∫_0^t λ e^{-pλu} du = (1 - e^{-λ p t}) / p. Over λ ~ Gamma(r, α) that is
    (1 - (α / (α + p t))^r) / p; over p ~ Beta(a, b) by adaptive quadrature."""
    def given_p(p):  # its limit at p -> 0 is r t / α
        return -np.expm1(r * (np.log(alpha) - np.log(alpha + p * t))) / p if p > 0 else r * t / alpha

    integral = quad(given_p, 0, 1, weight="alg", wvar=(a - 1, b - 1), epsabs=1e-13, epsrel=1e-11, limit=200)[0]
    return integral / np.exp(betaln(a, b))


def test_bgnbd_new_customer_expectation_by_integration():
    """The closed form (lifetimes cites the paper's eq. 9) against the integral above where it works (a + b > 1)."""
    for params in ({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, {"r": 2.0, "alpha": 10.0, "a": 3.0, "b": 0.4}):
        model = BetaGeoModel.from_dict({"params": params})
        for t in (1.0, 13.0, 52.0, 500.0):
            want = bgnbd_new_customer_by_integration(params["r"], params["alpha"], params["a"], params["b"], t)
            assert model.expected_purchases(t) == pytest.approx(want, rel=1e-8)


def test_bgnbd_expected_purchases_when_a_plus_b_is_below_one():
    """a = 0.5, b = 0.25 (U-shaped dropout probabilities: many leave at once, many never) is a valid
    BG/NBD. A new customer's E[X(13)] is 2.5132196 by integration (lifetimes' expected_number_of_purchases_up_to_time gives the same)."""
    model = BetaGeoModel.from_dict({"params": {"r": 1.0, "alpha": 1.0, "a": 0.5, "b": 0.25}})
    assert bgnbd_new_customer_by_integration(1.0, 1.0, 0.5, 0.25, 13.0) == pytest.approx(2.5132196, rel=1e-7)
    assert model.expected_purchases(13.0) == pytest.approx(2.5132196, rel=1e-7)
    data = pd.DataFrame({"frequency": [0.0, 2.0], "recency": [0.0, 0.5], "T": [1.0, 1.0]})
    assert np.all(np.isfinite(model.expected_purchases(13.0, data)))


@PROPERTY
@given(st.fixed_dictionaries({"p": positive(0.1, 20.0), "q": positive(1.05, 20.0), "v": positive(0.1, 500.0)}),
       st.lists(st.tuples(st.integers(1, 50), positive(0.01, 1e4)), min_size=1, max_size=10))
def test_gammagamma_spend_is_between_own_mean_and_population_mean(params, customers):
    """E[Z | x, z̄] = w z̄ + (1 - w) · population mean with w = p x / (p x + q - 1) in (0, 1): it
    lies between the two, and moves toward the customer's own mean as x grows."""
    model = GammaGammaModel.from_dict({"params": params})
    data = pd.DataFrame(customers, columns=["frequency", "monetary_value"]).astype(float)
    spend = model.expected_spend(data)
    own = data["monetary_value"].to_numpy()
    population = model.mean_spend()
    slack = 1e-12 * np.maximum(own, population)
    assert np.all(spend >= np.minimum(own, population) - slack)
    assert np.all(spend <= np.maximum(own, population) + slack)
    more = model.expected_spend(data.assign(frequency=data["frequency"] + 1))
    assert np.all(np.abs(more - own) <= np.abs(spend - own) + slack)


# -- fitting: row order and duplication --------------------------------------------------------

@pytest.fixture(scope="module")
def small_summary():
    """800 simulated BG/NBD customers (seeded): enough to identify all four parameters."""
    rng = np.random.default_rng(3)
    return simulate.beta_geo(rng, 0.8, 4.0, 1.2, 3.0, T=rng.uniform(26.0, 52.0, 800))


@pytest.mark.parametrize("model_class", list(PARAMETERS))
def test_row_order_does_not_matter(model_class, small_summary):
    """Shuffled rows: the same optimum. Sums run in another order, so the optimiser's path can
    differ in the last bits: parameters agree to 1e-5 relative, log-likelihoods to 1e-8."""
    fitted = model_class().fit(small_summary)
    shuffled = small_summary.sample(frac=1.0, random_state=7)
    assert not shuffled.index.equals(small_summary.index)
    refitted = model_class().fit(shuffled)
    assert refitted.params_ == pytest.approx(fitted.params_, rel=1e-5)
    assert refitted.log_likelihood_ == pytest.approx(fitted.log_likelihood_, rel=1e-10)
    # Predictions follow the rows, whatever their order.
    np.testing.assert_allclose(fitted.probability_alive(shuffled),
                               fitted.probability_alive(small_summary)[shuffled.index.to_numpy()], rtol=1e-14)


@pytest.mark.parametrize("model_class", list(PARAMETERS))
def test_duplicating_customers_doubles_the_likelihood_only(model_class, small_summary):
    """Every customer twice (or weight 2 each): the log-likelihood doubles, the parameters stay,
    and the standard errors shrink by √2 (twice the information). The objective is scaled per
    customer, so the optimiser sees the same numbers."""
    fitted = model_class().fit(small_summary)
    doubled = model_class().fit(pd.concat([small_summary, small_summary], ignore_index=True))
    weighted = model_class().fit(small_summary, weights=np.full(len(small_summary), 2.0))
    for other in (doubled, weighted):
        assert other.params_ == pytest.approx(fitted.params_, rel=1e-6)
        assert other.log_likelihood_ == pytest.approx(2 * fitted.log_likelihood_, rel=1e-10)
        assert other.customers_ == 2 * fitted.customers_ == 1600
        for name, error in fitted.standard_errors_.items():
            assert other.standard_errors_[name] == pytest.approx(error / np.sqrt(2), rel=1e-3)
    assert weighted.distinct_histories_ == fitted.distinct_histories_


def test_weights_are_counts_of_identical_customers(small_summary):
    """weights = k for a row means k customers with that history."""
    counts = np.arange(len(small_summary)) % 3 + 1
    expanded = small_summary.loc[small_summary.index.repeat(counts)]
    by_weight = BetaGeoModel().fit(small_summary, weights=counts)
    by_rows = BetaGeoModel().fit(expanded)
    assert by_weight.params_ == pytest.approx(by_rows.params_, rel=1e-6)
    assert by_weight.log_likelihood_ == pytest.approx(by_rows.log_likelihood_, rel=1e-10)
    assert by_weight.customers_ == len(expanded)
