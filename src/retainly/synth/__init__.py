"""A generated online shop with known truth, deterministic per (customers, seed).

``generate_shop`` returns a canonical ``Batch``: customers, products, orders, lines,
returns, spend, events, promotions, interactions, and the hidden truth (each customer's
buyer type and purchase process, each product's re-order interval or companion anchor)
that later capabilities are tested against. Everything is drawn from
``numpy.random.default_rng(seed)`` (one child stream per phase) and vectorized, so a
million customers take seconds.

Modules: ``calendar`` (seasons, sales, time warp), ``catalog`` (products), ``timing``
(buyer types, MBG/NBD purchase times), ``customers`` (identities, spend), ``baskets``
(contents, companions, replenishment), ``orders`` (numbering, prices, shipping),
``returns``, ``activity`` (site events), ``interactions``, ``dirty`` (corrupted files),
``files`` (a generated shop as native export files, or straight into a store).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np

from retainly.errors import InputError
from retainly.ingest.batch import Batch
from retainly.synth.activity import build_events
from retainly.synth.arrays import SECONDS_PER_DAY, choose, customer_refs, frame, pick, text, timestamps
from retainly.synth.calendar import build_calendar
from retainly.synth.catalog import build_catalog
from retainly.synth.customers import COUNTRIES, customers_frame, draw_customers, spend_frame
from retainly.synth.dirty import make_dirty
from retainly.synth.interactions import build_interactions
from retainly.synth.orders import build_orders, lines_frame, orders_frame, price_lines
from retainly.synth.returns import build_returns, returns_frame
from retainly.synth.timing import BUYER_TYPES, DEFAULT_MIX, PROCESSES, draw_buyer_types, simulate_purchases

__all__ = ["generate_shop", "make_dirty", "BUYER_TYPES", "DEFAULT_MIX", "PHASES", "PROCESSES"]

# The phases, in the order they run (``progress`` hears each name as it starts).
PHASES = ("customers", "purchases", "orders", "profiles", "lines", "returns", "events", "interactions", "spend",
          "truth")


def generate_shop(
    customers: int,
    seed: int,
    *,
    start: date = date(2023, 1, 1),
    end: date = date(2025, 12, 31),
    guest_share: float = 0.1,
    progress: Callable[[str], None] | None = None,
    mix: dict[str, float] | None = None,
) -> Batch:
    """Generate a shop of ``customers`` registered customers buying from ``start`` to ``end`` (inclusive).

    ``guest_share`` is the share of all orders placed by guests (no customer); ``mix`` the
    buyer-type shares (default ``DEFAULT_MIX``). ``progress`` is called with each phase's
    name (see ``PHASES``) as it starts.
    """
    if customers < 1:
        raise InputError(f"`customers` must be at least 1, got {customers}", parameter="customers")
    if not 0.0 <= guest_share < 1.0:
        raise InputError(f"`guest_share` must be at least 0 and below 1, got {guest_share}", parameter="guest_share")
    mix = dict(DEFAULT_MIX if mix is None else mix)
    if set(mix) != set(BUYER_TYPES) or min(mix.values()) < 0 or sum(mix.values()) <= 0:
        raise InputError(f"`mix` needs a non-negative share for each of {', '.join(BUYER_TYPES)} "
                         f"(no other keys, not all zero), got {mix}", parameter="mix")
    announce = progress or (lambda phase: None)
    # One independent stream per phase: a change in one phase leaves the others' draws alone.
    streams = dict(zip(PHASES, np.random.default_rng(seed).spawn(len(PHASES))))
    calendar = build_calendar(start, end)
    catalog = build_catalog()
    end_seconds = calendar.days * SECONDS_PER_DAY

    announce("customers")
    rng = streams["customers"]
    people = draw_customers(rng, calendar, draw_buyer_types(rng, customers, mix))

    announce("purchases")
    purchases = simulate_purchases(streams["purchases"], calendar, people.acquired, people.buyer_type)
    # Visits and follow-ups end when the customer drops out (seconds since start).
    stop = np.where(purchases.dropped, np.rint(purchases.last_purchase * SECONDS_PER_DAY), end_seconds - 1)

    announce("orders")
    rng = streams["orders"]
    orders, merchandise = build_orders(rng, calendar, catalog, purchases, people.buyer_type, guest_share)
    guest_country = choose(rng, [c[1] for c in COUNTRIES], len(orders.seconds))
    orders_table = orders_frame(calendar, orders, people.country, tuple(c[0] for c in COUNTRIES), guest_country)
    # A customer is first seen at the visit that ended in their first order.
    registered = orders.customer >= 0
    first_seen = np.full(customers, end_seconds - 1, dtype=np.int64)
    np.minimum.at(first_seen, orders.customer[registered], (orders.seconds - orders.session_seconds)[registered])

    announce("profiles")
    customers_table = customers_frame(streams["profiles"], start, end_seconds, people, first_seen)

    announce("lines")
    lines = price_lines(catalog, calendar, orders, merchandise)
    del merchandise
    lines_table = lines_frame(catalog, orders, lines)

    announce("returns")
    returns = build_returns(streams["returns"], calendar, catalog, orders, lines)
    returns_table = returns_frame(calendar, catalog, orders, returns, customers)

    announce("events")
    events = build_events(streams["events"], calendar, catalog, orders, lines, first_seen,
                          np.maximum(stop.astype(np.int64), first_seen))

    announce("interactions")
    interactions = build_interactions(streams["interactions"], calendar, orders, returns, purchases,
                                      people.buyer_type)

    announce("spend")
    spend = spend_frame(streams["spend"], start, people, first_seen)

    announce("truth")
    truth = frame(
        {
            "customer_ref": text(customer_refs(np.arange(customers), customers)),
            "buyer_type": text(pick(BUYER_TYPES, people.buyer_type)),
            "purchase_rate": purchases.rate,
            "dropout_probability": purchases.dropout,
            "dropped_out_at": timestamps(start, stop.astype(np.int64), ~purchases.dropped),
        }
    )
    return Batch(
        customers=customers_table,
        products=catalog.products(),
        orders=orders_table,
        lines=lines_table,
        returns=returns_table,
        spend=spend,
        interactions=interactions,
        events=events,
        promotions=calendar.promotions(),
        truth=truth,
        product_truth=catalog.product_truth(),
        notes=[f"generated shop: {customers} customers, seed {seed}, {start} to {end}"],
    )
