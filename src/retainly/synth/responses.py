"""How the generated shop's customers respond to what retainly does: the known truth.

A delivered message, a message with an offer, or a manager's call may bring one extra order a
few days later, with a chance set by the customer's buyer type (``LIFT``): a discount-only buyer
reacts to offers only, a hit-and-run buyer barely reacts at all, an active buyer reacts a little
to a reminder and more to a call. A customer who has already dropped out (the purchase process's
truth) reacts at ``GONE_FACTOR`` of that: some can still be won back. A thank-you with a
feedback question (``NO_EFFECT``) sells nothing.

An offer also costs: the orders a customer would have placed anyway within the offer's window
(the playbook's goal) are discounted too. So a message's true effect on revenue in its window is

    effect = q · v · (1 − d)  −  d · v · E[orders anyway in W]

with q the chance above, v the customer's usual order value, d the share the offer gives away,
and E[orders anyway in W] = (1 − exp(−λ p W)) / p for a customer still buying (λ the purchase
rate per day, p the dropout chance after each order; the MBG/NBD process of synth.timing), 0
for one who has dropped out. ``true_effect`` computes it; ``retainly simulate`` (synth.simulation)
draws the orders it describes, and tests compare the measured effects with it.
"""

from __future__ import annotations

import numpy as np

from retainly.synth.timing import BUYER_TYPES

KINDS = ("message", "offer", "call")
# The chance that one delivered message brings one extra order, by buyer type and kind.
LIFT: dict[str, dict[str, float]] = {
    "hit_and_run": {"message": 0.0, "offer": 0.02, "call": 0.02},
    "discount_only": {"message": 0.0, "offer": 0.30, "call": 0.08},
    "active": {"message": 0.06, "offer": 0.10, "call": 0.15},
}
GONE_FACTOR = 0.3
NO_EFFECT = frozenset({"first-order-thanks"})
RESPONSE_DAYS = 7  # the extra order falls on one of the days 1..7 after delivery (within the goal window)
BASKET_SHAPE = 4.0  # an order's value is the usual value times Gamma(4, 1/4): mean 1, sd 0.5

assert set(LIFT) == set(BUYER_TYPES) and all(set(row) == set(KINDS) for row in LIFT.values())


def response_chance(buyer_type: np.ndarray, kind: np.ndarray, gone: np.ndarray, playbook: np.ndarray) -> np.ndarray:
    """``q`` per delivered message (arrays of buyer type, kind, dropped-out flag and playbook name)."""
    buyer_type, kind = np.asarray(buyer_type, object), np.asarray(kind, object)
    chance = np.zeros(len(kind))
    for type_name, row in LIFT.items():
        for kind_name, lift in row.items():
            chance[(buyer_type == type_name) & (kind == kind_name)] = lift
    chance = np.where(np.asarray(gone, bool), chance * GONE_FACTOR, chance)
    return np.where(np.isin(np.asarray(playbook, object), list(NO_EFFECT)), 0.0, chance)


def orders_anyway(rate: np.ndarray, dropout: np.ndarray, gone: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Expected orders a customer places anyway in ``days``: (1 − exp(−λ p W)) / p while still buying."""
    rate, dropout = np.asarray(rate, float), np.clip(np.asarray(dropout, float), 1e-9, 1.0)
    expected = -np.expm1(-rate * dropout * np.asarray(days, float)) / dropout
    return np.where(np.asarray(gone, bool), 0.0, expected)


def true_effect(chance: np.ndarray, value: np.ndarray, offer_rate: np.ndarray, anyway: np.ndarray) -> np.ndarray:
    """The expected revenue a delivered message adds in its window (see the module doc)."""
    value, offer_rate = np.asarray(value, float), np.asarray(offer_rate, float)
    return chance * value * (1 - offer_rate) - offer_rate * value * np.asarray(anyway, float)


def message_kind(action: np.ndarray, offered: np.ndarray) -> np.ndarray:
    """``call`` for a manager's task, ``offer`` for a message with an offer, else ``message``."""
    action, offered = np.asarray(action, object), np.asarray(offered, bool)
    return np.where(action == "task", "call", np.where(offered, "offer", "message")).astype(object)


def basket_values(rng: np.random.Generator, usual: np.ndarray) -> np.ndarray:
    """Order values around each customer's usual one (mean preserved)."""
    usual = np.asarray(usual, float)
    return usual * rng.gamma(BASKET_SHAPE, 1 / BASKET_SHAPE, size=len(usual))
