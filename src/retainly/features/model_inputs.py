"""What the models read, pulled from the engine as distinct rows with weights, not one row per customer.

``model_summary`` is one row per customer; the models need far less of it:

* the purchase models need (frequency, recency, T) only, and many customers share one: on the
  benchmark store (10 M orders) 534,194 distinct histories for 988,020 customers. They are pulled
  grouped by the engine's whole-day keys (purchase days, span, age) with a weight, the customers
  who share them, and fitted and predicted once per history (``Histories``);
* Gamma-Gamma needs each repeat buyer's (frequency, mean repeat spend): money makes these nearly
  unique (494,004 distinct of 589,962 repeat buyers there), so they are pulled per distinct pair,
  repeat buyers only, with a weight;
* the return rates (``retainly.models.returns``) need each buyer's (bought, returned): pulled per
  distinct pair with a weight (378,573 pairs there). The engine could sum what the least squares
  need, but its float sums come in an order of its own, and the fit must come out the same on
  every engine and every run.

Predictions go back to customers in the engine by the same keys (``scores.by_history``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from ibis.expr.types import Table

from retainly.models.base import Histories
from retainly.settings import TIME_UNITS

KEYS = ("purchase_days", "span", "age")  # a history in whole days, as the engine holds it


@dataclass
class ModelInputs(Histories):
    """Distinct histories with weights (in ``Histories`` order, each customer's history found by
    ``keys``), the repeat buyers' spend and the buyers' money per distinct pair, and the engine's
    per-customer summary they came from."""

    keys: pd.DataFrame  # purchase_days, span, age of each distinct history, in the order of ``frequency``
    spend: pd.DataFrame  # frequency, monetary_value, weight: repeat buyers per distinct pair
    returns: pd.DataFrame  # bought, returned, weight: buyers per distinct pair
    customers_table: Table  # the engine's per-customer summary (``customer_summary``)

    @property
    def repeat_buyers(self) -> int:
        return int(round(self.weight[self.frequency > 0].sum()))


def model_inputs(customers: Table, unit: str) -> ModelInputs:
    """The models' inputs from ``customers`` (``customer_summary``, best materialised: it is read
    three times here and once more to store the scores): distinct histories in ``unit``, the repeat
    buyers' spend and the buyers' money, each with weights."""
    size = TIME_UNITS[unit]
    grouped = customers.group_by(list(KEYS)).aggregate(weight=customers.count()).to_pandas()
    keys = grouped[list(KEYS)].astype("int64")
    frequency = (keys["purchase_days"] - 1).to_numpy(dtype=float)
    # As model_summary computes them, so that fits and predictions are those of the per-customer summary.
    recency = keys["span"].to_numpy(dtype=float) / size
    T = keys["age"].to_numpy(dtype=float) / size
    merged = Histories.from_arrays(frequency, recency, T, grouped["weight"].to_numpy(dtype=float))
    ordered = np.empty((len(merged.weight), len(KEYS)), dtype=np.int64)
    ordered[merged.inverse] = keys.to_numpy()  # distinct rows: inverse is a permutation
    repeat = customers.filter(customers.purchase_days > 1)
    pairs = repeat.group_by(purchase_days=repeat.purchase_days, repeat_spend=repeat.total - repeat.first_spend)
    spend = pairs.aggregate(weight=repeat.count()).to_pandas()
    repeats = spend["purchase_days"].astype("int64") - 1
    spend = pd.DataFrame({"frequency": repeats, "monetary_value": spend["repeat_spend"].astype(float) / repeats,
                          "weight": spend["weight"].astype(float)})
    buyers = customers.filter(customers.total > 0)
    returns = buyers.group_by(bought=buyers.total, returned=buyers.returned).aggregate(weight=buyers.count())
    returns = returns.to_pandas().astype(float)
    return ModelInputs(merged.frequency, merged.recency, merged.T, merged.weight, np.arange(len(merged.weight)),
                       keys=pd.DataFrame(ordered, columns=list(KEYS)), spend=_in_order(spend),
                       returns=_in_order(returns), customers_table=customers)


def _in_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in a fixed order, whatever order the engine grouped them in: a fit then sums the same
    numbers the same way, and stores the same parameters on every engine and every run."""
    return frame.sort_values(list(frame.columns), kind="stable", ignore_index=True)
