"""A few contacts with registered customers: feedback, support tickets and sales calls.

Feedback after a purchase is mostly positive; it turns negative far more often after an
order with a return, and after the purchase after which the customer dropped out, so a
negative rating is a (hidden) churn signal. Interaction ids are "I0000001" in time order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retainly.synth.arrays import (
    SECONDS_PER_DAY, choose, customer_refs, frame, id_strings, join, pick, sort_order, text, timestamps,
)
from retainly.synth.calendar import Calendar
from retainly.synth.orders import ORIGINS, STATUSES, Orders
from retainly.synth.returns import REASONS, Returns
from retainly.synth.timing import BUYER_TYPES, Purchases

FEEDBACK_SHARE = 0.06  # completed orders followed by a rating
NEGATIVE_SHARE = 0.08  # ratings of 1-2 stars after an ordinary order ...
NEGATIVE_AFTER_RETURN = 0.50  # ... after an order with a return
NEGATIVE_BEFORE_DROPOUT = 0.35  # ... after the purchase that was the customer's last
NEUTRAL_SHARE = 0.12
SUPPORT_PER_RETURN = 0.25  # returns announced through customer service first
WHERE_IS_MY_ORDER = 0.01  # orders followed by a delivery question
CALLED_SHARE = 0.10  # active customers with 5+ orders who get a loyalty call
AGENTS = tuple(f"agent-{i:02d}" for i in range(1, 13))

KINDS = ("feedback", "support", "call")
DIRECTIONS = ("inbound", "outbound")
OUTCOMES = ("positive", "neutral", "negative", "resolved", "reached", "no_answer", "voicemail")
NOTES = {
    "negative": ("Parcel arrived late", "Item damaged on arrival", "Quality below expectations",
                 "Nobody answered my e-mail", "Wrong size delivered"),
    "neutral": ("Okay, nothing special", "Delivery took a while"),
    "positive": ("Fast delivery, great product", "Very happy with the purchase", "Would buy again",
                 "Great value for money"),
}


def build_interactions(rng: np.random.Generator, calendar: Calendar, orders: Orders, returns: Returns,
                       purchases: Purchases, buyer_type: np.ndarray) -> pd.DataFrame:
    """The canonical ``interactions`` entity (registered customers only, within the period)."""
    parts = [
        _feedback(rng, orders, returns, purchases),
        _support(rng, orders, returns),
        _loyalty_calls(rng, calendar, orders, buyer_type),
    ]
    return _frame(calendar, parts, len(buyer_type), calendar.days * SECONDS_PER_DAY)


def _feedback(rng, orders: Orders, returns: Returns, purchases: Purchases) -> dict:
    """Ratings a few days after completed orders; negative after a return or a dropout."""
    rated = np.flatnonzero((orders.customer >= 0) & (orders.status == STATUSES.index("completed")))
    rated = rated[rng.random(len(rated)) < FEEDBACK_SHARE]
    customer = orders.customer[rated]
    returned = np.zeros(len(orders.seconds), dtype=bool)
    returned[returns.order] = True
    last_purchase = np.rint(purchases.last_purchase * SECONDS_PER_DAY).astype(np.int64)
    final = ((orders.origin[rated] == ORIGINS.index("base")) & purchases.dropped[customer]
             & (orders.seconds[rated] == last_purchase[customer]))
    negative = np.where(returned[rated], NEGATIVE_AFTER_RETURN,
                        np.where(final, NEGATIVE_BEFORE_DROPOUT, NEGATIVE_SHARE))
    draw = rng.random(len(rated))
    outcome = np.where(draw < negative, 2, np.where(draw < negative + NEUTRAL_SHARE, 1, 0))  # OUTCOMES
    stars = np.select([outcome == 2, outcome == 1], [1 + (draw < negative / 2), 3],
                      4 + (rng.random(len(rated)) < 0.6))
    note = np.empty(len(rated), dtype=np.int64)
    notes: tuple[str, ...] = ()
    for code, label in enumerate(("positive", "neutral", "negative")):
        members = outcome == code
        note[members] = len(notes) + choose(rng, np.ones(len(NOTES[label])), int(members.sum()))
        notes += NOTES[label]
    delay = rng.integers(2 * SECONDS_PER_DAY, 14 * SECONDS_PER_DAY, len(rated))
    return dict(customer=customer, seconds=orders.seconds[rated] + delay, kind=0, direction=0,
                outcome=outcome, agent=-1,
                note=join("Rating ", pc.cast(pa.array(stars), pa.large_string()), "/5: ", pick(notes, note)))


def _support(rng, orders: Orders, returns: Returns) -> dict:
    """Returns announced to customer service first, and delivery questions."""
    asked = np.flatnonzero((orders.customer[returns.order] >= 0) & (returns.line_no == 1))
    asked = asked[rng.random(len(asked)) < SUPPORT_PER_RETURN]
    order = returns.order[asked]
    announced = np.maximum(returns.seconds[asked] - rng.integers(0, 2 * SECONDS_PER_DAY, len(asked)),
                           orders.seconds[order] + 3600)
    waiting = np.flatnonzero(orders.customer >= 0)
    waiting = waiting[rng.random(len(waiting)) < WHERE_IS_MY_ORDER]
    asked_at = orders.seconds[waiting] + rng.integers(2 * SECONDS_PER_DAY, 6 * SECONDS_PER_DAY, len(waiting))
    return dict(customer=np.concatenate((orders.customer[order], orders.customer[waiting])),
                seconds=np.concatenate((announced, asked_at)), kind=1, direction=0, outcome=3,
                agent=choose(rng, np.ones(len(AGENTS)), len(asked) + len(waiting)),
                note=pa.concat_arrays([join("Return: ", pick(REASONS, returns.reason[asked])),
                                       pick(["Where is my order?"], np.zeros(len(waiting), np.int64))]))


def _loyalty_calls(rng, calendar: Calendar, orders: Orders, buyer_type: np.ndarray) -> dict:
    """One call to a share of the active customers with five or more orders."""
    end = calendar.days * SECONDS_PER_DAY
    registered = orders.customer >= 0
    counts = np.bincount(orders.customer[registered], minlength=len(buyer_type))
    called = np.flatnonzero((buyer_type == BUYER_TYPES.index("active")) & (counts >= 5))
    called = called[rng.random(len(called)) < CALLED_SHARE]
    first = np.full(len(buyer_type), end)
    np.minimum.at(first, orders.customer[registered], orders.seconds[registered])
    when = first[called] + (rng.random(len(called)) * (end - first[called])).astype(np.int64)
    return dict(customer=called, seconds=when, kind=2, direction=1,
                outcome=4 + choose(rng, (0.55, 0.30, 0.15), len(called)),  # reached, no answer, voicemail
                agent=choose(rng, np.ones(len(AGENTS)), len(called)),
                note=pick(["Loyalty check-in"], np.zeros(len(called), np.int64)))


def _frame(calendar: Calendar, parts: list[dict], customers: int, end: int) -> pd.DataFrame:
    sizes = [len(p["customer"]) for p in parts]
    column = {
        name: np.concatenate([np.broadcast_to(np.asarray(p[name]), (size,)) for p, size in zip(parts, sizes)])
        for name in ("customer", "seconds", "kind", "direction", "outcome", "agent")
    }
    note = pa.concat_arrays([p["note"] for p in parts])
    keep = np.flatnonzero(column["seconds"] < end)
    keep = keep[sort_order(column["seconds"][keep])]
    column = {name: values[keep] for name, values in column.items()}
    return frame(
        {
            "interaction_id": text(id_strings("I", np.arange(1, len(keep) + 1), 7)),
            "customer_ref": text(customer_refs(column["customer"], customers)),
            "occurred_at": timestamps(calendar.start, column["seconds"]),
            "kind": text(pick(KINDS, column["kind"])),
            "direction": text(pick(DIRECTIONS, column["direction"])),
            "outcome": text(pick(OUTCOMES, column["outcome"])),
            "note": text(note.take(pa.array(keep))),
            "by_whom": text(pick(AGENTS, column["agent"])),
        }
    )
