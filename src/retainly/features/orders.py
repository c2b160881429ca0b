"""What counts as a purchase: the one definition every measure builds on.

A *purchase order* is an order that is not cancelled and not a bookkeeping adjustment, with
at least one line of positive quantity (an order of free items still counts). Its
*purchase lines* are its lines with positive quantity, of every kind: postage and fees are
part of what the customer paid. Guest orders (no customer) are purchases too, but customer
analytics leave them out.
"""

from __future__ import annotations

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

