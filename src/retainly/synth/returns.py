"""Returns: a few per cent of the merchandise lines of completed orders come back within 30 days.

All returned lines of one order travel in one parcel: one ``return_id`` ("R0000001",
numbered in time order) with line numbers 1..n. ``amount`` is the returned quantity times
the unit price (the promo discount is not taken off).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retainly.synth.arrays import (
    SECONDS_PER_DAY, choose, customer_refs, frame, group_starts, id_strings, money, order_refs, pick,
    rank_in_group, sort_order, text, timestamps,
)
from retainly.synth.calendar import Calendar
from retainly.synth.catalog import Catalog
from retainly.synth.orders import STATUSES, Orders, PricedLines

RETURN_DELAY = (2.0, 4.0)  # gamma shape and scale (days) after the order, plus one day in the post
MAX_RETURN_DAYS = 30.0
PARTIAL_RETURN = 0.3  # of lines with several pieces, share where only one comes back
REASONS = ("too small", "too large", "damaged", "not as described", "changed mind", "wrong item")
FASHION_REASONS = (0.30, 0.30, 0.05, 0.15, 0.15, 0.05)
OTHER_REASONS = (0.0, 0.0, 0.30, 0.30, 0.30, 0.10)


@dataclass
class Returns:
    """Returned lines, sorted by return then line number."""

    number: np.ndarray  # return number - 1 (time order)
    line_no: np.ndarray
    order: np.ndarray
    order_line_no: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray
    seconds: np.ndarray  # returned_at
    reason: np.ndarray  # index into REASONS


def build_returns(rng: np.random.Generator, calendar: Calendar, catalog: Catalog, orders: Orders,
                  lines: PricedLines) -> Returns:
    completed = orders.status[lines.order] == STATUSES.index("completed")
    candidate = np.flatnonzero((lines.product >= 0) & completed)
    chosen = candidate[rng.random(len(candidate)) < catalog.return_rate[lines.product[candidate]]]
    order = lines.order[chosen]  # sorted: lines are in order
    first = group_starts(order)
    parcel = np.cumsum(first) - 1
    delay = 1.0 + np.minimum(rng.gamma(*RETURN_DELAY, int(first.sum())), MAX_RETURN_DAYS - 1.0)
    parcel_seconds = orders.seconds[order[first]] + (delay * SECONDS_PER_DAY).astype(np.int64)
    in_period = parcel_seconds < calendar.days * SECONDS_PER_DAY

    # Number the parcels that arrive within the period in time order.
    arrived = np.flatnonzero(in_period)
    number = np.full(len(parcel_seconds), -1)
    number[arrived[sort_order(parcel_seconds[arrived])]] = np.arange(len(arrived))
    keep = number[parcel] >= 0
    chosen, parcel = chosen[keep], parcel[keep]
    by_return = sort_order(number[parcel])
    chosen, parcel = chosen[by_return], parcel[by_return]

    quantity = lines.quantity[chosen].copy()
    partial = (quantity > 1) & (rng.random(len(quantity)) < PARTIAL_RETURN)
    quantity[partial] = 1
    fashion = np.array([c == "Fashion" for c in catalog.category])[lines.product[chosen]]
    reason = np.where(fashion, choose(rng, FASHION_REASONS, len(chosen)), choose(rng, OTHER_REASONS, len(chosen)))
    return Returns(
        number=number[parcel],
        line_no=rank_in_group(number[parcel]) + 1,
        order=lines.order[chosen],
        order_line_no=lines.line_no[chosen],
        product=lines.product[chosen],
        quantity=quantity,
        unit_price=lines.unit_price[chosen],
        seconds=parcel_seconds[parcel],
        reason=reason,
    )


def returns_frame(calendar: Calendar, catalog: Catalog, orders: Orders, returns: Returns,
                  customers: int) -> pd.DataFrame:
    return frame(
        {
            "return_id": text(id_strings("R", returns.number + 1, 7)),
            "line_no": returns.line_no,
            "customer_ref": text(customer_refs(orders.customer[returns.order], customers)),
            "order_id": text(order_refs(returns.order, len(orders.seconds))),
            "order_line_no": returns.order_line_no,
            "returned_at": timestamps(calendar.start, returns.seconds),
            "sku": text(pick(catalog.sku, returns.product)),
            "quantity": returns.quantity,
            "unit_price": returns.unit_price,
            "amount": money(returns.quantity * returns.unit_price),
            "reason": text(pick(REASONS, returns.reason)),
        }
    )
