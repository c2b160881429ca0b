"""Customers' purchase orders, as the analytics read them.

What counts as a purchase is defined once, in ``retainly.store.purchases``; the store keeps
the ``purchases`` table (one row per purchase order with its revenue) in step with every
import, so these expressions read one narrow table.
"""

from __future__ import annotations

import ibis
from ibis.expr.types import Table

from retainly.store.backends import Store
from retainly.store.purchases import NOT_PURCHASES, purchase_lines, purchase_orders

__all__ = ["NOT_PURCHASES", "acquisitions", "customer_orders", "purchase_lines", "purchase_orders"]


def customer_orders(store: Store) -> Table:
    """One row per purchase order of a known customer, with its revenue (gross of returns).

    Columns: order_id, customer_id, placed_at, channel, promo_code, revenue.
    """
    bought = store.table("purchases")
    return bought.filter(bought.customer_id.notnull())


def acquisitions(customers: Table, bought: Table) -> Table:
    """One row per customer who bought: customer_id, first_order_at, acquisition channel.

    The channel is the customer's recorded acquisition channel, else the channel of their
    first order, else 'unknown'.
    """
    firsts = bought.group_by("customer_id").aggregate(
        first_order_at=bought.placed_at.min(),
        first_order_channel=bought.channel.argmin(bought.placed_at),
    )
    known = customers.select("customer_id", "acquisition_channel")
    joined = firsts.left_join(known, "customer_id")
    return joined.select(
        "customer_id",
        "first_order_at",
        channel=ibis.coalesce(joined.acquisition_channel, joined.first_order_channel, ibis.literal("unknown")),
    )


def purchase_span(store: Store) -> tuple:
    """(first, last) purchase-order time of known customers; (None, None) for an empty store."""
    # Plain SQL: Ibis's PostgreSQL backend cannot return the NULL extremes of an empty NOT NULL column.
    return store.fetchone("SELECT MIN(placed_at), MAX(placed_at) FROM purchases WHERE customer_id IS NOT NULL")
