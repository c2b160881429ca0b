"""Rule labels of buyer types, each with its reason in words.

For customers with enough history (first order at least ``max(history_days, gone_days)``
before the as-of day), the first rule that holds:

1. ``discount_only``: at least ``min_discount_orders`` orders and at least
   ``discount_share`` of them promoted (``features`` says what counts as promoted);
2. ``hit_and_run``: at most ``max_hit_and_run_orders`` orders and none for ``gone_days``,
   where ``gone_days = max(min_gone_days, gone_multiple x the shop's median days between
   a customer's consecutive orders)``;
3. ``active``: everyone else (more orders, or still buying).

Customers too new for a rule are ``NOT_ENOUGH_HISTORY``. The counts per customer are built in
the engine; one row per customer comes into Python for the rule's wording.
"""

from __future__ import annotations

import math
from datetime import date

import ibis
import numpy as np
import pandas as pd

from retainly.segments.buyer_types.features import SOURCES, as_of_day, order_facts, promotion_sources
from retainly.store.backends import Store

BUYER_TYPES = ("hit_and_run", "discount_only", "active")
NOT_ENOUGH_HISTORY = "not enough history"

# Rule defaults (docs/buyer_types.md explains each).
HISTORY_DAYS = 180
MIN_GONE_DAYS = 180
GONE_MULTIPLE = 3.0
MAX_HIT_AND_RUN_ORDERS = 5
DISCOUNT_SHARE = 0.6
MIN_DISCOUNT_ORDERS = 2


def _promoted_phrase(sources: dict) -> str:
    """How a promoted order reads in a reason: 'with a promo code or a discount or in a sale'."""
    with_parts = [w for s, w in (("promo_code", "a promo code"), ("discount", "a discount")) if sources[s]]
    phrase = f"with {' or '.join(with_parts)}" if with_parts else ""
    if sources["sale_period"]:
        phrase = f"{phrase} or in a sale" if phrase else "in a sale"
    return phrase


def customer_history(store: Store, as_of: date | None = None, *, history_days: int = HISTORY_DAYS,
                     min_gone_days: int = MIN_GONE_DAYS, gone_multiple: float = GONE_MULTIPLE,
                     max_hit_and_run_orders: int = MAX_HIT_AND_RUN_ORDERS, discount_share: float = DISCOUNT_SHARE,
                     min_discount_orders: int = MIN_DISCOUNT_ORDERS) -> pd.DataFrame:
    """Every customer who bought by ``as_of`` with their rule label, ``NOT_ENOUGH_HISTORY`` included.

    Columns: customer_id, label, reason, orders, promoted_orders, promoted_share, first_order_on,
    last_order_on, days_since_last. ``attrs`` holds as_of, typical_gap_days, gone_days,
    enough_history_days, promotion_sources and promotion_note.
    """
    as_of = as_of_day(store, as_of)
    sources = promotion_sources(store)
    with store.scratch(order_facts(store, as_of)) as facts:
        previous = facts.placed_at.lag().over(group_by="customer_id", order_by=["placed_at", "order_id"])
        lagged = facts.mutate(gap=(facts.placed_at.epoch_seconds() - previous.epoch_seconds()) / 86400.0)
        gaps = lagged.filter(lagged.gap.notnull())
        typical_gap = gaps.aggregate(median=gaps.gap.median()).to_pandas()["median"].iloc[0]
        per_customer = facts.group_by("customer_id").aggregate(
            orders=facts.count(),
            promoted_orders=facts.promoted.ifelse(1, 0).sum(),
            first_day=facts.placed_at.min().date(),
            last_day=facts.placed_at.max().date(),
        )
        frame = per_customer.select(
            "customer_id", "orders", "promoted_orders", "first_day", "last_day",
            span=per_customer.last_day.delta(per_customer.first_day, unit="day"),
            days_since_last=ibis.literal(as_of).delta(per_customer.last_day, unit="day"),
            age=ibis.literal(as_of).delta(per_customer.first_day, unit="day"),
        ).order_by("customer_id").to_pandas()
    typical_gap = None if typical_gap is None or pd.isna(typical_gap) else float(typical_gap)
    gone_days = max(int(min_gone_days), math.ceil(gone_multiple * typical_gap) if typical_gap else 0)
    enough_days = max(int(history_days), gone_days)

    orders = frame["orders"].astype("int64").to_numpy()
    promoted = frame["promoted_orders"].fillna(0).astype("int64").to_numpy()
    span = frame["span"].astype("int64").to_numpy()
    since = frame["days_since_last"].astype("int64").to_numpy()
    age = frame["age"].astype("int64").to_numpy()
    share = promoted / orders
    enough = age >= enough_days
    discount = sources["known"] & (orders >= min_discount_orders) & (share >= discount_share - 1e-12)
    gone = (orders <= max_hit_and_run_orders) & (since >= gone_days)
    label = np.select([~enough, discount, gone], [NOT_ENOUGH_HISTORY, "discount_only", "hit_and_run"], "active")
    phrase = _promoted_phrase(sources)
    reasons = [
        _reason(lab, n, p, s, d, a, phrase, sources["known"], enough_days)
        for lab, n, p, s, d, a in zip(label, orders, promoted, span, since, age)
    ]
    result = pd.DataFrame({
        "customer_id": frame["customer_id"].astype("int64"),
        "label": label,
        "reason": reasons,
        "orders": orders,
        "promoted_orders": promoted,
        "promoted_share": share.round(4),
        "first_order_on": pd.to_datetime(frame["first_day"]).dt.date,
        "last_order_on": pd.to_datetime(frame["last_day"]).dt.date,
        "days_since_last": since,
    })
    result.attrs.update(as_of=as_of, typical_gap_days=typical_gap, gone_days=gone_days,
                        enough_history_days=enough_days, promotion_sources=sources, promotion_note=sources["note"])
    return result


def rule_labels(store: Store, as_of: date | None = None, *, history_days: int = HISTORY_DAYS,
                min_gone_days: int = MIN_GONE_DAYS, gone_multiple: float = GONE_MULTIPLE,
                max_hit_and_run_orders: int = MAX_HIT_AND_RUN_ORDERS, discount_share: float = DISCOUNT_SHARE,
                min_discount_orders: int = MIN_DISCOUNT_ORDERS) -> pd.DataFrame:
    """Rule labels and reasons of the customers with enough history; columns and attrs as ``customer_history``.

    ``as_of`` defaults to the day of the last purchase order. The settings (module docstring):
    history_days, min_gone_days, gone_multiple, max_hit_and_run_orders, discount_share,
    min_discount_orders; ``distribution``, ``early.train_classifier``, ``early.predict_types`` and
    ``evaluation.evaluate`` take the same keywords.
    """
    history = customer_history(
        store, as_of, history_days=history_days, min_gone_days=min_gone_days, gone_multiple=gone_multiple,
        max_hit_and_run_orders=max_hit_and_run_orders, discount_share=discount_share,
        min_discount_orders=min_discount_orders)
    labelled = history[history["label"] != NOT_ENOUGH_HISTORY].reset_index(drop=True)
    labelled.attrs.update(history.attrs)
    return labelled


def _reason(label: str, n: int, promoted: int, span: int, since: int, age: int, phrase: str, known: bool,
            enough_days: int) -> str:
    orders = "1 order" if n == 1 else f"{n} orders"
    promo = f"{promoted} of {n} promoted" if known else "promotions unknown"
    if label == NOT_ENOUGH_HISTORY:
        return f"first order {age} days ago; a rule label needs {enough_days}"
    if label == "discount_only":
        return f"discount_only: {promoted} of {n} orders {phrase} ({round(100 * promoted / n)} %)"
    if label == "hit_and_run":
        within = "" if n == 1 else f" within {span} days"
        return f"hit_and_run: {orders}{within}, none in the {since} days since"
    if since == 0:
        last = "the last today"
    else:
        last = f"the last {since} days ago" if since > 1 else "the last yesterday"
    over = "on one day" if span == 0 else f"over {_duration(span)}"
    return f"active: {orders} {over}, {last}, {promo}"


def _duration(days: int) -> str:
    if days < 60:
        return "1 day" if days == 1 else f"{days} days"
    if days < 730:
        return f"{round(days / 30.4375)} months"
    years = f"{days / 365.25:.1f}".removesuffix(".0")
    return f"{years} years"


def distribution(store: Store, as_of: date | None = None, **settings) -> dict:
    """Customers and shares per rule label, 'not enough history' included, with the promotion note."""
    history = customer_history(store, as_of, **settings)
    total = len(history)
    counts = history["label"].value_counts()
    rows = [{"label": name, "customers": int(counts.get(name, 0)),
             "share": round(int(counts.get(name, 0)) / total, 4) if total else 0.0}
            for name in (*BUYER_TYPES, NOT_ENOUGH_HISTORY)]
    attrs = history.attrs
    return {"as_of": attrs["as_of"], "customers": total, "labels": rows,
            "typical_gap_days": attrs["typical_gap_days"], "gone_days": attrs["gone_days"],
            "enough_history_days": attrs["enough_history_days"],
            "promotion_sources": {s: attrs["promotion_sources"][s] for s in SOURCES},
            "promotion_note": attrs["promotion_note"]}
