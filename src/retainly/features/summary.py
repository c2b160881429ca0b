"""`retainly summary`: what the store now knows, in one object."""

from __future__ import annotations

from decimal import Decimal

import ibis

from retainly.features.orders import analysed_window
from retainly.store.backends import Store


def store_summary(store: Store) -> dict:
    """Customers, purchase orders and lines of known customers, revenue, guests and returns.

    Orders dated outside the analysed window (``retainly.features.orders``) are left out here as
    everywhere: the summary's figures are the ones every analysis starts from. The order figures come
    from the ``purchases`` table the imports keep (one row per purchase order with its revenue), so
    only the line count joins the lines."""
    purchases, lines, returns = store.table("purchases"), store.table("order_lines"), store.table("returns")
    start, end = analysed_window()
    bought = purchases.filter((purchases.placed_at >= start) & (purchases.placed_at < end))
    known = bought.customer_id.notnull()
    # (not `placed_at.min(where=known)`: Ibis types that as never null, which fails without known orders)
    known_at = ibis.cases((known, bought.placed_at))
    order_figures = bought.aggregate(
        customers=bought.customer_id.nunique(),
        orders=bought.count(where=known),
        guest_orders=bought.count(where=~known),
        gross_revenue=bought.revenue.sum(where=known),
        first_order_at=known_at.min(),
        last_order_at=known_at.max(),
    ).to_pyarrow().to_pylist()[0]
    sold = lines.filter(lines.quantity > 0)
    order_lines = sold.join(bought.filter(known).select("order_id"), "order_id").count().to_pyarrow().as_py()
    known_returns = returns.filter(returns.customer_id.notnull() & (returns.returned_at >= start)
                                   & (returns.returned_at < end))
    return_figures = known_returns.aggregate(
        returns=known_returns.count(), returned_amount=known_returns.amount.sum()
    ).to_pyarrow().to_pylist()[0]
    return {
        "customers": int(order_figures["customers"] or 0),
        "orders": int(order_figures["orders"] or 0),
        "order_lines": int(order_lines or 0),
        "gross_revenue": _money(order_figures["gross_revenue"]),
        "guest_orders": int(order_figures["guest_orders"] or 0),
        "returns": int(return_figures["returns"] or 0),
        "returned_amount": _money(return_figures["returned_amount"]),
        "first_order_at": _iso(order_figures["first_order_at"]),
        "last_order_at": _iso(order_figures["last_order_at"]),
    }


def _money(value) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _iso(value) -> str | None:
    return None if value is None else value.isoformat(sep=" ")


def shop_currency(store: Store) -> str | None:
    """The shop's currency when all orders share one, else None (amounts then show bare)."""
    orders = store.table("orders")
    found = orders.filter(orders.currency.notnull()).select("currency").distinct().limit(2).to_pyarrow()
    return found.column("currency")[0].as_py() if found.num_rows == 1 else None
