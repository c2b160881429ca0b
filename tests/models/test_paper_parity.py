"""The published maximum-likelihood estimates on the CDNOW sample (../shared/datasets/cdnow).

2,357 customers, 39-week calibration period, time in weeks. The expected values are the
published estimates listed in ../shared/datasets/README.md (there said to be reproduced by
two independent implementations):

* BG/NBD, Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", Marketing
  Science 24(2): r 0.243, α 4.414, a 0.793, b 2.426, LL -9582.43; and with these estimates
  the 2,357 customers are expected to make 1,653.4 repeat purchases in the 39-week holdout
  (the conditional expectation summed over customers).
* MBG/NBD, Batislam, Denizel & Filiztekin (2007), IJRM 24(3), on this summary:
  r 0.525, α 6.183, a 0.891, b 1.614, LL -9582.13.
* Pareto/NBD, Schmittlein, Morrison & Colombo (1987), on this summary: r 0.553, α 10.578, s 0.606, β 11.669, LL -9594.97.
* Gamma-Gamma, Fader, Hardie & Lee (2005), "RFM and CLV", JMR 42(4): fitted on the 946
  repeat buyers' mean repeat spend zbar, p 6.25, q 3.74, γ (retainly's v) 15.44, LL -4055.92.

"To three significant digits" means within half a unit of the published value's third
significant digit; log-likelihoods within 0.01.
"""

import math

import pytest

from retainly.models import BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel, ParetoNBDModel
from tests.models import cdnow

pytestmark = [pytest.mark.realdata, cdnow.needs_cdnow]


def three_significant_digits(published: float) -> float:
    """Half a unit in the third significant digit: 0.0005 for 0.243, 0.005 for 4.414, 0.05 for 10.578."""
    return 0.5 * 10 ** (math.floor(math.log10(abs(published))) - 2)


def assert_published(fitted: dict, published: dict):
    wrong = {name: (fitted[name], value) for name, value in published.items()
             if abs(fitted[name] - value) > three_significant_digits(value)}
    assert not wrong, f"(fitted, published) outside three significant digits: {wrong}"


def test_the_tolerance_is_half_a_unit_in_the_third_digit():
    assert three_significant_digits(0.243) == pytest.approx(0.0005)
    assert three_significant_digits(4.414) == pytest.approx(0.005)
    assert three_significant_digits(10.578) == pytest.approx(0.05)
    assert three_significant_digits(-9582.43) == pytest.approx(5.0)


@pytest.mark.parametrize("model_class, published, log_likelihood", [
    (BetaGeoModel, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, -9582.43),
    (ModifiedBetaGeoModel, {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}, -9582.13),
    (ParetoNBDModel, {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, -9594.97),
], ids=["bgnbd", "mbgnbd", "paretonbd"])
def test_purchase_models_reproduce_the_published_fit(model_class, published, log_likelihood):
    model = model_class().fit(cdnow.summary())
    assert_published(model.params_, published)
    assert model.log_likelihood_ == pytest.approx(log_likelihood, abs=0.01)
    assert model.customers_ == 2357
    # Standard errors exist and are small next to the estimates.
    assert all(0 < model.standard_errors_[n] < model.params_[n] for n in published)


def test_bgnbd_expected_purchases_over_the_39_week_holdout():
    """1,653.4 repeat purchases expected from the 2,357 customers in weeks 40-78 (the paper's
    conditional expectation summed over customers), to 0.1."""
    data = cdnow.summary()
    model = BetaGeoModel().fit(data)
    assert model.expected_purchases(39, data).sum() == pytest.approx(1653.4, abs=0.1)


@cdnow.needs_cdnow_spend
def test_gammagamma_reproduces_the_published_fit():
    data = cdnow.spend_summary()
    assert len(data) == 2357
    model = GammaGammaModel().fit(data)
    assert model.customers_ == 946  # the repeat buyers; one-time buyers carry zbar 0 and are not in the fit
    assert model.excluded_ == 0  # ... nor counted as excluded: only repeat buyers with spend <= 0 are
    assert_published(model.params_, {"p": 6.25, "q": 3.74, "v": 15.44})
    assert model.log_likelihood_ == pytest.approx(-4055.92, abs=0.01)
