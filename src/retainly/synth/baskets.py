"""What customers buy: basket contents, companions, and consumable replenishment.

Base orders get a basket drawn from type-specific product preferences. Anchors pull in
their companion (same order, or a follow-up order within 30 days); machines pull in a
first pack of their consumables and then replenishment orders at the consumable's
interval, for as long as the customer is alive. All draws are vectorized over lines;
the only loops run over the few buyer groups and consumables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retainly.synth.arrays import choose, cumsum_in_group, group_starts
from retainly.synth.catalog import Catalog

GROUPS = ("hit_and_run", "discount_only", "active", "guest")  # buyer types, then guests
EXTRA_ITEMS = np.array([0.5, 0.8, 1.0, 0.5])  # mean items beyond the first, per group
PRICE_SENSITIVITY = np.array([0.5, 0.8, 0.2, 0.5])  # preference ~ price ** -sensitivity
QUANTITY_SHARE = (0.86, 0.10, 0.04)  # quantity 1, 2, 3 of an ordinary line

COMPANION_IN_ORDER = 0.45  # anchor buyers who take the companion in the same order
COMPANION_LATER = 0.60  # of the others, share who come back for it
COMPANION_DELAY = (2.0, 5.0)  # gamma shape and scale (days) of that delay ...
COMPANION_MAX_DELAY = 30.0  # ... capped at 30 days
FIRST_PACK_IN_ORDER = 0.6  # machine buyers who take a first pack of each consumable along
REORDER_SHAPE = 20.0  # gamma shape of re-order gaps: coefficient of variation 1/sqrt(20) = 0.22


@dataclass
class Lines:
    """Merchandise lines: sorted by order, then product; one line per product and order."""

    order: np.ndarray
    product: np.ndarray
    quantity: np.ndarray


@dataclass
class ExtraOrders:
    """Single-line orders a customer places on top of the base process."""

    customer: np.ndarray
    t: np.ndarray  # days since start
    product: np.ndarray
    origin: np.ndarray | None = None  # index into orders.ORIGINS, set when merged


def fill_baskets(rng: np.random.Generator, catalog: Catalog, group: np.ndarray) -> Lines:
    """Draw the basket of every order; ``group`` indexes GROUPS per order."""
    n_orders = len(group)
    items = 1 + rng.poisson(EXTRA_ITEMS[group])
    order = np.repeat(np.arange(n_orders), items)
    opening = np.zeros(len(order), dtype=bool)
    opening[np.cumsum(items) - items] = True
    product = np.empty(len(order), dtype=np.int64)
    line_group = group[order]
    for code in range(len(GROUPS)):
        preference = catalog.popularity * catalog.price ** -PRICE_SENSITIVITY[code]
        for first, allowed in ((True, catalog.regular), (False, catalog.add_on)):
            rows = (line_group == code) & (opening == first)
            product[rows] = choose(rng, preference * allowed, int(rows.sum()))
    keys = [order * catalog.size + product]

    # Companions ride along with their anchor; first packs with their machine.
    companion_of_anchor = np.full(catalog.size, -1)
    companion_of_anchor[catalog.companion_anchor] = catalog.companions
    partner = companion_of_anchor[product]
    taken = (partner >= 0) & (rng.random(len(product)) < COMPANION_IN_ORDER)
    keys.append(order[taken] * catalog.size + partner[taken])
    for consumable, machine in zip(catalog.consumables, catalog.consumable_machine):
        taken = (product == machine) & (rng.random(len(product)) < FIRST_PACK_IN_ORDER)
        keys.append(order[taken] * catalog.size + consumable)

    key = np.sort(np.concatenate(keys))
    key = key[group_starts(key)]  # a product drawn twice in one order becomes one line
    order, product = key // catalog.size, key % catalog.size
    quantity = 1 + choose(rng, QUANTITY_SHARE, len(key))
    quantity[~catalog.regular[product]] = 1  # one pack, one mouse
    return Lines(order, product, quantity)


def replenishments(
    rng: np.random.Generator, catalog: Catalog, lines: Lines, customer: np.ndarray, t: np.ndarray, stop: np.ndarray
) -> ExtraOrders:
    """Re-orders of each consumable after the customer's first purchase of its machine.

    ``lines`` belong to orders sorted by customer then time (``customer``/``t`` per order);
    gaps are Gamma(REORDER_SHAPE, interval / REORDER_SHAPE); re-orders end at ``stop``
    (per customer: dropout or the end of the period).
    """
    parts = []
    for consumable, machine, interval in zip(catalog.consumables, catalog.consumable_machine, catalog.reorder_days):
        bought = lines.order[lines.product == machine]
        owner = customer[bought]
        first = group_starts(owner)  # orders are in time order within a customer
        owner, since = owner[first], t[bought][first]
        span = stop[owner] - since
        # Enough gaps to pass `stop` with near certainty; the surplus is cut below.
        gaps_needed = np.floor(np.maximum(span, 0) / interval * 1.25).astype(np.int64) + 4
        chain = np.repeat(np.arange(len(owner)), gaps_needed)
        gaps = rng.gamma(REORDER_SHAPE, interval / REORDER_SHAPE, len(chain))
        when = since[chain] + cumsum_in_group(gaps, chain)
        keep = when < stop[owner][chain]
        parts.append(ExtraOrders(owner[chain][keep], when[keep], np.full(int(keep.sum()), consumable)))
    return _concat(parts)


def companion_follow_ups(
    rng: np.random.Generator, catalog: Catalog, lines: Lines, customer: np.ndarray, t: np.ndarray, stop: np.ndarray
) -> ExtraOrders:
    """Orders of an anchor's companion within 30 days, when the anchor's order lacked it."""
    companion_of_anchor = np.full(catalog.size, -1)
    companion_of_anchor[catalog.companion_anchor] = catalog.companions
    partner = companion_of_anchor[lines.product]
    anchor = np.flatnonzero(partner >= 0)
    wanted = lines.order[anchor] * catalog.size + partner[anchor]
    key = lines.order * catalog.size + lines.product  # sorted, see fill_baskets
    position = np.searchsorted(key, wanted).clip(0, len(key) - 1)
    lacking = anchor[key[position] != wanted]
    come_back = lacking[rng.random(len(lacking)) < COMPANION_LATER]
    order = lines.order[come_back]
    delay = np.minimum(rng.gamma(*COMPANION_DELAY, len(come_back)), COMPANION_MAX_DELAY)
    when = t[order] + delay
    keep = when < stop[customer[order]]
    return ExtraOrders(customer[order][keep], when[keep], partner[come_back][keep])


def _concat(parts: list[ExtraOrders]) -> ExtraOrders:
    if not parts:
        return ExtraOrders(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64))
    return ExtraOrders(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("customer", "t", "product")))
