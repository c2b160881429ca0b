"""Site events: the visit before each online order, browsing, and abandoned carts.

A session is one visit. Sessions come in three kinds:

* order sessions: ``visit`` -> one ``add_to_cart`` per merchandise line -> ``checkout``
  (carrying the order id) at the order's ``placed_at``; offline and phone orders have none;
* browsing: a lone ``visit`` while the customer is alive (guests' visits are anonymous);
* abandoned carts: ``visit`` -> ``add_to_cart`` with no order by that customer within a day.

Sessions are numbered by start time ("S000000001"), events by session and position
("E000000001"), so event ids follow time closely without a sort of the events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from retainly.synth.arrays import (
    SECONDS_PER_DAY, choose, customer_refs, frame, id_strings, order_refs, pick, sort_order, text, timestamps,
)
from retainly.synth.calendar import Calendar
from retainly.synth.catalog import Catalog
from retainly.synth.orders import CHANNELS, Orders, PricedLines

EVENT_KINDS = ("visit", "add_to_cart", "checkout")
BROWSE_PER_ORDER = 0.6  # browsing sessions per order, registered customers and anonymous alike
ABANDON_PER_ORDER = 0.25  # abandoned-cart sessions per order
ABANDON_EXTRA_ITEMS = 0.4  # mean items beyond the first in an abandoned cart
BROWSE_SECONDS = (30, 900)
ABANDON_MINUTES = (2.0, 4.0)  # gamma shape and scale
NO_ORDER_WITHIN = SECONDS_PER_DAY  # an abandoned cart sees no order in the following day


@dataclass
class Sessions:
    start: np.ndarray  # seconds since start
    length: np.ndarray  # seconds
    customer: np.ndarray  # -1: anonymous
    order: np.ndarray  # -1: no order
    carts: np.ndarray  # number of add_to_cart events


def build_events(rng: np.random.Generator, calendar: Calendar, catalog: Catalog, orders: Orders, lines: PricedLines,
                 first_seen: np.ndarray, stop: np.ndarray) -> pd.DataFrame:
    """The canonical ``events`` entity; ``first_seen``/``stop`` bound each customer's visits (seconds)."""
    items = np.bincount(lines.order[lines.product >= 0], minlength=len(orders.seconds))
    online = np.flatnonzero(orders.channel == CHANNELS.index("online"))
    sessions = [
        Sessions(orders.seconds[online] - orders.session_seconds[online], orders.session_seconds[online],
                 orders.customer[online], online, items[online]),
        _visits(rng, calendar, orders, first_seen, stop, BROWSE_PER_ORDER, abandoned=False),
        _visits(rng, calendar, orders, first_seen, stop, ABANDON_PER_ORDER, abandoned=True),
    ]
    fields = {"start": np.int64, "length": np.int32, "customer": np.int32, "order": np.int32, "carts": np.int32}
    s = Sessions(*(np.concatenate([getattr(x, f) for x in sessions]).astype(t) for f, t in fields.items()))
    del sessions
    by_start = sort_order(s.start)
    s = Sessions(*(getattr(s, f)[by_start] for f in fields))
    del by_start
    return _lay_out(rng, calendar, catalog, orders, lines, s, len(first_seen))


def _visits(rng, calendar: Calendar, orders: Orders, first_seen: np.ndarray, stop: np.ndarray, per_order: float,
            abandoned: bool) -> Sessions:
    """Sessions without an order: ``per_order`` for each order, registered or guest.

    A registered customer's fall uniformly between first seen and dropout (or the end);
    guests' are anonymous and follow the shop's traffic.
    """
    orders_of = np.bincount(orders.customer[orders.customer >= 0], minlength=len(first_seen))
    anonymous = round(per_order * int((orders.customer < 0).sum()))
    customer = np.concatenate((np.repeat(np.arange(len(first_seen)), rng.poisson(per_order * orders_of)),
                               np.full(anonymous, -1)))
    known = customer >= 0
    start = np.empty(len(customer), dtype=np.int64)
    window = (stop - first_seen)[customer[known]]
    start[known] = first_seen[customer[known]] + (rng.random(int(known.sum())) * window).astype(np.int64)
    start[~known] = (calendar.time_of_day(rng, calendar.sample_acquisitions(rng, anonymous))
                     * SECONDS_PER_DAY).astype(np.int64)
    if abandoned:
        length = (60 * rng.gamma(*ABANDON_MINUTES, len(customer))).astype(np.int64)
        carts = 1 + rng.poisson(ABANDON_EXTRA_ITEMS, len(customer))
    else:
        length = rng.integers(*BROWSE_SECONDS, len(customer))
        carts = np.zeros(len(customer), dtype=np.int64)
    keep = start + length < calendar.days * SECONDS_PER_DAY  # sessions end within the period
    if abandoned:
        keep &= ~_ordered_soon(orders, customer, start)
    return Sessions(start[keep], length[keep], customer[keep], np.full(int(keep.sum()), -1), carts[keep])


def _lay_out(rng, calendar: Calendar, catalog: Catalog, orders: Orders, lines: PricedLines, s: Sessions,
             n_customers: int) -> pd.DataFrame:
    """Events session by session: visit, carts, then the checkout if any.

    Built one column at a time in 32-bit integers, freeing each helper array early: with
    tens of millions of events, memory is the constraint rather than time.
    """
    has_order = s.order >= 0
    size = (1 + s.carts + has_order).astype(np.int32)
    n_events = int(size.sum())
    index = np.int32 if n_events < 2**31 else np.int64
    session = np.repeat(np.arange(len(size), dtype=index), size)
    # Per-session strings spread over their events: a take along sorted indices is cheap.
    columns = {
        "event_id": text(id_strings("E", np.arange(1, n_events + 1, dtype=index), 9)),
        "customer_ref": text(customer_refs(s.customer, n_customers).take(session)),
        "session_id": text(id_strings("S", np.arange(1, len(size) + 1, dtype=index), 9).take(session)),
    }
    position = np.arange(n_events, dtype=index)
    position -= np.repeat((np.cumsum(size) - size).astype(index), size)
    checkout = has_order[session] & (position == size[session] - 1)
    # Order sessions end exactly at placed_at; carts spread over the session before that.
    pace = s.length / np.where(has_order, size - 1, s.carts).clip(1)
    occurred = s.start[session] + np.floor(pace[session] * position + 1e-6).astype(np.int64)
    columns["occurred_at"] = timestamps(calendar.start, occurred)
    del occurred, pace
    kind = np.where(position == 0, 0, 1 + checkout).astype(np.int8)
    columns["kind"] = text(pick(EVENT_KINDS, kind))

    cart = kind == 1
    del kind
    order = s.order[session]
    product = np.full(n_events, -1, dtype=np.int32)
    from_order = np.flatnonzero(cart & (order >= 0))
    per_order = np.bincount(lines.order, minlength=len(orders.seconds))
    first_line = np.cumsum(per_order) - per_order  # merchandise comes first in an order
    product[from_order] = lines.product[first_line[order[from_order]] + position[from_order] - 1]
    del from_order, first_line, per_order, position, order
    wander = np.flatnonzero(cart & (s.order[session] < 0))
    product[wander] = choose(rng, np.where(catalog.add_on, catalog.popularity, 0.2), len(wander))
    del wander, cart
    columns["sku"] = text(pick(catalog.sku, product))
    del product
    checkout_session = pa.Array.from_buffers(
        pa.int32() if index is np.int32 else pa.int64(), n_events,
        [pa.py_buffer(np.packbits(checkout, bitorder="little")), pa.py_buffer(session)],
    )
    columns["order_id"] = text(order_refs(s.order, len(orders.seconds)).take(checkout_session))
    return frame(columns)


def _ordered_soon(orders: Orders, customer: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Whether the customer placed an order within a day after ``start`` (False for anonymous)."""
    registered = np.flatnonzero(orders.customer >= 0)
    span = np.int64(1) << 32  # orders.seconds < 2**32 for any period this generator serves
    placed = np.sort(orders.customer[registered] * span + orders.seconds[registered])
    probe = customer * span + start
    following = np.searchsorted(placed, probe, side="left").clip(0, max(len(placed) - 1, 0))
    soon = (placed[following] >= probe) & (placed[following] - probe <= NO_ORDER_WITHIN) if len(placed) else False
    return (customer >= 0) & soon
