"""Replenishment: how often a product is bought again by the same customer, and when it is due.

Everything is counted in *purchase days*: all of a customer's purchase lines of one product
on one calendar day are one purchase of it (as the models count, ``model_summary``). As of a
day D (orders through the end of D), for every known customer and product (a merchandise
line with a SKU and positive quantity, in a purchase order):

* a **repeat interval** is the number of days between two consecutive purchase days of the
  same product by the same customer (``repeat_intervals``);
* per product (``product_intervals``): ``buyers`` who bought it, ``repeat_buyers`` who bought
  it on two days or more, ``repeat_share`` = repeat buyers / buyers, ``intervals`` counted,
  their ``median_days`` and quartiles ``p25_days`` / ``p75_days`` (continuous percentiles,
  computed by the engine) and ``spread`` = (p75 - p25) / median;
* per category (``category_intervals``) the same over the intervals of the category's
  products: still the same product re-bought, pooled by category (products without a
  category are in none);
* a product is a **consumable** when there is evidence enough to call it one: at least
  ``MIN_REPEAT_BUYERS`` repeat buyers and ``MIN_INTERVALS`` intervals (so a median and
  quartiles mean something), a repeat share of at least ``MIN_REPEAT_SHARE`` (most of its
  buyers come back for it) and a spread of at most ``MAX_SPREAD`` (a rhythm: the middle
  half of the intervals lies within one median of each other). The spread is what tells
  a consumable from a popular product that is simply bought again now and then: re-order
  gaps of a consumable cluster around its interval (spread about 0.3 in the generated shop),
  gaps between unrelated re-purchases are nearly memoryless (an exponential distribution's
  quartiles are ln(4/3) and ln 4 times its mean, a spread of ln 3 / ln 2 = 1.58).

``reorders_due`` dates the next purchase of every consumable a customer bought: the last
purchase day + the product's median interval, rounded to whole days (halves up).
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import ibis
import pandas as pd
from ibis.expr.types import Table

from retainly.features.model_summary import end_of
from retainly.features.orders import customer_orders
from retainly.store.backends import Store

MIN_REPEAT_BUYERS = 10  # customers who bought the product on two days or more
MIN_INTERVALS = 20  # repeat intervals behind the median and quartiles
MIN_REPEAT_SHARE = 0.3  # repeat buyers / buyers
MAX_SPREAD = 1.0  # (p75 - p25) / median

INTERVAL_COLUMNS = ("buyers", "repeat_buyers", "repeat_share", "intervals", "median_days", "p25_days", "p75_days",
                    "spread", "consumable")


def product_purchases(store: Store, as_of: date) -> Table:
    """One row per purchase order and product bought in it, by known customers through the end of ``as_of``.

    Columns: order_id, customer_id, placed_at, sku. A product is a merchandise line with a SKU
    and positive quantity; shipping, fees and the like are not products.
    """
    bought = customer_orders(store)
    bought = bought.filter(bought.placed_at < end_of(as_of)).select("order_id", "customer_id", "placed_at")
    lines = store.table("order_lines")
    lines = lines.filter((lines.quantity > 0) & lines.sku.notnull() & (lines.kind == "merchandise"))
    joined = bought.join(lines.select("order_id", "sku"), "order_id")
    return joined.select("order_id", "customer_id", "placed_at", "sku").distinct()


def repeat_intervals(store: Store, as_of: date) -> Table:
    """One row per customer, product and purchase day: customer_id, sku, day, interval_days.

    ``interval_days`` is the number of days since the customer's previous purchase day of the
    same product; null on the first.
    """
    bought = product_purchases(store, as_of)
    days = bought.select("customer_id", "sku", day=bought.placed_at.date()).distinct()
    previous = days.day.lag().over(ibis.window(group_by=[days.customer_id, days.sku], order_by=days.day))
    return days.mutate(interval_days=days.day.delta(previous, unit="day").cast("int64"))


def _intervals_by(intervals: Table, key) -> Table:
    """Counts and quantiles of the intervals per value of ``key`` (an expression over ``intervals``)."""
    gap = intervals.interval_days
    return intervals.group_by(key).aggregate(
        buyers=intervals.customer_id.nunique(),
        repeat_buyers=intervals.customer_id.nunique(where=gap.notnull()),
        intervals=gap.count(),
        median_days=gap.quantile(0.5),
        p25_days=gap.quantile(0.25),
        p75_days=gap.quantile(0.75),
    )


def _finish(frame: pd.DataFrame, key: str, min_repeat_buyers: int, min_intervals: int, min_repeat_share: float,
            max_spread: float) -> pd.DataFrame:
    """Typed columns, the ratios, the consumable flag; strongest evidence first."""
    out = frame.copy()
    for column in ("buyers", "repeat_buyers", "intervals"):
        out[column] = out[column].astype("int64")
    for column in ("median_days", "p25_days", "p75_days"):
        out[column] = out[column].astype(float)
    out["repeat_share"] = out["repeat_buyers"] / out["buyers"]
    out["spread"] = (out["p75_days"] - out["p25_days"]) / out["median_days"].where(out["median_days"] > 0)
    out["consumable"] = (
        (out["repeat_buyers"] >= min_repeat_buyers) & (out["intervals"] >= min_intervals)
        & (out["repeat_share"] >= min_repeat_share) & (out["spread"] <= max_spread)
    ).astype(bool)
    out = out.sort_values(["consumable", "repeat_buyers", key], ascending=[False, False, True], kind="stable")
    return out.reset_index(drop=True)


def product_intervals(store: Store, as_of: date, min_repeat_buyers: int = MIN_REPEAT_BUYERS,
                      min_intervals: int = MIN_INTERVALS, min_repeat_share: float = MIN_REPEAT_SHARE,
                      max_spread: float = MAX_SPREAD) -> pd.DataFrame:
    """Per product bought by ``as_of``: sku, name, category and the INTERVAL_COLUMNS (see the module doc).

    Consumables first, then by repeat buyers. Quantiles are null for a product nobody re-bought.
    """
    intervals = repeat_intervals(store, as_of)
    stats = _intervals_by(intervals, "sku")
    products = store.table("products").select("sku", "name", "category")
    frame = stats.left_join(products, "sku").select("sku", "name", "category", *stats.columns[1:]).to_pandas()
    out = _finish(frame, "sku", min_repeat_buyers, min_intervals, min_repeat_share, max_spread)
    return out[["sku", "name", "category", *INTERVAL_COLUMNS]]


def category_intervals(store: Store, as_of: date, min_repeat_buyers: int = MIN_REPEAT_BUYERS,
                       min_intervals: int = MIN_INTERVALS, min_repeat_share: float = MIN_REPEAT_SHARE,
                       max_spread: float = MAX_SPREAD) -> pd.DataFrame:
    """Per category: category, products (bought by ``as_of``) and the INTERVAL_COLUMNS.

    The intervals are those of ``product_intervals`` (the same product re-bought), pooled over
    the category's products; a buyer is a customer who bought any of them, a repeat buyer one
    who re-bought any of them. ``consumable`` reads: the category as a whole re-orders.
    """
    intervals = repeat_intervals(store, as_of)
    products = store.table("products")
    products = products.filter(products.category.notnull()).select("sku", "category")
    joined = intervals.join(products, "sku")
    stats = _intervals_by(joined, "category")
    counts = joined.group_by("category").aggregate(products=joined.sku.nunique())
    frame = stats.join(counts, "category").to_pandas()
    frame["products"] = frame["products"].astype("int64")
    out = _finish(frame, "category", min_repeat_buyers, min_intervals, min_repeat_share, max_spread)
    return out[["category", "products", *INTERVAL_COLUMNS]]


def reorders_due(store: Store, as_of: date, intervals: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per customer and consumable they bought: when the next purchase of it is due.

    ``intervals`` is a ``product_intervals`` frame (computed as of ``as_of`` when not given);
    only its rows flagged ``consumable`` are used. Columns: customer_id, sku, purchase_days
    (days the customer bought it), last_purchase (date), interval_days (the product's median),
    due_date = last_purchase + interval_days rounded to whole days (halves up), days_overdue
    = as_of - due_date (negative while not yet due). Most overdue first.
    """
    if intervals is None:
        intervals = product_intervals(store, as_of)
    consumables = intervals.loc[intervals["consumable"], ["sku", "median_days"]]
    columns = ["customer_id", "sku", "purchase_days", "last_purchase", "interval_days", "due_date", "days_overdue"]
    if consumables.empty:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
    days = repeat_intervals(store, as_of)
    days = days.filter(days.sku.isin(list(consumables["sku"])))
    last = days.group_by("customer_id", "sku").aggregate(purchase_days=days.count(), last_purchase=days.day.max())
    frame = last.to_pandas().merge(consumables, on="sku")
    frame["customer_id"] = frame["customer_id"].astype("int64")
    frame["purchase_days"] = frame["purchase_days"].astype("int64")
    frame["last_purchase"] = pd.to_datetime(frame["last_purchase"]).dt.date
    frame["interval_days"] = frame["median_days"].astype(float)
    frame["due_date"] = [last + timedelta(days=math.floor(interval + 0.5))
                         for last, interval in zip(frame["last_purchase"], frame["interval_days"])]
    frame["days_overdue"] = [(as_of - due).days for due in frame["due_date"]]
    frame["days_overdue"] = frame["days_overdue"].astype("int64")
    frame = frame.sort_values(["days_overdue", "customer_id", "sku"], ascending=[False, True, True], kind="stable")
    return frame[columns].reset_index(drop=True)
