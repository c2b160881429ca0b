"""Customers' purchases as *pieces*: runs of consecutive orders that no reporting edge cuts.

KPIs and cohorts need, per reporting bucket, sums over a customer's orders and, at the
bucket's edges, the customer's neighbouring purchase times. Reading them from the stored
per-customer-month facts (``customer_months``) instead of every order gives the same answers
exactly, as long as no edge falls inside a month: a bucket is then a union of whole months,
and a month row holds the sums over its orders and the purchases just before and after it.

``pieces(store, cuts)`` therefore returns every month row no cut falls inside of (after its
first order, at or before its last), and for the few that a cut does fall inside (a customer
who bought on both sides of it that month), the month's orders grouped by the side of each
cut they fall on, linked to each other and to the month's neighbours. Every piece lies wholly
inside one bucket of any bucketing whose edges are month starts or among ``cuts``.

The analysed window (``features.orders.analysed_window``) applies as it does to orders: its
end is one more cut, pieces outside it are left out, and a neighbour outside it is no
neighbour (NULL), just as a window over the analysed orders alone would see it.

Columns: customer_id, first_at, last_at, orders, revenue, first_channel, prev_at, next_at.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import ibis
from ibis.expr.types import Table

from retainly.features import orders
from retainly.features.orders import analysed_window
from retainly.store.backends import Store

PIECE_COLUMNS = ("customer_id", "first_at", "last_at", "orders", "revenue", "first_channel", "prev_at", "next_at")


def month_of(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


def _next_month(day: date) -> datetime:
    return datetime(day.year + day.month // 12, day.month % 12 + 1, 1)


def pieces(store: Store, cuts: Iterable[datetime] = ()) -> Table:
    """Known customers' analysed purchase orders as pieces, none of them crossing a cut (module docstring)."""
    start, end = analysed_window()
    cuts = sorted({moment for moment in (*cuts, start, end) if moment != datetime(moment.year, moment.month, 1)})
    months = store.table("customer_months")
    found = months.select(*PIECE_COLUMNS)
    if cuts:
        # A month row is one piece unless a cut falls after its first order and at or before its last.
        straddles = ibis.or_(*((months.first_at < cut) & (months.last_at >= cut) for cut in cuts))
        found = months.filter(~straddles).select(*PIECE_COLUMNS)
        split = months.filter(straddles)
        if split.count().execute():  # usually none: only a customer who bought on both sides of a cut that month
            found = found.union(_split(store, split, cuts), distinct=False)
    inside = found.filter((found.first_at >= start) & (found.first_at < end))
    return inside.mutate(
        prev_at=ibis.ifelse(inside.prev_at >= start, inside.prev_at, ibis.null("timestamp")),
        next_at=ibis.ifelse(inside.next_at < end, inside.next_at, ibis.null("timestamp")),
    )


def _split(store: Store, split: Table, cuts: list[datetime]) -> Table:
    """The orders of the ``split`` month rows, as one piece per customer, month and side of the cuts."""
    bought = store.table("purchases")
    placed = bought.placed_at
    # Only a month a cut falls inside can be split: read just those months' orders.
    cut_months = sorted({month_of(moment) for moment in cuts})
    in_cut_month = ibis.or_(*((placed >= datetime(m.year, m.month, 1)) & (placed < _next_month(m)) for m in cut_months))
    bought = bought.filter(bought.customer_id.notnull() & in_cut_month)
    # Which side of the cuts (PostgreSQL casts no boolean to a number).
    side = sum((ibis.ifelse(placed >= moment, 1, 0) for moment in cuts), ibis.literal(0, "int64"))
    dated = bought.mutate(month=placed.truncate("M").cast("date"), side=side)
    edges = split.select("customer_id", "month", month_prev="prev_at", month_next="next_at")
    dated = dated.join(edges, ["customer_id", "month"])
    parts = dated.group_by(["customer_id", "month", "side", "month_prev", "month_next"]).aggregate(
        first_at=dated.placed_at.min(),
        last_at=dated.placed_at.max(),
        orders=dated.count(),
        revenue=dated.revenue.sum(),
        first_channel=dated.channel.argmin(dated.placed_at),
    )
    in_month = ibis.window(group_by=["customer_id", "month"], order_by="side")
    linked = parts.mutate(
        prev_at=ibis.coalesce(parts.last_at.lag().over(in_month), parts.month_prev),
        next_at=ibis.coalesce(parts.first_at.lead().over(in_month), parts.month_next),
    )
    # The same column types as the stored rows (nullability included), for the union.
    schema = split.schema()
    return linked.select(**{name: linked[name].cast(schema[name]) for name in PIECE_COLUMNS})


def acquisitions(customers: Table, found: Table) -> Table:
    """``features.orders.acquisitions`` read from pieces: customer_id, first_order_at, channel.

    A customer's first piece is the one with no purchase before it (``prev_at`` is NULL): every later
    piece's ``prev_at`` is the last order of the piece before it, inside the analysed window. So no
    grouping of all pieces by customer is needed (at 100 M orders: 8.7 s grouping, 3.6 s this way)."""
    first = found.filter(found.prev_at.isnull())
    return orders.acquisition_channels(customers, first.select(
        "customer_id", first_order_at=first.first_at, first_order_channel=first.first_channel))
