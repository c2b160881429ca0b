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
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import ibis
import pandas as pd
from ibis.expr.types import Table

from retainly.features.orders import customer_orders
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


def customer_summary(store: Store, as_of: date) -> Table:
    """The summary's raw columns per customer who bought by ``as_of``, as an engine expression:
    customer_id, purchase_days, total (gross), first_spend, returned, span and age (whole days from the
    first purchase day to the last and to ``as_of``). ``model_summary`` and ``model_inputs`` read it."""
    days = purchase_days(store, as_of)
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
    """customer_id, day: each customer's purchase days by ``through``, as ``purchase_days`` has them,
    without their money (no returns to join)."""
    bought = customer_orders(store)
    bought = bought.filter(bought.placed_at < end_of(through))
    return bought.select("customer_id", day=bought.placed_at.date()).distinct()


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


def holdout_activity(store: Store, calibration_end: date, holdout_end: date) -> pd.DataFrame:
    """Per customer who bought by ``calibration_end`` and bought or returned in the holdout after it:
    purchase days, and net spend = what they bought in the holdout less what they returned in it
    (whichever order it came from, as ``model_summary`` counts ``returned``)."""
    calibration = purchase_days(store, calibration_end)
    known = calibration.select("customer_id").distinct()
    later = purchase_days(store, holdout_end, since=calibration_end)
    later = later.join(known, "customer_id")
    per_customer = later.group_by("customer_id").aggregate(purchases=later.count(), bought=later.bought.sum())
    back = customer_returns(store, holdout_end, since=calibration_end).join(known, "customer_id")
    both = per_customer.outer_join(back, "customer_id")
    frame = both.select(customer_id=both.customer_id.fill_null(both.customer_id_right),
                        purchases=both.purchases.fill_null(0),
                        spend=both.bought.fill_null(0) - both.returned.fill_null(0)).order_by("customer_id").to_pandas()
    return pd.DataFrame({"customer_id": frame["customer_id"].astype("int64"),
                         "purchases": frame["purchases"].astype("int64"), "spend": frame["spend"].astype(float)})


def holdout_by_day(store: Store, calibration_end: date, holdout_end: date) -> pd.DataFrame:
    """Purchase days per calendar day in the holdout, by customers who bought by ``calibration_end``."""
    calibration = purchase_days(store, calibration_end)
    known = calibration.select("customer_id").distinct()
    later = purchase_days(store, holdout_end, since=calibration_end).join(known, "customer_id")
    frame = later.group_by("day").aggregate(purchases=later.count()).order_by("day").to_pandas()
    return pd.DataFrame({"day": pd.to_datetime(frame["day"]).dt.date, "purchases": frame["purchases"].astype("int64")})
