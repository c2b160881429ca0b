"""When customers buy: buyer types and their purchase process, with known parameters.

Each registered customer follows the MBG/NBD process (Batislam, Denizel & Filiztekin 2007),
a BG/NBD in which a customer may also drop out right after the first purchase:

* while alive, purchases arrive as a Poisson process with rate ``lambda`` per day,
  ``lambda ~ Gamma(shape=r, rate=alpha)`` across customers;
* after every purchase, the first included, the customer drops out for good with
  probability ``p``, ``p ~ Beta(a, b)`` across customers.

So ``E[repeat purchases in t days | lambda, p] = (1 - p) / p * (1 - exp(-lambda p t))``.
The process runs in *operational* time, the cumulative seasonal demand of the calendar,
so a homogeneous process becomes one with more orders in Nov/Dec (time warp, no loops).
The first purchase is the customer's acquisition. ``dropped_out_at`` is the time of the
last purchase of a customer who dropped out (BG/NBD: "inactive immediately after a
transaction"), null when still alive at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retainly.synth.arrays import SECONDS_PER_DAY, cumsum_in_group, sort_pairs, to_seconds
from retainly.synth.calendar import Calendar

BUYER_TYPES = ("hit_and_run", "discount_only", "active")
DEFAULT_MIX = {"hit_and_run": 0.45, "discount_only": 0.20, "active": 0.35}


@dataclass(frozen=True)
class PurchaseProcess:
    """MBG/NBD parameters of one buyer type; rates are per (operational) day."""

    r: float
    alpha: float
    a: float
    b: float
    max_orders: int | None = None  # forced dropout after this many orders
    sale_share: float = 0.0  # share of purchases postponed/advanced into the nearest sale


PROCESSES: dict[str, PurchaseProcess] = {
    # one to five orders, then gone: mean rate 1/90 days, mean dropout 0.6 per purchase
    "hit_and_run": PurchaseProcess(r=1.0, alpha=90.0, a=6.0, b=4.0, max_orders=5),
    # buys about every 100 days, waits for the sales: 85 % of purchases fall inside one
    "discount_only": PurchaseProcess(r=1.5, alpha=150.0, a=2.0, b=8.0, sale_share=0.85),
    # steady: mean rate 1/40 days, mean dropout 0.0625 per purchase
    "active": PurchaseProcess(r=2.0, alpha=80.0, a=2.0, b=30.0),
}


@dataclass
class Purchases:
    """Base purchases of registered customers, sorted by customer then time, and the truth."""

    customer: np.ndarray  # customer number per purchase
    t: np.ndarray  # calendar days since start
    rate: np.ndarray  # per customer: lambda, purchases per operational day
    dropout: np.ndarray  # per customer: p
    dropped: np.ndarray  # per customer: dropped out before the end
    last_purchase: np.ndarray  # per customer: time of the last base purchase (days)
    count: np.ndarray  # per customer: number of base purchases


def draw_buyer_types(rng: np.random.Generator, size: int, mix: dict[str, float]) -> np.ndarray:
    """Buyer type codes (indices into BUYER_TYPES) with exactly rounded shares of ``mix``."""
    shares = np.array([mix[name] for name in BUYER_TYPES], dtype=float)
    counts = np.floor(shares / shares.sum() * size).astype(np.int64)
    counts[np.argsort(-shares)[: size - counts.sum()]] += 1  # hand out the remainder
    return rng.permutation(np.repeat(np.arange(len(BUYER_TYPES)), counts))


def simulate_purchases(
    rng: np.random.Generator, calendar: Calendar, acquired: np.ndarray, buyer_type: np.ndarray
) -> Purchases:
    """Draw every customer's purchase times; ``acquired`` are the first-purchase times (days)."""
    n = len(acquired)
    rate = np.empty(n)
    dropout = np.empty(n)
    cap = np.full(n, np.iinfo(np.int64).max // 4)
    for code, name in enumerate(BUYER_TYPES):
        process = PROCESSES[name]
        members = buyer_type == code
        rate[members] = rng.gamma(process.r, 1.0 / process.alpha, members.sum())
        dropout[members] = rng.beta(process.a, process.b, members.sum())
        if process.max_orders is not None:
            cap[members] = process.max_orders - 1
    # Repeat purchases until dropout: 0 means gone right after the first purchase.
    until_dropout = np.minimum(rng.geometric(np.maximum(dropout, 1e-12)) - 1, cap)
    begin = calendar.to_operational(acquired)
    horizon = calendar.warp_knots[-1] - begin
    in_horizon = rng.poisson(rate * horizon)
    repeats = np.minimum(in_horizon, until_dropout)
    dropped = until_dropout <= in_horizon

    # The first `repeats` of `in_horizon` uniform order statistics on [0, horizon], drawn as
    # normalized exponential spacings: S_j / (S_repeats + Gamma(in_horizon - repeats + 1)).
    owner = np.repeat(np.arange(n), repeats)
    spacing_sums = cumsum_in_group(rng.exponential(1.0, len(owner)), owner)
    rest = rng.gamma(in_horizon - repeats + 1.0)
    last_sum = np.zeros(n)
    np.maximum.at(last_sum, owner, spacing_sums)
    scale = horizon / (last_sum + rest)
    repeat_times = calendar.to_calendar(begin[owner] + spacing_sums * scale[owner])

    customer = np.concatenate((np.arange(n), owner))
    t = np.concatenate((acquired, repeat_times))
    for code, name in enumerate(BUYER_TYPES):
        share = PROCESSES[name].sale_share
        if share > 0:
            chosen = (buyer_type[customer] == code) & (rng.random(len(t)) < share)
            t[chosen] = calendar.move_into_sales(rng, t[chosen])
    seconds = to_seconds(calendar.time_of_day(rng, t), calendar.days)
    customer, seconds = sort_pairs(customer, seconds)
    t = seconds / SECONDS_PER_DAY
    last_purchase = np.zeros(n)
    np.maximum.at(last_purchase, customer, t)
    return Purchases(customer, t, rate, dropout, dropped, last_purchase, repeats + 1)
