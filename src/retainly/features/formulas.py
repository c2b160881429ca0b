"""The KPI formulas, written once on plain numbers.

The engine counts and sums (customers, orders, revenue, spend); these functions turn the
counts into the ratios a shop owner reads. Each returns ``None`` where the ratio is
undefined (nothing to divide by) rather than 0 or infinity, so a report can say "n/a".
The seed articles' worked examples are their tests (``tests/features/test_formulas.py``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

Number = TypeVar("Number", int, float, Decimal)


def ratio(numerator, denominator) -> float | None:
    """numerator / denominator as a float, or None when the denominator is 0 or unknown."""
    if numerator is None or not denominator:
        return None
    return float(numerator) / float(denominator)


def cac(spend, acquired_customers) -> float | None:
    """Customer acquisition cost: marketing spend / customers acquired by it."""
    return ratio(spend, acquired_customers)


def aov(revenue, orders) -> float | None:
    """Average order value: revenue / number of orders."""
    return ratio(revenue, orders)


def purchase_frequency(orders, customers) -> float | None:
    """Orders per customer in the period."""
    return ratio(orders, customers)


def crr(customers_at_end, new_customers, customers_at_start) -> float | None:
    """Customer retention rate: (E - N) / S, a fraction (0.9795, not 97.95 %)."""
    if customers_at_end is None or new_customers is None:
        return None
    return ratio(customers_at_end - new_customers, customers_at_start)


def churn_rate(lost_customers, customers_at_start) -> float | None:
    """Share of the customers at the start of the period who are no longer customers at its end."""
    return ratio(lost_customers, customers_at_start)


def expected_lifetime(churn) -> float | None:
    """Expected lifetime in periods for a constant churn rate per period: 1 / churn."""
    return ratio(1, churn)


def simple_ltv(value_per_period, lifetime_periods) -> float | None:
    """Lifetime value = value a customer brings per period x expected lifetime in periods.

    With value per period = AOV x purchase frequency this is the seeds' AOV x frequency x lifetime.
    """
    if value_per_period is None or lifetime_periods is None:
        return None
    return float(value_per_period) * float(lifetime_periods)


def ltv_to_cac(ltv, acquisition_cost) -> float | None:
    return ratio(ltv, acquisition_cost)


def payback_months(acquisition_cost, revenue_per_customer_month) -> float | None:
    """Months of a customer's revenue it takes to earn back what acquiring them cost."""
    return ratio(acquisition_cost, revenue_per_customer_month)
