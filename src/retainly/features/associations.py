"""Associations: products bought together, products bought one after another, and what to offer next.

All counts come from ``product_purchases`` (retainly.features.replenishment): the products
(merchandise lines with a SKU and positive quantity) of known customers' purchase orders
through the end of the as-of day. Rules are ordered pairs (A, B): "A, then B" is not "B, then A".

**Basket pairs** (``basket_pairs``) count *baskets*, the purchase orders with a product:

* ``orders_a``, ``orders_b``: baskets holding A, holding B; ``orders_both``: holding both;
* ``support`` = orders_both / all baskets; ``confidence`` = orders_both / orders_a;
  ``lift`` = confidence / (orders_b / all baskets), 1 when A and B are independent.

A pair needs ``orders_both >= min_orders`` (default ``MIN_BASKET_ORDERS``): below that a
lift is noise (one coincidence between two rare products gives a lift in the thousands).

**Sequence pairs** (``sequence_pairs``, "A, then B") count *customers*, with a window of
``within_days`` days. Let a customer's first purchase of a product be the time of their first
purchase order holding it, and ``cutoff`` = the end of the as-of day - within_days, so that
everyone first buying before it had the whole window to buy again:

* ``customers_a``: customers whose first purchase of A is at or before ``cutoff``;
* ``customers_then_b``: of those, the customers whose first purchase of B came strictly later
  than their first of A and at most ``within_days`` days after it (so B bought in the same
  order as A, or before A, does not count: that is a basket, or B was already owned);
* ``confidence`` = customers_then_b / customers_a;
* ``base_rate`` of B: of the customers whose first purchase order is at or before ``cutoff``,
  the share whose first purchase of B came strictly after that first order and at most
  ``within_days`` days after it: how often B follows "any first order" within the window;
* ``lift`` = confidence / base_rate; ``support`` = customers_then_b / customers (everyone
  with a purchase order at or before ``cutoff``).

A pair needs ``customers_then_b >= min_customers`` (default ``MIN_SEQUENCE_CUSTOMERS``).

**Next products** (``next_products``): a rule of either kind with lift above 1 applies to a
customer who bought its A and never bought its B; each product offered keeps its best rule
(highest confidence, then lift), and a customer's offers are ranked the same way.
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import pandas as pd
from ibis.expr.types import Table

from retainly.features.model_summary import end_of
from retainly.features.replenishment import product_purchases
from retainly.store.backends import Store

MIN_BASKET_ORDERS = 5  # baskets holding both products
MIN_SEQUENCE_CUSTOMERS = 5  # customers who bought B after A within the window
WITHIN_DAYS = 90

BASKET_COLUMNS = ("sku_a", "sku_b", "orders_a", "orders_b", "orders_both", "baskets", "support", "confidence", "lift")
SEQUENCE_COLUMNS = ("sku_a", "sku_b", "customers_a", "customers_then_b", "customers", "support", "confidence",
                    "base_rate", "lift")
NEXT_COLUMNS = ("customer_id", "rank", "sku", "score", "lift", "because_of", "kind")


def basket_rules(store: Store, as_of: date, min_orders: int = MIN_BASKET_ORDERS) -> Table:
    """``basket_pairs`` as an Ibis expression (unordered rows)."""
    baskets = product_purchases(store, as_of).select("order_id", "sku")
    totals = baskets.aggregate(baskets=baskets.order_id.nunique())
    per_sku = baskets.group_by("sku").aggregate(orders=baskets.count())
    # Only products in min_orders baskets can be in min_orders baskets together; only baskets
    # with two such products make pairs. Both cuts come before the self-join.
    frequent = per_sku.filter(per_sku.orders >= min_orders).select("sku")
    kept = baskets.semi_join(frequent, "sku")
    sizes = kept.group_by("order_id").aggregate(size=kept.count())
    kept = kept.semi_join(sizes.filter(sizes.size >= 2).select("order_id"), "order_id")
    a = kept.select("order_id", sku_a="sku")
    b = kept.select("order_id", sku_b="sku")
    pairs = a.join(b, (a.order_id == b.order_id) & (a.sku_a != b.sku_b))
    counted = pairs.group_by("sku_a", "sku_b").aggregate(orders_both=pairs.count())
    counted = counted.filter(counted.orders_both >= min_orders)
    with_a = counted.join(per_sku.select(sku_a="sku", orders_a="orders"), "sku_a")
    joined = with_a.join(per_sku.select(sku_b="sku", orders_b="orders"), "sku_b").cross_join(totals)
    both = joined.orders_both.cast("float64")
    total = joined.baskets
    return joined.select(
        "sku_a", "sku_b", "orders_a", "orders_b", "orders_both", "baskets",
        support=both / total,
        confidence=both / joined.orders_a,
        lift=both * total / (joined.orders_a * joined.orders_b.cast("float64")),
    )


def sequence_rules(store: Store, as_of: date, within_days: int = WITHIN_DAYS,
                   min_customers: int = MIN_SEQUENCE_CUSTOMERS) -> Table:
    """``sequence_pairs`` as an Ibis expression (unordered rows)."""
    bought = product_purchases(store, as_of)
    cutoff = end_of(as_of) - timedelta(days=within_days)
    window = ibis.interval(days=within_days)
    firsts = bought.group_by("customer_id", "sku").aggregate(first_at=bought.placed_at.min())
    starts = bought.group_by("customer_id").aggregate(start_at=bought.placed_at.min())
    starts = starts.filter(starts.start_at <= cutoff)
    totals = starts.aggregate(customers=starts.count())

    # The base rate: B's first purchase within the window after the customer's first order.
    after_start = firsts.join(starts, "customer_id")
    after_start = after_start.filter((after_start.first_at > after_start.start_at)
                                     & (after_start.first_at <= after_start.start_at + window))
    base = after_start.group_by("sku").aggregate(base_customers=after_start.count())

    # Only products first bought by min_customers customers can follow anything that often.
    per_sku = firsts.group_by("sku").aggregate(buyers=firsts.count())
    common = firsts.semi_join(per_sku.filter(per_sku.buyers >= min_customers).select("sku"), "sku")
    a = common.filter(common.first_at <= cutoff).select("customer_id", sku_a="sku", a_at="first_at")
    b = common.select("customer_id", sku_b="sku", b_at="first_at")
    followed = a.join(b, (a.customer_id == b.customer_id) & (b.b_at > a.a_at) & (b.b_at <= a.a_at + window))
    counted = followed.group_by("sku_a", "sku_b").aggregate(customers_then_b=followed.count())
    counted = counted.filter(counted.customers_then_b >= min_customers)
    eligible = a.group_by("sku_a").aggregate(customers_a=a.count())
    joined = counted.join(eligible, "sku_a").left_join(base.select(sku_b="sku", base_customers="base_customers"),
                                                       "sku_b").cross_join(totals)
    customers = joined.customers
    then_b = joined.customers_then_b.cast("float64")
    base_rate = joined.base_customers.fill_null(0).cast("float64") / customers
    confidence = then_b / joined.customers_a
    return joined.select(
        "sku_a", "sku_b", "customers_a", "customers_then_b", "customers",
        support=then_b / customers,
        confidence=confidence,
        base_rate=base_rate,
        lift=ibis.ifelse(base_rate > 0, confidence / base_rate, ibis.null("float64")),
    )


def _read(expression: Table, columns: tuple[str, ...], counts: tuple[str, ...]) -> pd.DataFrame:
    frame = expression.order_by([ibis.desc("lift"), ibis.desc("confidence"), "sku_a", "sku_b"]).to_pandas()
    frame = frame[list(columns)]
    for column in counts:
        frame[column] = frame[column].astype("int64")
    for column in ("support", "confidence", "lift", "base_rate"):
        if column in frame:
            frame[column] = frame[column].astype(float)
    return frame.reset_index(drop=True)


def basket_pairs(store: Store, as_of: date, min_orders: int = MIN_BASKET_ORDERS) -> pd.DataFrame:
    """Ordered pairs of products in one purchase order: the BASKET_COLUMNS, highest lift first."""
    return _read(basket_rules(store, as_of, min_orders), BASKET_COLUMNS,
                 ("orders_a", "orders_b", "orders_both", "baskets"))


def sequence_pairs(store: Store, as_of: date, within_days: int = WITHIN_DAYS,
                   min_customers: int = MIN_SEQUENCE_CUSTOMERS) -> pd.DataFrame:
    """"A, then B" within ``within_days``: the SEQUENCE_COLUMNS, highest lift first (see the module doc)."""
    return _read(sequence_rules(store, as_of, within_days, min_customers), SEQUENCE_COLUMNS,
                 ("customers_a", "customers_then_b", "customers"))


def next_products(store: Store, as_of: date, customer_id: int | None = None, limit: int = 3,
                  min_orders: int = MIN_BASKET_ORDERS, within_days: int = WITHIN_DAYS,
                  min_customers: int = MIN_SEQUENCE_CUSTOMERS) -> pd.DataFrame:
    """For each customer (or the one given), up to ``limit`` products worth offering next.

    Columns: customer_id, rank (1 = best), sku (never one the customer bought), score (the
    rule's confidence), lift, because_of (the rule's A, which the customer bought), kind
    (``basket`` or ``sequence``). Customers no rule applies to have no rows.
    """
    basket = basket_rules(store, as_of, min_orders)
    sequence = sequence_rules(store, as_of, within_days, min_customers)
    rules = ibis.union(
        basket.select("sku_a", "sku_b", "confidence", "lift", kind=ibis.literal("basket")),
        sequence.select("sku_a", "sku_b", "confidence", "lift", kind=ibis.literal("sequence")),
    )
    rules = rules.filter(rules.lift > 1)
    owned = product_purchases(store, as_of)
    if customer_id is not None:
        owned = owned.filter(owned.customer_id == customer_id)
    owned = owned.select("customer_id", "sku").distinct()
    offers = owned.join(rules, owned.sku == rules.sku_a).select(
        "customer_id", "confidence", "lift", "kind", sku=rules.sku_b, because_of=rules.sku_a)
    offers = offers.anti_join(owned, ["customer_id", "sku"])
    best_first = [ibis.desc("confidence"), ibis.desc("lift"), "kind", "because_of"]
    pick = ibis.row_number().over(ibis.window(group_by=["customer_id", "sku"], order_by=best_first))
    offers = offers.mutate(pick=pick)
    offers = offers.filter(offers.pick == 0)
    rank = ibis.row_number().over(ibis.window(group_by="customer_id",
                                              order_by=[ibis.desc("confidence"), ibis.desc("lift"), "sku"]))
    offers = offers.mutate(rank=rank + 1)
    offers = offers.filter(offers.rank <= limit)
    frame = offers.select("customer_id", "rank", "sku", score=offers.confidence, lift=offers.lift,
                          because_of=offers.because_of, kind=offers.kind)
    frame = frame.order_by(["customer_id", "rank"]).to_pandas()
    frame["customer_id"] = frame["customer_id"].astype("int64")
    frame["rank"] = frame["rank"].astype("int64")
    frame["score"] = frame["score"].astype(float)
    frame["lift"] = frame["lift"].astype(float)
    return frame[list(NEXT_COLUMNS)].reset_index(drop=True)
