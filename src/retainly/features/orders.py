"""Customers' purchase orders, as the analytics read them.

What counts as a purchase is defined once, in ``retainly.store.purchases``; the store keeps
the ``purchases`` table (one row per purchase order with its revenue) in step with every
import, so these expressions read one narrow table.

Analyses read the purchase orders placed from ``EARLIEST`` through the end of tomorrow
(``analysed_window``). An order dated outside it (a typo such as 9999-12-31, stored before
imports checked dates) stays in the store, is named by ``left_out_orders`` and can be removed
with `retainly delete orders`; counting it would move every "as of the last order" date to
that year and overflow the date arithmetic.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import ibis
from ibis.expr.types import Table

from retainly.errors import InputError
from retainly.store.backends import Store
from retainly.store.purchases import NOT_PURCHASES, purchase_lines, purchase_orders

__all__ = ["EARLIEST", "LATEST_DAY", "NOT_PURCHASES", "acquisitions", "analysed_window", "check_day", "customer_orders",
           "left_out_orders", "purchase_lines", "purchase_orders", "purchase_span"]

# No shop's order history starts before this; older dates are typos (or 0001-01-01 fillers).
EARLIEST = datetime(1900, 1, 1)
# The last day an analysis may be asked about: pandas keeps times in nanoseconds up to 2262, and
# the models look up to a few years past the day.
LATEST_DAY = date(2199, 12, 31)
# The part of the purchases table analyses read, as SQL with the two bounds of analysed_window.
ANALYSED = "placed_at >= ? AND placed_at < ?"


def analysed_window() -> tuple[datetime, datetime]:
    """[start, end) of the order times analyses read: from ``EARLIEST`` through the end of tomorrow
    (a shop a time zone ahead may already have tomorrow's orders; later ones have not happened)."""
    return EARLIEST, datetime.combine(date.today() + timedelta(days=2), time())


def check_day(day: date | None, parameter: str) -> date | None:
    """``day`` (a date given to an analysis), refused when outside ``EARLIEST`` .. ``LATEST_DAY``."""
    if day is not None and not EARLIEST.date() <= day <= LATEST_DAY:
        raise InputError(f"`{parameter}` {day} is outside the days retainly can analyse ({EARLIEST.date()} to "
                         f"{LATEST_DAY}); pick a day in between", parameter=parameter)
    return day


def customer_orders(store: Store) -> Table:
    """One row per purchase order of a known customer, with its revenue (gross of returns).

    Columns: order_id, customer_id, placed_at, channel, promo_code, revenue.
    """
    bought = store.table("purchases")
    start, end = analysed_window()
    return bought.filter(bought.customer_id.notnull() & (bought.placed_at >= start) & (bought.placed_at < end))


def acquisitions(customers: Table, bought: Table) -> Table:
    """One row per customer who bought: customer_id, first_order_at, acquisition channel.

    The channel is the customer's recorded acquisition channel, else the channel of their
    first order, else 'unknown'.
    """
    firsts = bought.group_by("customer_id").aggregate(
        first_order_at=bought.placed_at.min(),
        first_order_channel=bought.channel.argmin(bought.placed_at),
    )
    return acquisition_channels(customers, firsts)


def acquisition_channels(customers: Table, firsts: Table) -> Table:
    """``acquisitions`` from one row per customer who bought: customer_id, first_order_at, first_order_channel."""
    known = customers.select("customer_id", "acquisition_channel")
    joined = firsts.left_join(known, "customer_id")
    return joined.select(
        "customer_id",
        "first_order_at",
        channel=ibis.coalesce(joined.acquisition_channel, joined.first_order_channel, ibis.literal("unknown")),
    )


def purchase_span(store: Store) -> tuple:
    """(first, last) purchase-order time of known customers in the analysed window; (None, None) for an empty store."""
    # Plain SQL: Ibis's PostgreSQL backend cannot return the NULL extremes of an empty NOT NULL column.
    return store.fetchone(f"SELECT MIN(placed_at), MAX(placed_at) FROM purchases WHERE customer_id IS NOT NULL "
                          f"AND {ANALYSED}", analysed_window())


def left_out_orders(store: Store, shown: int = 5) -> tuple[int, list[tuple[str, str]]]:
    """Purchase orders dated outside the analysed window: how many, and the first ``shown`` as
    (order id, date as text); the text is the engine's, as a date beyond year 9999 has no Python form."""
    start, end = analysed_window()
    outside = "placed_at < ? OR placed_at >= ?"
    count = store.fetchone(f"SELECT COUNT(*) FROM purchases WHERE {outside}", (start, end))[0]
    if not count:
        return 0, []
    rows = store.fetchall(f"SELECT order_id, CAST(placed_at AS TEXT) FROM purchases WHERE {outside} "
                          f"ORDER BY placed_at, order_id LIMIT {int(shown)}", (start, end))
    return int(count), [(str(order_id), str(text)) for order_id, text in rows]
