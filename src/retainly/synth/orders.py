"""All orders and their lines: base purchases, follow-ups and guests, priced and numbered.

Orders are numbered in time order ("O00000001" is the first); lines are numbered 1..n
within an order, merchandise first and the shipping line (if any) last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retainly.synth import baskets
from retainly.synth.arrays import (
    SECONDS_PER_DAY, choose, customer_refs, frame, money, order_refs, pick, rank_in_group, sort_order, text,
    timestamps, to_seconds,
)
from retainly.synth.baskets import GROUPS, ExtraOrders, Lines
from retainly.synth.calendar import Calendar
from retainly.synth.catalog import Catalog
from retainly.synth.timing import BUYER_TYPES, PROCESSES, Purchases

ORIGINS = ("base", "replenishment", "companion", "guest")
STATUSES = ("completed", "cancelled")
CANCELLED_SHARE = 0.03
CHANNELS = ("online", "offline", "phone")
CHANNEL_SHARE = (0.86, 0.09, 0.05)
# Chance that an order placed during a sale uses its promo code, per group (GROUPS order).
PROMO_USE = np.array([0.30, 0.90, 0.30, 0.25])
FOLLOW_UP_PROMO_USE = 0.2
FREE_SHIPPING_FROM = 49.0  # EUR of merchandise after discount; smaller online orders pay
SHIPPING_FEE = 4.95
SESSION_MINUTES = (2.0, 6.0)  # gamma shape and scale of the site visit that ends in an order
LINE_KINDS = ("merchandise", "shipping")


@dataclass
class Orders:
    """Every order, in time order (index = order number - 1)."""

    customer: np.ndarray  # customer number, -1 for guests
    seconds: np.ndarray  # placed_at, seconds since start
    group: np.ndarray  # index into baskets.GROUPS
    origin: np.ndarray  # index into ORIGINS
    status: np.ndarray
    channel: np.ndarray
    sale: np.ndarray  # sale period running at placed_at, or -1
    promo: np.ndarray  # bool: promo code used
    session_seconds: np.ndarray  # length of the site visit before an online order (0 otherwise)


@dataclass
class PricedLines:
    """All lines, sorted by order then line number; product -1 on shipping lines."""

    order: np.ndarray
    line_no: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray
    discount: np.ndarray
    kind: np.ndarray  # index into LINE_KINDS


def build_orders(
    rng: np.random.Generator, calendar: Calendar, catalog: Catalog, purchases: Purchases,
    buyer_type: np.ndarray, guest_share: float,
) -> tuple[Orders, Lines]:
    """Base orders, follow-up orders and guest orders, with their merchandise lines."""
    base_group = buyer_type[purchases.customer]
    base_lines = baskets.fill_baskets(rng, catalog, base_group)
    stop = np.where(purchases.dropped, purchases.last_purchase, float(calendar.days))
    args = (rng, catalog, base_lines, purchases.customer, purchases.t, stop)
    extra = _trim_to_cap(baskets.replenishments(*args), baskets.companion_follow_ups(*args), purchases, buyer_type)
    # Follow-ups happen at shopping hours too, and never after the customer dropped out.
    extra.t = np.minimum(calendar.time_of_day(rng, extra.t), stop[extra.customer] - 1.0 / SECONDS_PER_DAY)

    registered = len(purchases.t) + len(extra.t)
    n_guests = int(round(registered * guest_share / (1.0 - guest_share)))
    guest_t = calendar.time_of_day(rng, calendar.sample_acquisitions(rng, n_guests))
    guest_lines = baskets.fill_baskets(rng, catalog, np.full(n_guests, GROUPS.index("guest")))

    customer = np.concatenate((purchases.customer, extra.customer, np.full(n_guests, -1)))
    t = np.concatenate((purchases.t, extra.t, guest_t))
    group = np.concatenate((base_group, buyer_type[extra.customer], np.full(n_guests, GROUPS.index("guest"))))
    origin = np.concatenate((np.zeros(len(purchases.t), np.int64), extra.origin, np.full(n_guests, 3)))
    first_extra, first_guest = len(purchases.t), registered
    line_order = np.concatenate(
        (base_lines.order, first_extra + np.arange(len(extra.t)), first_guest + guest_lines.order)
    )
    line_product = np.concatenate((base_lines.product, extra.product, guest_lines.product))
    line_quantity = np.concatenate((base_lines.quantity, np.ones(len(extra.t), np.int64), guest_lines.quantity))

    # Number orders in time order; renumber the lines' orders to match.
    seconds = to_seconds(t, calendar.days)
    chronological = sort_order(seconds)
    renumber = np.empty_like(chronological)
    renumber[chronological] = np.arange(len(chronological))
    line_order = renumber[line_order]
    by_order = sort_order(line_order * catalog.size + line_product)
    lines = Lines(line_order[by_order], line_product[by_order], line_quantity[by_order])

    customer, seconds, group, origin = (a[chronological] for a in (customer, seconds, group, origin))
    n = len(seconds)
    channel = choose(rng, CHANNEL_SHARE, n)
    sale = calendar.sale_at(seconds / SECONDS_PER_DAY)
    promo_use = np.where(origin == 0, PROMO_USE[group], np.where(origin == 3, PROMO_USE[3], FOLLOW_UP_PROMO_USE))
    orders = Orders(
        customer=customer,
        seconds=seconds,
        group=group,
        origin=origin,
        status=(rng.random(n) < CANCELLED_SHARE).astype(np.int64),
        channel=channel,
        sale=sale,
        promo=(sale >= 0) & (rng.random(n) < promo_use),
        session_seconds=np.where(
            channel == 0, 60 + (rng.gamma(*SESSION_MINUTES, n) * 60).astype(np.int64), 0
        ).clip(max=seconds),
    )
    return orders, lines


def _trim_to_cap(replenish: ExtraOrders, companion: ExtraOrders, purchases: Purchases, buyer_type) -> ExtraOrders:
    """Merge follow-ups, keeping a capped type's earliest ones so its total stays within the cap."""
    fields = ("customer", "t", "product")
    extra = ExtraOrders(*(np.concatenate((getattr(replenish, f), getattr(companion, f))) for f in fields))
    origin = np.repeat([ORIGINS.index("replenishment"), ORIGINS.index("companion")],
                       [len(replenish.t), len(companion.t)])
    cap = np.array([PROCESSES[name].max_orders or np.iinfo(np.int32).max for name in BUYER_TYPES])
    order = np.lexsort((extra.t, extra.customer))
    rank = rank_in_group(extra.customer[order])
    budget = cap[buyer_type[extra.customer[order]]] - purchases.count[extra.customer[order]]
    keep = np.sort(order[rank < budget])
    return ExtraOrders(extra.customer[keep], extra.t[keep], extra.product[keep], origin[keep])


def price_lines(catalog: Catalog, calendar: Calendar, orders: Orders, lines: Lines) -> PricedLines:
    """Unit prices, promo discounts and a shipping line for small delivered orders."""
    unit_price = catalog.price[lines.product]
    sale_rate = np.append(calendar.sale_rate, 0.0)  # index -1: no sale running
    rate = np.where(orders.promo, sale_rate[orders.sale], 0.0)[lines.order]
    discount = money(rate * lines.quantity * unit_price)
    merchandise = np.bincount(lines.order, weights=lines.quantity * unit_price - discount,
                              minlength=len(orders.seconds))
    pays_shipping = (merchandise < FREE_SHIPPING_FROM) & (orders.channel != CHANNELS.index("offline"))
    shipped = np.flatnonzero(pays_shipping)

    order = np.concatenate((lines.order, shipped))
    is_shipping = np.repeat([False, True], [len(lines.order), len(shipped)])
    by_order = sort_order(order * 2 + is_shipping)  # shipping after the order's merchandise
    order = order[by_order]
    return PricedLines(
        order=order,
        line_no=rank_in_group(order) + 1,
        product=np.concatenate((lines.product, np.full(len(shipped), -1)))[by_order],
        quantity=np.concatenate((lines.quantity, np.ones(len(shipped), np.int64)))[by_order],
        unit_price=np.concatenate((unit_price, np.full(len(shipped), SHIPPING_FEE)))[by_order],
        discount=np.concatenate((discount, np.zeros(len(shipped))))[by_order],
        kind=is_shipping[by_order].astype(np.int64),
    )


def orders_frame(calendar: Calendar, orders: Orders, customer_country: np.ndarray,
                 countries: tuple[str, ...], guest_country: np.ndarray) -> pd.DataFrame:
    """The canonical ``orders`` entity; totals are left to the loader."""
    n = len(orders.seconds)
    guest = orders.customer < 0
    country = np.where(guest, guest_country, customer_country[orders.customer.clip(0)])
    empty = pd.Series(np.full(n, np.nan))  # totals: computed by the loader from the lines
    return frame(
        {
            "order_id": text(order_refs(np.arange(n), n)),
            "customer_ref": text(customer_refs(orders.customer, len(customer_country))),
            "placed_at": timestamps(calendar.start, orders.seconds),
            "status": text(pick(STATUSES, orders.status)),
            "currency": text(pick(["EUR"], np.zeros(n, np.int64))),
            "channel": text(pick(CHANNELS, orders.channel)),
            "promo_code": text(pick(calendar.sale_code, np.where(orders.promo, orders.sale, -1))),
            "country": text(pick(countries, country)),
            "gross": empty,
            "discount": empty.copy(),
            "shipping": empty.copy(),
            "tax": empty.copy(),
            "net": empty.copy(),
        }
    )


def lines_frame(catalog: Catalog, orders: Orders, lines: PricedLines) -> pd.DataFrame:
    """The canonical ``lines`` entity; ``amount`` is quantity x unit price, before the discount."""
    columns = {"order_id": text(order_refs(lines.order, len(orders.seconds))), "line_no": lines.line_no}
    columns["sku"] = text(pick(catalog.sku, lines.product))
    names = catalog.name + ("Shipping",)
    columns["description"] = text(pick(names, np.where(lines.product < 0, catalog.size, lines.product)))
    columns["quantity"] = lines.quantity
    columns["unit_price"] = lines.unit_price
    columns["discount"] = lines.discount
    columns["amount"] = money(lines.quantity * lines.unit_price)
    columns["kind"] = text(pick(LINE_KINDS, lines.kind))
    return frame(columns)
