"""What the buyer types are computed from, built in the engine (Ibis) as of a day.

"As of a day" means the purchase orders of known customers through the end of that day
(``as_of_day`` defaults it to the day of the last purchase order).

* **Promoted order** (``order_facts``, ``promotion_sources``): a purchase order with a promo
  code, or a discount (``orders.discount``, which the loader fills with the order's own
  discount plus its line discounts and discount lines), or placed on a day of a sale period
  of the ``promotions`` calendar. The store may hold any of the three sources or none; with
  none, promotions are unknown and nobody is labelled discount_only: the result says so
  instead of guessing.
* **Early features** (``early_features``): per customer, what is known right after their
  first (or second) order, the early classifier's inputs (``feature_columns``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import ibis
import numpy as np
import pandas as pd
from ibis.expr.types import Table

from retainly.errors import InputError
from retainly.features.model_summary import end_of
from retainly.features.orders import customer_orders, purchase_span
from retainly.store.backends import Store

SOURCES = ("promo_code", "discount", "sale_period")
_SOURCE_NAMES = {"promo_code": "promo codes", "discount": "order or line discounts",
                 "sale_period": "promotion calendar"}
RETURN_WINDOW_DAYS = 30  # a return within this many days of the order counts as "the order had a return"


# -- promotions -----------------------------------------------------------------------------
def promotion_sources(store: Store) -> dict:
    """Which promotion sources the store holds: promo_code, discount, sale_period (bools), known, note."""
    found = {
        "promo_code": store.fetchone(
            "SELECT 1 FROM orders WHERE promo_code IS NOT NULL AND TRIM(promo_code) <> '' LIMIT 1") is not None,
        "discount": store.fetchone("SELECT 1 FROM orders WHERE discount > 0 LIMIT 1") is not None
        or store.fetchone("SELECT 1 FROM order_lines WHERE discount > 0 LIMIT 1") is not None,
        "sale_period": store.fetchone("SELECT 1 FROM promotions LIMIT 1") is not None,
    }
    known = any(found.values())
    present = [("the " if s == "sale_period" else "") + _SOURCE_NAMES[s] for s in SOURCES if found[s]]
    absent = [_SOURCE_NAMES[s] for s in SOURCES if not found[s]]
    if not known:
        note = ("promotions unknown: the store has no promo codes, no order or line discounts and no promotion "
                "calendar, so nobody is labelled discount_only (import orders with promo_code or discounts, or a "
                "promotions file, to find discount-only buyers)")
    elif absent:
        note = (f"promoted orders come from {_words(present)}; the store has no {_words(absent, 'and no')}, "
                "so promotions seen only there are missed")
    else:
        note = f"promoted orders come from {_words(present)}"
    return {**found, "known": known, "note": note}


def _words(items: list[str], last: str = "and") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


# -- per-order facts ----------------------------------------------------------------------
def order_facts(store: Store, as_of: date) -> Table:
    """One row per purchase order of a known customer through the end of ``as_of`` (an Ibis table).

    Columns: customer_id, order_id, order_no (0 for the first order, by time then order id),
    placed_at, revenue, channel, order_country (ship-to), has_promo_code, has_discount, in_sale, promoted.
    """
    bought = customer_orders(store)
    bought = bought.filter(bought.placed_at < end_of(as_of))
    orders = store.table("orders")
    discounts = orders.select("order_id", order_discount=orders.discount, order_country=orders.country)
    promos = store.table("promotions")
    dated = bought.select("order_id", day=bought.placed_at.date())
    in_sale = (dated.join(promos, [dated.day >= promos.starts_on, dated.day <= promos.ends_on])
               .select("order_id").distinct().mutate(sale_hit=ibis.literal(1)))
    joined = bought.left_join(discounts, "order_id").left_join(in_sale, "order_id")
    has_code = joined.promo_code.strip().fill_null("") != ""
    has_discount = joined.order_discount.fill_null(0) > 0
    sale = joined.sale_hit.notnull()
    facts = joined.select(
        "customer_id", "order_id", "placed_at", "revenue", "channel", "order_country",
        has_promo_code=has_code, has_discount=has_discount, in_sale=sale,
        promoted=has_code | has_discount | sale,
    )
    order_no = ibis.row_number().over(group_by="customer_id", order_by=["placed_at", "order_id"])
    return facts.mutate(order_no=order_no).select(
        "customer_id", "order_id", "order_no", "placed_at", "revenue", "channel", "order_country",
        "has_promo_code", "has_discount", "in_sale", "promoted",
    )


def as_of_day(store: Store, as_of: date | None) -> date:
    """``as_of``, or when None the day of the last purchase order."""
    if as_of is not None:
        return as_of
    last = purchase_span(store)[1]
    if last is None:
        raise InputError("the store has no purchase orders yet; import orders first (see `retainly import --help`)")
    return last.date()


# -- early features -------------------------------------------------------------------------
CATEGORICAL = {1: ("first_channel", "acquisition_channel", "country", "first_category", "first_month"),
               2: ("first_channel", "acquisition_channel", "country", "first_category", "first_month",
                   "second_category")}
FLAGS = {1: ("first_promo_code", "first_discount", "first_in_sale", "first_returned"),
         2: ("first_promo_code", "first_discount", "first_in_sale", "first_returned",
             "second_promo_code", "second_discount", "second_in_sale")}
AMOUNTS = {1: ("first_revenue", "first_items", "first_lines", "first_mean_item_price"),
           2: ("first_revenue", "first_items", "first_lines", "first_mean_item_price",
               "second_revenue", "second_items", "second_lines", "days_to_second")}
_NUMERIC = {k: FLAGS[k] + AMOUNTS[k] for k in (1, 2)}


def feature_columns(after_orders: int) -> tuple[str, ...]:
    """The classifier's inputs after the first (1) or second (2) order: categorical first, then numeric."""
    check_after_orders(after_orders)
    return CATEGORICAL[after_orders] + _NUMERIC[after_orders]


def check_after_orders(after_orders: int) -> None:
    """Raise InputError unless ``after_orders`` is 1 or 2."""
    if after_orders not in (1, 2):
        raise InputError(f"after_orders must be 1 or 2, not {after_orders!r}")


def early_features(store: Store, as_of: date | None, after_orders: int) -> pd.DataFrame:
    """What is known of each customer right after their first (1) or second (2) order.

    One row per customer with at least ``after_orders`` purchase orders by ``as_of``, from
    those first orders only: customer_id, first_order_on, kth_order_on, orders_to_date (for
    choosing who to predict, never a feature), then ``feature_columns(after_orders)``.
    A first-order return counts when it came within 30 days of the order (and by ``as_of``).
    """
    check_after_orders(after_orders)
    as_of = as_of_day(store, as_of)
    with first_two_orders(store, order_facts(store, as_of), as_of) as early:
        return typed_features(early_rows(early, after_orders).order_by("customer_id").to_pandas(), after_orders)


def early_rows(early: Table, after_orders: int) -> Table:
    """The customers of ``first_two_orders`` with at least ``after_orders`` orders, and the day of that
    order (``kth_day``)."""
    check_after_orders(after_orders)
    rows = early.filter(early.early_orders >= after_orders)
    return rows.mutate(kth_day=rows.first_day if after_orders == 1 else rows.second_day)


@contextmanager
def first_two_orders(store: Store, facts: Table, as_of: date) -> Iterator[Table]:
    """Per customer, what their first two orders say (materialised for the block): ``early_orders`` (1
    or 2), ``orders_to_date``, the first order's facts and, where there is one, the second's. Both early
    classifiers read it: ``early_rows`` picks the customers of one, ``typed_features`` its columns.
    ``facts``: ``order_facts(store, as_of)`` or a materialised copy of it."""
    counts = facts.group_by("customer_id").aggregate(orders_to_date=facts.count())
    early = facts.filter(facts.order_no < 2)
    early = early.join(counts, "customer_id").select(*early.columns, "orders_to_date")
    customers = store.table("customers").select("customer_id", "acquisition_channel", customer_country="country")
    early = early.left_join(customers, "customer_id").select(*early.columns, "acquisition_channel", "customer_country")
    # Materialised, and every join done per order before grouping: PostgreSQL misjudges windowed
    # and grouped rows as one row and then loops over them (60 s instead of 1 s on 5,000 customers).
    with store.scratch(early) as early, store.scratch(_per_customer(store, early, as_of)) as per_customer:
        yield per_customer


def _per_customer(store: Store, early: Table, as_of: date) -> Table:
    """One row per customer from their first two orders (``early``)."""
    lines = store.table("order_lines")
    merch = lines.filter((lines.quantity > 0) & (lines.kind == "merchandise"))
    products = store.table("products").select("sku", "category")
    merch = merch.join(early.select("order_id"), "order_id").left_join(products, "sku")
    merch = merch.mutate(category=merch.category.fill_null("unknown"))
    baskets = merch.group_by("order_id").aggregate(items=merch.quantity.sum(), lines=merch.count(),
                                                   merchandise=merch.amount.sum())
    by_category = merch.group_by("order_id", "category").aggregate(amount=merch.amount.sum())
    main_rank = ibis.row_number().over(group_by="order_id", order_by=[by_category.amount.desc(),
                                                                      by_category.category])
    main = by_category.mutate(rank=main_rank)
    main = main.filter(main.rank == 0).select("order_id", main_category="category")

    returns = store.table("returns")
    returns = returns.filter(returns.order_id.notnull() & (returns.returned_at < end_of(as_of)))
    timed = early.select("order_id", order_at="placed_at")
    returned = returns.join(timed, "order_id")
    returned = (returned.filter(returned.returned_at < returned.order_at + ibis.interval(days=RETURN_WINDOW_DAYS))
                .select("order_id").distinct().mutate(returned=ibis.literal(1)))

    per_order = early
    for extra in (baskets, main, returned):
        joined = per_order.left_join(extra, "order_id")
        per_order = joined.select(*per_order.columns, *(c for c in extra.columns if c != "order_id"))
    per_order = per_order.mutate(day=per_order.placed_at.date())

    def nth(column, n: int):
        return column.max(where=per_order.order_no == n)

    def order(prefix: str, n: int) -> dict:
        """What the n-th order (0 the first) says, each column named ``prefix_...``."""
        flags = {"promo_code": per_order.has_promo_code, "discount": per_order.has_discount,
                 "in_sale": per_order.in_sale}
        return {
            f"{prefix}_day": nth(per_order.day, n),
            f"{prefix}_revenue": nth(per_order.revenue, n).cast("float64"),  # money as float in the engine
            f"{prefix}_items": nth(per_order.items, n),
            f"{prefix}_lines": nth(per_order.lines, n),
            f"{prefix}_category": nth(per_order.main_category, n),
            f"{prefix}_at": nth(per_order.placed_at, n),
            **{f"{prefix}_{name}": nth(value.ifelse(1, 0), n) for name, value in flags.items()},
        }

    metrics = dict(
        **order("first", 0),
        **order("second", 1),
        first_merchandise=nth(per_order.merchandise, 0).cast("float64"),
        first_returned=nth(per_order.returned, 0),
        first_channel=nth(per_order.channel, 0),
        first_month=nth(per_order.placed_at.month(), 0),
        first_country=nth(per_order.order_country, 0),
        early_orders=per_order.count(),
        orders_to_date=per_order.orders_to_date.max(),
        recorded_channel=per_order.acquisition_channel.max(),
        customer_country=per_order.customer_country.max(),
    )
    per_customer = per_order.group_by("customer_id").aggregate(**metrics)
    per_customer = per_customer.mutate(
        days_to_second=(per_customer.second_at.epoch_seconds() - per_customer.first_at.epoch_seconds()) / 86400.0)
    # The acquisition channel as in features.orders.acquisitions: recorded, else the first order's, else unknown.
    return per_customer.mutate(
        acquisition_channel=ibis.coalesce(per_customer.recorded_channel, per_customer.first_channel,
                                          ibis.literal("unknown")),
        country=ibis.coalesce(per_customer.customer_country, per_customer.first_country, ibis.literal("unknown")),
    )


def typed_features(frame: pd.DataFrame, after_orders: int) -> pd.DataFrame:
    """``early_rows`` read back: the columns of ``early_features``, typed for the classifier."""
    out = pd.DataFrame({
        "customer_id": frame["customer_id"].astype("int64"),
        "first_order_on": pd.to_datetime(frame["first_day"]).dt.date,
        "kth_order_on": pd.to_datetime(frame["second_day" if after_orders == 2 else "first_day"]).dt.date,
        "orders_to_date": frame["orders_to_date"].astype("int64"),
    })
    for column in CATEGORICAL[after_orders]:
        values = frame[column].astype(object).where(frame[column].notna(), "unknown")
        out[column] = values.map(lambda v: str(int(v)) if isinstance(v, (int, float, np.integer)) else str(v))
    money = {"first_revenue", "second_revenue"}
    for column in _NUMERIC[after_orders]:
        if column == "first_mean_item_price":
            merch = frame["first_merchandise"].astype(float)
            items = frame["first_items"].astype(float)
            out[column] = (merch / items.where(items > 0)).astype(float)
        elif column in money or column == "days_to_second":
            out[column] = frame[column].astype(float)
        else:
            out[column] = frame[column].fillna(0).astype(float)
    return out
