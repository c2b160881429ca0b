"""Per-customer-month facts: the ``customer_months`` table and migration 21 that adds it.

One row per customer and calendar month in which they have a purchase order (the
``purchases`` table, guests left out): how many orders and how much revenue, the first and
last order times, the first order's channel, and the customer's last purchase before the
month and first purchase after it. KPIs, cohorts and RFM read these rows instead of every order:
a month's orders all fall in one reporting bucket unless a range edge cuts the month, and
the neighbour times carry what a window over all of a customer's orders would give
(``retainly.features.months``).

``revenue`` is a sum of DECIMAL(18,4) amounts, each of which the store can hold, so it is as
wide as the engines' sums of them (DECIMAL(38,4)): a month of several very large orders fits.

Derived, never imported, like ``purchases``: every change to purchases rewrites, in the same
transaction, all the rows of each customer whose purchases changed (a customer's rows depend
on each other through the neighbour times, so a customer is rewritten whole, never a month).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import ibis
import pyarrow as pa
import pyarrow.compute as pc
from ibis.expr.types import Table

from retainly.store.backends import Store
from retainly.store.migration_type import Migration

MONTH_COLUMNS = ("customer_id", "month", "orders", "revenue", "first_at", "last_at", "first_channel", "prev_at",
                 "next_at")

V21_CUSTOMER_MONTHS = Migration(
    21,
    "customer_months: per-customer-month purchase facts, kept by every import",
    (
        """CREATE TABLE customer_months (
            customer_id BIGINT NOT NULL,
            month DATE NOT NULL,
            orders BIGINT NOT NULL,
            revenue DECIMAL(38,4) NOT NULL,
            first_at TIMESTAMP NOT NULL,
            last_at TIMESTAMP NOT NULL,
            first_channel TEXT,
            prev_at TIMESTAMP,
            next_at TIMESTAMP
        )""",
    ),
    derived=("customer_months",),
)


def month_facts(purchases: Table) -> Table:
    """The definition of the table: ``purchases`` (or a part of it holding whole customers) per customer-month."""
    known = purchases.filter(purchases.customer_id.notnull())
    dated = known.mutate(month=known.placed_at.truncate("M").cast("date"))
    months = dated.group_by(["customer_id", "month"]).aggregate(
        orders=dated.count(),
        revenue=dated.revenue.sum(),
        first_at=dated.placed_at.min(),
        last_at=dated.placed_at.max(),
        # The same choice among orders as ``features.orders.acquisitions`` makes among a customer's.
        first_channel=dated.channel.argmin(dated.placed_at),
    )
    by_customer = ibis.window(group_by="customer_id", order_by="month")
    return months.mutate(
        prev_at=months.last_at.lag().over(by_customer),
        next_at=months.first_at.lead().over(by_customer),
    ).select(*MONTH_COLUMNS)


def rebuild(store: Store) -> None:
    """Rewrite the whole table from ``purchases``, inside the caller's transaction (a migration, a bulk load)."""
    store.execute("DELETE FROM customer_months")
    store.insert_from("customer_months", month_facts(store.table("purchases")))


def refresh(store: Store, customers: pa.Array) -> None:
    """Rewrite the rows of these customers (ids) from ``purchases``, inside the caller's transaction."""
    customers = pc.unique(customers.filter(pc.is_valid(customers))).cast(pa.int64())
    if not len(customers):
        return
    with store.staged(pa.table({"customer_id": customers})) as name:
        store.execute(f'DELETE FROM customer_months WHERE customer_id IN (SELECT customer_id FROM "{name}")')
        bought = store.table("purchases")
        chosen = store.table(name)
        store.insert_from("customer_months", month_facts(bought.filter(bought.customer_id.isin(chosen.customer_id))))


@contextmanager
def following(store: Store, orders: str) -> Iterator[None]:
    """Keep the table in step with a block that changes the purchases of the orders ``orders`` (SQL giving
    order ids, evaluated before and after the block): the customers who had or now have one of them
    are rewritten."""
    def customers() -> pa.Array:
        return store.fetch_arrow(f"SELECT DISTINCT customer_id FROM purchases WHERE customer_id IS NOT NULL "
                                 f"AND order_id IN ({orders})").column(0).combine_chunks()

    before = customers()
    yield
    refresh(store, pa.concat_arrays([before.cast(pa.int64()), customers().cast(pa.int64())]))
