"""Returns in value (retainly.models.returns): return rates, net expected spend, CLV; every
expected number is worked out by hand in the comment beside it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retainly.errors import InputError
from retainly.models import GammaGammaModel
from retainly.models import BetaGeoModel
from retainly.models.clv import customer_lifetime_value
from retainly.models.returns import NetSpendModel, ReturnRates, fit_net_spend
from tests.models.simulate import beta_geo


def _spenders(seed: int = 3, customers: int = 600) -> pd.DataFrame:
    """A simulated summary: BG/NBD purchases (r 0.25, α 4, a 0.8, b 2.5 over 39 weeks) with
    Gamma-Gamma spend (p 6, q 4, γ 15), bought = spend over all purchase days, nothing returned."""
    rng = np.random.default_rng(seed)
    data = beta_geo(rng, 0.25, 4.0, 0.8, 2.5, np.full(customers, 39.0)).reset_index(drop=True)
    # The mean of x purchases of Gamma(p, ν) is Gamma(p x, rate ν x); ν ~ Gamma(q, rate γ).
    x = np.maximum(data["frequency"].to_numpy(), 1.0)
    spend = rng.gamma(6.0 * x, 1.0 / (rng.gamma(4.0, 1.0 / 15.0, customers) * x))
    data["monetary_value"] = np.where(data["frequency"] > 0, spend, 0.0)
    data["bought"] = spend * (data["frequency"] + 1)
    data["returned"] = 0.0
    return data


def test_the_credibility_weight_on_a_population_the_formula_fits_exactly():
    # Four customers built so that (rate - R)² = τ² + σ²/bought holds exactly with R 0.2, τ² 0.0009,
    # σ² 0.216: bought 135 at rates 0.2 ± 0.05 ((0.05)² = 0.0009 + 0.216/135 = 0.0025) and bought 10
    # at 0.2 ± 0.15 ((0.15)² = 0.0009 + 0.0216 = 0.0225). Returned 33.75, 20.25, 3.5, 0.5: 58 of 290 = 0.2.
    # k = σ²/τ² = 0.216 / 0.0009 = 240.
    data = pd.DataFrame({"bought": [135.0, 135.0, 10.0, 10.0], "returned": [33.75, 20.25, 3.5, 0.5]})
    rates = ReturnRates().fit(data)
    assert (rates.return_rate, rates.return_weight) == pytest.approx((0.2, 240.0))
    # The customer of 135 at 0.25 is pulled toward 0.2: (33.75 + 240 * 0.2) / (135 + 240) = 81.75 / 375.
    assert rates.rates(data)[0] == pytest.approx(81.75 / 375)


def test_no_spread_between_customers_pools_everyone_at_the_shop_rate():
    # (rate - R)² = σ²/bought exactly, τ² = 0 (R 0.3, σ² 1): bought 100 at 0.3 ± 0.1, bought 25 at
    # 0.3 ± 0.2. Returned 40, 20, 12.5, 2.5 = 75 of 250. k is capped at the shop's total, 250.
    data = pd.DataFrame({"bought": [100.0, 100.0, 25.0, 25.0], "returned": [40.0, 20.0, 12.5, 2.5]})
    rates = ReturnRates().fit(data)
    assert (rates.return_rate, rates.return_weight) == pytest.approx((0.3, 250.0))
    # (40 + 250 * 0.3) / (100 + 250) = 115 / 350 = 0.3286: mostly the shop's rate.
    assert rates.rates(data)[0] == pytest.approx(115 / 350)


def test_a_shop_without_returns_keeps_everything():
    data = pd.DataFrame({"bought": [100.0, 20.0, 0.0], "returned": [0.0, 0.0, 0.0]})
    rates = ReturnRates().fit(data)
    assert (rates.return_rate, rates.return_weight) == (0.0, 0.0)
    # A customer with bought 0 (free items only) kept nothing: 0.
    assert list(rates.kept(data)) == [1.0, 1.0, 0.0]


def test_half_returned_scales_expected_spend_by_the_shrunk_kept_share():
    # R 0.2, k 240: bought 200, half returned -> rate (100 + 240 * 0.2) / (200 + 240) = 148 / 440;
    # kept 1 - 148/440 = 292/440 = 0.6636 of Gamma-Gamma's (gross) expected spend.
    data = _spenders()
    gross = GammaGammaModel().fit(data)
    row = data.iloc[[0]].assign(bought=200.0, returned=100.0)
    net = NetSpendModel(gross, ReturnRates(0.2, 240.0))
    assert net.expected_spend(row)[0] == pytest.approx(gross.expected_spend(row)[0] * 292 / 440)
    # Nothing returned yet still pays the shop's rate on the prior: 1 - 48/440 = 392/440.
    kept_all = data.iloc[[0]].assign(bought=200.0, returned=0.0)
    assert net.expected_spend(kept_all)[0] == pytest.approx(gross.expected_spend(kept_all)[0] * 392 / 440)


def test_everything_returned_is_worth_nothing():
    # Online Retail II's customer 12346: bought 77,556.46, returned 77,621.14 (net -64.68), a repeat
    # buyer whose gross mean spend is large. Another customer returned exactly what they bought.
    data = _spenders()
    data.loc[0, ["frequency", "recency", "monetary_value", "bought", "returned"]] = [11.0, 30.0, 7050.0, 77556.46,
                                                                                       77621.14]
    data.loc[1, ["bought", "returned"]] = [data.loc[1, "bought"], data.loc[1, "bought"]]
    spend = fit_net_spend(GammaGammaModel().fit(data), data)
    expected = spend.expected_spend(data)
    assert expected[0] == 0.0 and expected[1] == 0.0
    assert (expected[2:] > 0).all()
    clv = customer_lifetime_value(BetaGeoModel().fit(data), spend, data)
    assert clv[0] == 0.0 and clv[1] == 0.0 and clv.argmax() > 1


def test_gamma_gamma_fits_when_some_net_spend_is_not_positive():
    # A summary of net spend (a caller's own, not retainly's gross one) with three repeat buyers whose
    # returns ate everything (0, -5, -64.68): they are left out of the fit, which matches the fit on
    # the others alone, and they are predicted the population mean p γ / (q - 1).
    data = _spenders()
    net = data.copy()
    rows = net.index[net["frequency"] > 0][:3]
    net.loc[rows, "monetary_value"] = [0.0, -5.0, -64.68]
    model = GammaGammaModel().fit(net)
    alone = GammaGammaModel().fit(net.drop(rows))
    assert model.excluded_ == 3
    assert model.params_ == pytest.approx(alone.params_, rel=1e-6)
    assert model.expected_spend(net.loc[rows]) == pytest.approx([model.mean_spend()] * 3)


def test_saved_parameters_name_both_parts():
    data = _spenders()
    spend = fit_net_spend(GammaGammaModel().fit(data), data)
    saved = spend.to_dict()
    assert saved["model"] == spend.name == "gammagamma"
    assert set(saved["params"]) == {"p", "q", "v", "return_rate", "return_weight"}
    assert saved["params"]["return_rate"] == 0.0


def test_bad_amounts_and_settings_are_input_errors():
    with pytest.raises(InputError, match="row 1 of the summary has bought 10 and returned -1"):
        ReturnRates().fit(pd.DataFrame({"bought": [5.0, 10.0], "returned": [0.0, -1.0]}))
    with pytest.raises(InputError, match="no column 'returned'"):
        ReturnRates().fit(pd.DataFrame({"bought": [5.0]}))
    with pytest.raises(InputError, match="`return_rate`"):
        ReturnRates(1.5, 10.0)
