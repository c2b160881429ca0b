"""The per-customer summary the models read, built inside the engine.

The models count *purchase days*: all of a customer's purchase orders on one calendar day
are one purchase (the literature's convention, and the CDNOW data's). As of a date D (orders
through the end of that day):

* ``frequency`` = purchase days - 1 (repeat purchases);
* ``recency`` = days from the first to the last purchase day, in the time unit;
* ``T`` = days from the first purchase day to D, in the time unit (0 for a first purchase on D);
* ``monetary_value`` = the mean spend of the repeat purchase days, gross of returns (0 without
  one): what a purchase is worth before anything comes back, always positive, as Gamma-Gamma needs;
* ``first_spend`` = the first purchase day's spend, gross of returns;
* ``bought`` = the revenue of all purchase days by D, gross; ``returned`` = everything the
  customer returned by D: returns of their purchase orders, and returns tied to no order (a
  credit note, as in Online Retail II) matched by the return's customer. Returns tied to an
  order that is no purchase (a cancelled one) count for nothing, as that order's revenue.

``bought - returned`` is the customer's net value to date; the spend model turns the two into
a return rate (``retainly.models.returns``), so expected spend is net of returns.

``model_inputs`` pulls what the models need as distinct rows with weights, not one row per customer:

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
from datetime import date, datetime, timedelta

import ibis
import numpy as np
import pandas as pd
from ibis.expr.types import Table

from retainly.features.orders import customer_orders
from retainly.models.base import Histories
from retainly.settings import TIME_UNITS
from retainly.store.backends import Store


def end_of(day: date) -> datetime:
    """The first instant after ``day``: everything placed before it happened by the end of that day."""
    return datetime(day.year, day.month, day.day) + timedelta(days=1)


def purchase_days(store: Store, through: date, since: date | None = None) -> Table:
    """One row per customer and purchase day in (``since``, ``through``]: customer_id, day, spend (net)."""
    bought = customer_orders(store)
    bought = bought.filter(bought.placed_at < end_of(through))
    if since is not None:
        bought = bought.filter(bought.placed_at >= end_of(since))
    returns = store.table("returns")
    returns = returns.filter(returns.order_id.notnull() & (returns.returned_at < end_of(through)))
    returned = returns.group_by("order_id").aggregate(returned=returns.amount.sum())
    joined = bought.left_join(returned, "order_id")
    net = joined.mutate(day=joined.placed_at.date(), net=joined.revenue - joined.returned.fill_null(0))
    return net.group_by("customer_id", "day").aggregate(spend=net.net.sum(), bought=net.revenue.sum())


def customer_returns(store: Store, through: date, since: date | None = None) -> Table:
    """Per customer, what they returned in (``since``, ``through``]: customer_id, returned. A return
    tied to an order counts for that order's customer when the order is a purchase (else for no
    one); one tied to no order counts for the return's customer."""
    returns = store.table("returns")
    returns = returns.filter(returns.returned_at < end_of(through))
    if since is not None:
        returns = returns.filter(returns.returned_at >= end_of(since))
    orders = customer_orders(store).select("order_id", "customer_id")
    # The same column types on both sides of the union (nullability included): money as float.
    tied = returns.select("order_id", "amount").join(orders, "order_id")
    tied = tied.select(customer_id=tied.customer_id.cast("int64"), amount=tied.amount.cast("float64"))
    untied = returns.filter(returns.order_id.isnull() & returns.customer_id.notnull())
    untied = untied.select(customer_id=untied.customer_id.cast("int64"), amount=untied.amount.cast("float64"))
    both = tied.union(untied, distinct=False)
    return both.group_by("customer_id").aggregate(returned=both.amount.sum())


def bought_days(store: Store, through: date) -> Table:
    """One row per customer and purchase day by ``through``: customer_id, day, bought (gross of returns).

    ``purchase_days`` without the returns: what the purchase models and the summary's gross money read.
    ``retainly score`` materialises it once as of its date, and every later question (the summary at
    the date and at the backtest's cut, the holdout, the calibration windows) filters it by day instead
    of grouping all the orders by customer and day again: that grouping is most of each one's time."""
    bought = customer_orders(store)
    bought = bought.filter(bought.placed_at < end_of(through))
    bought = bought.mutate(day=bought.placed_at.date())
    return bought.group_by("customer_id", "day").aggregate(bought=bought.revenue.sum())


def days_between(days: Table, through: date, since: date | None = None) -> Table:
    """The rows of ``days`` (customer_id, day, ...) in (``since``, ``through``]."""
    kept = days.filter(days.day <= through)
    return kept if since is None else kept.filter(kept.day > since)


def customer_summary(store: Store, as_of: date, days: Table | None = None) -> Table:
    """The summary's raw columns per customer who bought by ``as_of``, as an engine expression:
    customer_id, purchase_days, total (gross), first_spend, returned, span and age (whole days from the
    first purchase day to the last and to ``as_of``). ``model_summary`` and ``model_inputs`` read it.
    ``days`` are ``bought_days`` as of ``as_of`` or later, when the caller has them at hand."""
    days = bought_days(store, as_of) if days is None else days_between(days, as_of)
    per_customer = days.group_by("customer_id").aggregate(
        first_day=days.day.min(), last_day=days.day.max(), purchase_days=days.count(),
        # Money as float in the engine: building one Python Decimal per value was most of the transfer.
        total=days.bought.sum().cast("float64"), first_spend=days.bought.argmin(days.day).cast("float64"),
    )
    per_customer = per_customer.left_join(customer_returns(store, as_of), "customer_id")
    return per_customer.select(
        "customer_id", "purchase_days", "total", "first_spend", returned=per_customer.returned.fill_null(0),
        span=per_customer.last_day.delta(per_customer.first_day, unit="day"),
        age=ibis.literal(as_of).delta(per_customer.first_day, unit="day"),
    )


def model_summary(store: Store, as_of: date, unit: str = "week") -> pd.DataFrame:
    """customer_id, frequency, recency, T, monetary_value, first_spend, bought, returned for every customer
    who bought by ``as_of``."""
    frame = customer_summary(store, as_of).order_by("customer_id").to_pandas()
    size = TIME_UNITS[unit]
    frequency = frame["purchase_days"].astype("int64") - 1
    repeat_spend = frame["total"].astype(float) - frame["first_spend"].astype(float)
    return pd.DataFrame({
        "customer_id": frame["customer_id"].astype("int64"),
        "frequency": frequency,
        "recency": frame["span"].astype(float) / size,
        "T": frame["age"].astype(float) / size,
        "monetary_value": (repeat_spend / frequency.where(frequency > 0)).fillna(0.0),
        "first_spend": frame["first_spend"].astype(float),
        "bought": frame["total"].astype(float),
        "returned": frame["returned"].astype(float),
    })


def customer_days(store: Store, through: date) -> Table:
    """customer_id, day: each customer's purchase days by ``through`` (``bought_days`` without their money)."""
    return bought_days(store, through).select("customer_id", "day")


def customer_histories(store: Store, as_of: date, unit: str = "week") -> pd.DataFrame:
    """customer_id, frequency, recency, T as ``model_summary`` gives them, without the money: all a
    purchase model reads, from the purchase orders' days alone (no sums, no returns)."""
    days = customer_days(store, as_of)
    per_customer = days.group_by("customer_id").aggregate(
        purchase_days=days.count(), span=days.day.max().delta(days.day.min(), unit="day"),
        age=ibis.literal(as_of).delta(days.day.min(), unit="day"))
    frame = per_customer.order_by("customer_id").to_pandas()
    size = TIME_UNITS[unit]
    return pd.DataFrame({"customer_id": frame["customer_id"].astype("int64"),
                         "frequency": frame["purchase_days"].astype("int64") - 1,
                         "recency": frame["span"].astype(float) / size, "T": frame["age"].astype(float) / size})


def holdout_activity_table(store: Store, calibration_end: date, holdout_end: date, known: Table | None = None,
                           days: Table | None = None) -> Table:
    """``holdout_activity`` as an engine expression (customer_id, purchases, spend); ``known`` (customer_id)
    are the customers who bought by ``calibration_end``, and ``days`` ``bought_days`` as of ``holdout_end``
    or later, when the caller has them at hand."""
    known = _buyers_by(store, calibration_end) if known is None else known
    later = _days_after(store, calibration_end, holdout_end, days).join(known, "customer_id")
    per_customer = later.group_by("customer_id").aggregate(purchases=later.count(), bought=later.bought.sum())
    back = customer_returns(store, holdout_end, since=calibration_end).join(known, "customer_id")
    both = per_customer.outer_join(back, "customer_id")
    return both.select(customer_id=both.customer_id.fill_null(both.customer_id_right),
                       purchases=both.purchases.fill_null(0),
                       spend=(both.bought.fill_null(0) - both.returned.fill_null(0)).cast("float64"))


def holdout_activity(store: Store, calibration_end: date, holdout_end: date) -> pd.DataFrame:
    """Per customer who bought by ``calibration_end`` and bought or returned in the holdout after it:
    purchase days, and net spend = what they bought in the holdout less what they returned in it
    (whichever order it came from, as ``model_summary`` counts ``returned``)."""
    frame = holdout_activity_table(store, calibration_end, holdout_end).order_by("customer_id").to_pandas()
    return pd.DataFrame({"customer_id": frame["customer_id"].astype("int64"),
                         "purchases": frame["purchases"].astype("int64"), "spend": frame["spend"].astype(float)})


def _buyers_by(store: Store, day: date) -> Table:
    """customer_id of every customer with a purchase day by ``day``."""
    return bought_days(store, day).select("customer_id").distinct()


def _days_after(store: Store, since: date, through: date, days: Table | None) -> Table:
    """``bought_days`` in (``since``, ``through``], from ``days`` when given."""
    return days_between(bought_days(store, through) if days is None else days, through, since)


def holdout_by_day(store: Store, calibration_end: date, holdout_end: date, known: Table | None = None,
                   days: Table | None = None) -> pd.DataFrame:
    """Purchase days per calendar day in the holdout, by customers who bought by ``calibration_end``
    (``known``, customer_id, and ``days``, ``bought_days`` as of ``holdout_end`` or later, when the
    caller has them at hand)."""
    known = _buyers_by(store, calibration_end) if known is None else known
    later = _days_after(store, calibration_end, holdout_end, days).join(known, "customer_id")
    frame = later.group_by("day").aggregate(purchases=later.count()).order_by("day").to_pandas()
    return pd.DataFrame({"day": pd.to_datetime(frame["day"]).dt.date, "purchases": frame["purchases"].astype("int64")})


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
