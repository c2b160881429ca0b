"""Customer lifetime value over a horizon: expected purchases month by month, discounted, times
the expected spend per purchase (net of returns with ``retainly.models.returns.NetSpendModel``).

    CLV = E[spend per purchase] · Σ_{i=1..months} (E[Y(i·m)] - E[Y((i-1)·m)]) / (1 + d)^i

with m the length of a month in the model's time unit and d the monthly discount rate (the
same sum as lifetimes' ``customer_lifetime_value``). Each horizon's expectation is computed
once, on distinct histories only, and the discount factors fold into one weight per month.
"""

from __future__ import annotations

import numpy as np

from retainly.errors import InputError
from retainly.models.base import Histories
from retainly.models.gammagamma import GammaGammaModel
from retainly.models.purchase_model import PurchaseModel
from retainly.models.returns import NetSpendModel

DAYS_PER_MONTH = 365.25 / 12


def discounted_purchases(model: PurchaseModel, data, months: int, discount_rate: float,
                         units_per_month: float) -> np.ndarray:
    """Σ_i (E[Y(i·m)] - E[Y((i-1)·m)]) / (1 + d)^i per customer: purchases in present-value terms.

    ``data`` is a summary, or its ``Histories`` when already merged."""
    if months < 1 or discount_rate < 0 or units_per_month <= 0:
        raise InputError(f"CLV needs months >= 1, a discount rate >= 0 and a positive month length; got "
                         f"{months}, {discount_rate}, {units_per_month}")
    h = Histories.from_data(data)
    p = model._params()
    cumulative = np.zeros((months + 1, len(h.weight)))
    for i in range(1, months + 1):
        cumulative[i] = model._expected(p, i * units_per_month, h.frequency, h.recency, h.T)
    discount = (1.0 + discount_rate) ** -np.arange(1, months + 1)
    return h.spread(discount @ np.diff(cumulative, axis=0))


def customer_lifetime_value(purchase_model: PurchaseModel, spend_model: GammaGammaModel | NetSpendModel, data,
                            months: int = 12,
                            discount_rate: float = 0.01, units_per_month: float = DAYS_PER_MONTH,
                            histories: Histories | None = None) -> np.ndarray:
    """Discounted value of each customer's next ``months``; ``data`` needs frequency, recency, T, monetary_value
    (and bought, returned for a ``NetSpendModel``).

    Pass ``histories`` (``Histories.from_data(data)``) when already merged, to skip merging again."""
    purchases = discounted_purchases(purchase_model, histories if histories is not None else data, months,
                                     discount_rate, units_per_month)
    return purchases * spend_model.expected_spend(data)
