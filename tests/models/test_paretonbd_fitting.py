"""Pareto/NBD fitting: the likelihood's value and analytic gradient, and fits that end in a reason.

The value is checked against an independent form of the likelihood, the integral over the time
of death done by SciPy's adaptive quadrature (no hypergeometric function involved), and against
the note's closed form (``_rows``); the gradient against central differences of the value.
"""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.special import gammaln

from retainly.errors import ConvergenceError
from retainly.models import ParetoNBDModel
from retainly.models.base import Histories, _stop_reason, fit_log_parameters
from tests.models import simulate

# CDNOW's published estimates (Fader & Hardie), a fit on simulated shop data, a lifetime scale far
# above the purchase scale, and the reverse (alpha above beta takes the other Euler branch).
PARAMETERS = [(0.5534, 10.5802, 0.6061, 11.6562), (0.52, 9.8, 0.78, 23.1), (0.25, 4.0, 3.0, 300.0),
              (1.5, 40.0, 0.2, 0.3)]


def histories() -> Histories:
    """Simulated Pareto/NBD customers plus the edges: no repeat purchase, a last purchase at T
    (no room to die unseen), and heavy buyers with hundreds of purchases."""
    rng = np.random.default_rng(11)
    data = simulate.pareto_nbd(rng, 0.6, 8.0, 0.7, 20.0, T=rng.integers(1, 79, 400).astype(float))
    edges = pd.DataFrame({"frequency": [0.0, 3.0, 456.0, 120.0], "recency": [0.0, 30.0, 489.0, 50.0],
                          "T": [52.0, 30.0, 537.0, 78.0]})
    return Histories.from_data(pd.concat([data[["frequency", "recency", "T"]], edges], ignore_index=True))


def log_likelihood_by_integration(r, alpha, s, beta, x, tx, T) -> float:
    """log of Γ(r+x)α^r β^s/Γ(r) · [(α+T)^-(r+x) (β+T)^-s + s ∫_{t_x}^T (α+τ)^-(r+x) (β+τ)^-(s+1) dτ]:
    alive at T, or died at τ between the last purchase and T (λ and μ integrated out). The
    integrand is scaled by its value at t_x so that quad sees numbers near 1."""
    def log_density(tau):
        return -(r + x) * np.log(alpha + tau) - (s + 1) * np.log(beta + tau)

    top = log_density(tx)
    died = quad(lambda tau: np.exp(log_density(tau) - top), tx, T, epsabs=0, epsrel=1e-13, limit=400)[0]
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    both = np.logaddexp(alive, np.log(s) + top + np.log(died)) if died > 0 else alive
    return gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + both


@pytest.mark.parametrize("params", PARAMETERS)
def test_value_equals_the_integral_and_the_closed_form(params):
    h = histories()
    model = ParetoNBDModel()
    value, _ = model._log_likelihood(np.array(params), h)
    by_integration = sum(w * log_likelihood_by_integration(*params, x, tx, T)
                         for w, x, tx, T in zip(h.weight, h.frequency, h.recency, h.T))
    assert value == pytest.approx(by_integration, rel=1e-10)
    assert value == pytest.approx(float(h.weight @ model._rows(np.array(params), h)), rel=1e-13)


@pytest.mark.parametrize("params", PARAMETERS)
def test_gradient_equals_central_differences(params):
    """d LL / d θ from the quadrature of the integrand's derivatives, against (LL(θe^ε) - LL(θe^-ε))
    / 2εθ with ε = 1e-5, whose own error is about 1e-9 of the gradient's terms here."""
    h = histories()
    model = ParetoNBDModel()
    params = np.array(params)
    _, gradient = model._log_likelihood(params, h)
    step = 1e-5
    for j in range(4):
        up, down = params.copy(), params.copy()
        up[j] *= np.exp(step)
        down[j] *= np.exp(-step)
        difference = (model._log_likelihood(up, h)[0] - model._log_likelihood(down, h)[0]) / (2 * step * params[j])
        # Relative to the size of the gradient's largest term (the total can nearly cancel).
        scale = max(abs(difference), h.customers / params[j] * 1e-3)
        assert gradient[j] == pytest.approx(difference, abs=1e-6 * scale), j


def test_a_fit_stops_where_the_slope_is_zero():
    """A fit on simulated customers recovers its parameters and stops where the gradient is zero."""
    rng = np.random.default_rng(3)
    data = simulate.pareto_nbd(rng, 0.55, 10.0, 0.6, 12.0, T=rng.integers(26, 79, 5_000).astype(float))
    model = ParetoNBDModel().fit(data)
    h = Histories.from_data(data)
    _, gradient = model._log_likelihood(model._params(), h)
    # Per customer and per unit log-parameter, the slope left at the optimum is tiny.
    assert np.max(np.abs(gradient * model._params())) / h.customers < 1e-6
    assert model.params_["r"] == pytest.approx(0.55, rel=0.2)
    assert model.params_["s"] == pytest.approx(0.6, rel=0.5)


def test_a_fit_that_cannot_settle_says_why_and_names_the_settings_file():
    """Nobody in this summary has stopped buying, so nothing pins the dropout rate down."""
    data = pd.DataFrame({"frequency": [1.0, 2, 3, 4, 0, 0], "recency": [30.0, 30, 30, 30, 0, 0], "T": [30.0] * 6})
    with pytest.raises(ConvergenceError) as caught:
        ParetoNBDModel().fit(data)
    message = str(caught.value)
    assert "ABNORMAL" not in message
    assert "[models] penalizer = 0.01" in message and "retainly.toml" in message
    assert "data" in message


def test_a_spent_budget_is_reported_in_plain_words():
    h = histories()
    model = ParetoNBDModel()
    with pytest.raises(ConvergenceError, match=r"stopped after \d+ evaluations without settling: its budget of 3 "
                                               r"evaluations ran out.*\[models\] penalizer = 0.01"):
        fit_log_parameters(model.param_names, np.array([1.0, 1.0, 1.0, 1.0]),
                           lambda p: model._log_likelihood(p, h), h.customers, model="Pareto/NBD", max_evaluations=3)
    with pytest.raises(ConvergenceError, match=r"larger penalizer than 0.01 .*\[models\] penalizer = 0.1;"):
        fit_log_parameters(model.param_names, np.array([1.0, 1.0, 1.0, 1.0]),
                           lambda p: model._log_likelihood(p, h), h.customers, penalizer=0.01, max_evaluations=3)


@pytest.mark.parametrize("message, expected", [
    ("ABNORMAL: ", "no step along its last search direction improved the fit"),
    ("", "the optimiser gave no reason"),
    ("STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT", "its limit of iterations ran out"),
])
def test_scipy_stop_messages_become_plain_words(message, expected):
    """SciPy 1.17's L-BFGS-B reports a failed line search as the bare "ABNORMAL: "."""
    reason = _stop_reason(SimpleNamespace(message=message), 20, 200)
    assert reason.startswith(expected)
