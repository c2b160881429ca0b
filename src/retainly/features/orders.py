"""What counts as a purchase: the one definition every measure builds on.

A *purchase order* is an order that is not cancelled and not a bookkeeping adjustment, with
at least one line of positive quantity (an order of free items still counts). Its
*purchase lines* are its lines with positive quantity, of every kind: postage and fees are
part of what the customer paid. Guest orders (no customer) are purchases too, but customer
analytics leave them out.
"""

from __future__ import annotations

import ibis
from ibis.expr.types import Table

NOT_PURCHASES = ("cancelled", "adjustment")


def purchase_lines(orders: Table, lines: Table) -> Table:
    """Purchase lines joined to their order's customer and time."""
    sold = lines.filter(lines.quantity > 0)
    live = orders.filter(~orders.status.isin(NOT_PURCHASES))
    return sold.join(live.select("order_id", "customer_id", "placed_at"), "order_id")


def purchase_orders(orders: Table, lines: Table) -> Table:
    """One row per purchase order: order_id, customer_id (null for guests), placed_at."""
    with_sale = lines.filter(lines.quantity > 0).select("order_id").distinct()
    live = orders.filter(~orders.status.isin(NOT_PURCHASES))
    return live.semi_join(with_sale, "order_id").select("order_id", "customer_id", "placed_at")



def customer_orders(orders: Table, lines: Table) -> Table:
    """One row per purchase order of a known customer, with its revenue (gross of returns).

    Columns: order_id, customer_id, placed_at, channel, promo_code, revenue — revenue being
    the sum of the order's purchase lines (merchandise, postage and fees alike).
    """
    sold = lines.filter(lines.quantity > 0)
    revenue = sold.group_by("order_id").aggregate(revenue=sold.amount.sum())
    live = orders.filter(~orders.status.isin(NOT_PURCHASES) & orders.customer_id.notnull())
    return live.join(revenue, "order_id").select(
        "order_id", "customer_id", "placed_at", "channel", "promo_code", "revenue"
    )


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
