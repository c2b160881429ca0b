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

from retainly.synth.arrays import SECONDS_PER_DAY, choose, id_strings, pick, sort_order, text, timestamps
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
                 first_seen: np.ndarray, stop: np.ndarray, customer_ids: pa.Array) -> pd.DataFrame:
    """The canonical ``events`` entity; ``first_seen``/``stop`` bound each customer's visits (seconds)."""
    merchandise = lines.product >= 0
    items = np.bincount(lines.order[merchandise], minlength=len(orders.seconds))
    online = np.flatnonzero(orders.channel == CHANNELS.index("online"))
    sessions = [Sessions(orders.seconds[online] - orders.session_seconds[online], orders.session_seconds[online],
                         orders.customer[online], online, items[online])]
    n_customers = len(first_seen)
    orders_of = np.bincount(orders.customer[orders.customer >= 0], minlength=n_customers)
    n_guest_orders = int((orders.customer < 0).sum())
    for per_order, abandoned in ((BROWSE_PER_ORDER, False), (ABANDON_PER_ORDER, True)):
        count = rng.poisson(per_order * orders_of)
        customer = np.concatenate((np.repeat(np.arange(n_customers), count), np.full(round(per_order * n_guest_orders), -1)))
        known = customer >= 0
        start = np.empty(len(customer), dtype=np.int64)
        window = (stop - first_seen)[customer[known]]
        start[known] = first_seen[customer[known]] + (rng.random(int(known.sum())) * window).astype(np.int64)
        anonymous = calendar.sample_acquisitions(rng, int((~known).sum()))
        start[~known] = (calendar.time_of_day(rng, anonymous) * SECONDS_PER_DAY).astype(np.int64)
        if abandoned:
            length = (60 * rng.gamma(*ABANDON_MINUTES, len(customer))).astype(np.int64)
            carts = 1 + rng.poisson(ABANDON_EXTRA_ITEMS, len(customer))
        else:
            length = rng.integers(*BROWSE_SECONDS, len(customer))
            carts = np.zeros(len(customer), dtype=np.int64)
        keep = ~_ordered_soon(orders, customer, start) if abandoned else np.ones(len(customer), dtype=bool)
        start = np.minimum(start, calendar.days * SECONDS_PER_DAY - 1 - length).clip(0)
        sessions.append(Sessions(start[keep], length[keep], customer[keep], np.full(int(keep.sum()), -1), carts[keep]))
    s = Sessions(*(np.concatenate([getattr(x, f) for x in sessions]) for f in Sessions.__dataclass_fields__))
    by_start = sort_order(s.start)
    s = Sessions(*(getattr(s, f)[by_start] for f in Sessions.__dataclass_fields__))

    # Lay the events out session by session: visit, carts, then the checkout if any.
    has_order = s.order >= 0
    size = 1 + s.carts + has_order
    session = np.repeat(np.arange(len(size)), size)
    position = np.arange(len(session)) - np.repeat(np.cumsum(size) - size, size)
    checkout = has_order[session] & (position == size[session] - 1)
    kind = np.where(position == 0, 0, np.where(checkout, 2, 1))
    steps = np.where(has_order, size - 1, s.carts).clip(1)  # order sessions end exactly at placed_at
    occurred = s.start[session] + s.length[session] * position // steps[session]

    order = s.order[session]
    per_order = np.bincount(lines.order, minlength=len(orders.seconds))
    first_line = (np.cumsum(per_order) - per_order)[order.clip(0)]  # merchandise comes first in an order
    cart = kind == 1
    product = np.full(len(session), -1)
    from_order = cart & (order >= 0)
    product[from_order] = lines.product[first_line[from_order] + position[from_order] - 1]
    wander = cart & (order < 0)
    product[wander] = choose(rng, np.where(catalog.add_on, catalog.popularity, 0.2), int(wander.sum()))
    return pd.DataFrame(
        {
            "event_id": text(id_strings("E", np.arange(1, len(session) + 1), 9)),
            "customer_ref": text(pick(customer_ids, s.customer[session])),
            "session_id": text(id_strings("S", session + 1, 9)),
            "occurred_at": timestamps(calendar.start, occurred),
            "kind": text(pick(EVENT_KINDS, kind)),
            "sku": text(pick(catalog.sku, product)),
            "order_id": text(pick(orders.order_id, np.where(checkout, order, -1))),
        }
    )


def _ordered_soon(orders: Orders, customer: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Whether the customer placed an order within a day after ``start`` (False for anonymous)."""
    registered = np.flatnonzero(orders.customer >= 0)
    span = np.int64(1) << 32  # orders.seconds < 2**32 for any period this generator serves
    placed = np.sort(orders.customer[registered] * span + orders.seconds[registered])
    probe = customer * span + start
    following = np.searchsorted(placed, probe, side="left").clip(0, max(len(placed) - 1, 0))
    soon = (placed[following] >= probe) & (placed[following] - probe <= NO_ORDER_WITHIN) if len(placed) else False
    return (customer >= 0) & soon
