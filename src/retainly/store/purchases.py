"""What counts as a purchase: the one definition every measure builds on, and its table.

A *purchase order* is an order that is not cancelled and not a bookkeeping adjustment, with
at least one line of positive quantity (an order of free items still counts). Its
*purchase lines* are its lines with positive quantity, of every kind: postage and fees are
part of what the customer paid, so its *revenue* is their sum (gross of returns). Guest
orders (no customer) are purchases too, but customer analytics leave them out.

The ``purchases`` table holds one row per purchase order with its revenue. It is derived,
never imported: every import rewrites the rows of the orders it brings in the same
transaction, so analytics read one narrow table instead of joining orders to their lines.
``rebuild`` keeps ``customer_months`` (``retainly.store.customer_months``) in step with it.
"""

from __future__ import annotations

from contextlib import nullcontext

from ibis.expr.types import Table

from retainly.store import customer_months
from retainly.store.backends import Store

NOT_PURCHASES = ("cancelled", "adjustment")
PURCHASE_COLUMNS = ("order_id", "customer_id", "placed_at", "channel", "promo_code", "revenue")


def purchase_lines(orders: Table, lines: Table) -> Table:
    """Purchase lines joined to their order's customer and time."""
    sold = lines.filter(lines.quantity > 0)
    live = orders.filter(~orders.status.isin(NOT_PURCHASES))
    return sold.join(live.select("order_id", "customer_id", "placed_at"), "order_id")


def purchase_orders(orders: Table, lines: Table) -> Table:
    """One row per purchase order with its revenue: the definition of the ``purchases`` table."""
    sold = lines.filter(lines.quantity > 0)
    revenue = sold.group_by("order_id").aggregate(revenue=sold.amount.sum())
    live = orders.filter(~orders.status.isin(NOT_PURCHASES))
    return live.join(revenue, "order_id").select(*PURCHASE_COLUMNS)


def rebuild(store: Store, only_orders_in: str | None = None, months: bool = True) -> None:
    """Rewrite the purchases of every order, or only of the orders listed in table ``only_orders_in``,
    and with them the ``customer_months`` of the customers concerned (not when ``months`` is false:
    migration 4 fills purchases in a store that has no such table yet).

    Runs inside the caller's transaction (an import or a migration).
    """
    definition = store.ibis.compile(purchase_orders(store.table("orders"), store.table("order_lines")))
    columns = ", ".join(PURCHASE_COLUMNS)
    if only_orders_in is None:
        store.execute("DELETE FROM purchases")
        store.execute(f"INSERT INTO purchases ({columns}) SELECT {columns} FROM ({definition}) p")
        if months:
            customer_months.rebuild(store)
        return
    chosen = f"SELECT order_id FROM {only_orders_in}"
    with customer_months.following(store, chosen) if months else nullcontext():
        store.execute(f"DELETE FROM purchases WHERE order_id IN ({chosen})")
        store.execute(f"INSERT INTO purchases ({columns}) SELECT {columns} FROM ({definition}) p "
                      f"WHERE p.order_id IN ({chosen})")


