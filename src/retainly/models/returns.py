"""Returns in value: each customer's return rate, and expected spend net of it.

Gamma-Gamma (or the heuristics) predicts what a purchase is worth when it is made, gross of
returns: spend per purchase is positive, as the model needs, even for a customer who sends
everything back. What comes back is a second, separate habit, learnt from the summary's
``bought`` and ``returned`` (all of a customer's returns by the date, credit notes tied to no
order included). With R the shop's return rate (Σ returned / Σ bought) and k a weight in
money, a customer's rate is their own, shrunk toward the shop's the less they have bought:

    rate_i = (returned_i + k·R) / (bought_i + k)          (a Beta prior worth k of spend)
    net spend_i = gross spend_i · (1 − rate_i),  and 0 when bought_i − returned_i ≤ 0

so a new customer with nothing returned yet is not credited with never returning, and a
customer who kept nothing has shown no value: expected spend 0, hence CLV 0 and no VIP.

k is estimated from the shop (Bühlmann–Straub credibility with money as the exposure): a
customer's observed rate r_i = returned_i / bought_i varies around their true rate θ_i with
variance σ²/bought_i, and true rates vary across customers with variance τ², so
E[(r_i − R)²] = τ² + σ² / bought_i. A non-negative least-squares fit of the squared
deviations on (1, 1/bought_i) gives τ² and σ², and k = σ²/τ²: the spend at which a
customer's own rate counts as much as the shop's. No spread between customers (τ² = 0) pools
everyone at R (k is capped at the shop's total spend, ``bought`` summed); no noise (σ² = 0)
trusts each customer's own rate (k = 0).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from retainly.errors import InputError
from retainly.models.base import read_columns


class ReturnRates:
    """The shop's return rate ``return_rate`` (R) and the credibility weight ``return_weight`` (k)."""

    def __init__(self, return_rate: float = 0.0, return_weight: float = 0.0):
        if not 0 <= return_rate <= 1 or not return_weight >= 0:
            raise InputError(f"return rates need 0 <= `return_rate` <= 1 and `return_weight` >= 0; got "
                             f"{return_rate} and {return_weight}", parameter="return_rate")
        self.return_rate, self.return_weight = float(return_rate), float(return_weight)

    def fit(self, data, weights: np.ndarray | None = None) -> ReturnRates:
        """Estimate R and k (module docstring) from a summary with ``bought`` and ``returned``; ``weights``
        counts the customers of each row, for a summary of distinct rows."""
        bought, returned = _amounts(data)
        w = np.ones(len(bought)) if weights is None else np.asarray(weights, dtype=float)
        buyers = bought > 0
        bought, returned, w = bought[buyers], returned[buyers], w[buyers]
        total = float(bought.sum()) if weights is None else float(w @ bought)
        if total > 0:
            back = float(returned.sum()) if weights is None else float(w @ returned)
            self.return_rate = float(np.clip(back / total, 0.0, 1.0))
        else:
            self.return_rate = 0.0
        self.return_weight = 0.0
        if self.return_rate > 0 and w.sum() >= 2:
            own = np.clip(returned / bought, 0.0, 1.0)
            # Weighted least squares: each row counts as many times as it has customers.
            root = np.sqrt(w)
            (tau2, sigma2), _ = nnls(np.column_stack([root, root / bought]), root * (own - self.return_rate) ** 2)
            if sigma2 > 0:
                self.return_weight = total if tau2 <= 0 else float(min(sigma2 / tau2, total))
        return self

    def rates(self, data) -> np.ndarray:
        """Each customer's return rate, shrunk toward the shop's: (returned + k R) / (bought + k)."""
        bought, returned = _amounts(data)
        k = self.return_weight
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = (returned + k * self.return_rate) / (bought + k)
        return np.clip(np.where(bought + k > 0, rate, self.return_rate), 0.0, 1.0)

    def kept(self, data) -> np.ndarray:
        """The share of spend a customer keeps: 1 − rate, and 0 for one who kept nothing so far."""
        bought, returned = _amounts(data)
        return np.where(bought - returned > 0, 1.0 - self.rates(data), 0.0)

    def to_dict(self) -> dict:
        return {"return_rate": self.return_rate, "return_weight": self.return_weight}


class NetSpendModel:
    """A spend model (Gamma-Gamma or the heuristics) on gross spend, times each customer's kept share."""

    def __init__(self, gross, returns: ReturnRates):
        self.gross, self.returns = gross, returns

    @property
    def name(self) -> str:
        return self.gross.name

    @property
    def title(self) -> str:
        return self.gross.title

    def expected_spend(self, data) -> np.ndarray:
        """Expected net spend per purchase: the gross model's, times ``ReturnRates.kept``."""
        return self.gross.expected_spend(data) * self.returns.kept(data)

    def to_dict(self) -> dict:
        saved = self.gross.to_dict()
        return {**saved, "params": {**saved["params"], **self.returns.to_dict()}}


def fit_net_spend(gross, data) -> NetSpendModel:
    """``gross`` (already fitted) with return rates fitted on the same summary."""
    return NetSpendModel(gross, ReturnRates().fit(data))


def _amounts(data) -> tuple[np.ndarray, np.ndarray]:
    columns = read_columns(data, ("bought", "returned"))
    bought, returned = columns["bought"], columns["returned"]
    if (bought < 0).any() or (returned < 0).any():
        row = int(np.flatnonzero((bought < 0) | (returned < 0))[0])
        raise InputError(f"row {row} of the summary has bought {bought[row]:g} and returned {returned[row]:g}; "
                         "both are amounts of money and cannot be negative", parameter="summary")
    return bought, returned
