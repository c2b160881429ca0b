"""Rule labels of buyer types, each with its reason in words.

For customers with enough history (first order at least ``max(history_days, gone_days)``
before the as-of day), the first rule that holds:

1. ``discount_only``: at least ``min_discount_orders`` orders and at least
   ``discount_share`` of them promoted (``features`` says what counts as promoted);
2. ``hit_and_run``: at most ``max_hit_and_run_orders`` orders and none for ``gone_days``,
   where ``gone_days = max(min_gone_days, gone_multiple x the shop's median days between
   a customer's consecutive orders)``;
3. ``active``: everyone else (more orders, or still buying).

Customers too new for a rule are ``NOT_ENOUGH_HISTORY``. The labels and their reasons
(``reasons``) are built in the engine: storing them takes no Python row per customer, and
``customer_history`` reads them back when a caller wants them as a frame.
"""

from __future__ import annotations

import math
from datetime import date

import ibis
import pandas as pd
from ibis.expr.types import Table

from retainly.segments.buyer_types.features import SOURCES, as_of_day, order_facts, promotion_sources
from retainly.segments.buyer_types.reasons import reason
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


def customer_history(store: Store, as_of: date | None = None, **settings) -> pd.DataFrame:
    """Every customer who bought by ``as_of`` with their rule label, ``NOT_ENOUGH_HISTORY`` included.

    Columns: customer_id, label, reason, orders, promoted_orders, promoted_share, first_order_on,
    last_order_on, days_since_last. ``attrs`` holds as_of, typical_gap_days, gone_days,
    enough_history_days, promotion_sources and promotion_note. ``settings``: as ``rule_labels``.
    """
    as_of = as_of_day(store, as_of)
    with store.scratch(order_facts(store, as_of)) as facts:
        rules, attrs = rule_table(store, facts, as_of, **settings)
        frame = rules.mutate(reason=rule_reason(rules, attrs)).order_by("customer_id").to_pandas()
    orders = frame["orders"].astype("int64").to_numpy()
    promoted = frame["promoted_orders"].fillna(0).astype("int64").to_numpy()
    result = pd.DataFrame({
        "customer_id": frame["customer_id"].astype("int64"),
        "label": frame["label"].astype(object),
        "reason": frame["reason"].astype(object),
        "orders": orders,
        "promoted_orders": promoted,
        "promoted_share": (promoted / orders).round(4),
        "first_order_on": pd.to_datetime(frame["first_day"]).dt.date,
        "last_order_on": pd.to_datetime(frame["last_day"]).dt.date,
        "days_since_last": frame["days_since_last"].astype("int64").to_numpy(),
    })
    result.attrs.update(attrs)
    return result


def rule_table(store: Store, facts: Table, as_of: date, *, history_days: int = HISTORY_DAYS,
               min_gone_days: int = MIN_GONE_DAYS, gone_multiple: float = GONE_MULTIPLE,
               max_hit_and_run_orders: int = MAX_HIT_AND_RUN_ORDERS, discount_share: float = DISCOUNT_SHARE,
               min_discount_orders: int = MIN_DISCOUNT_ORDERS) -> tuple[Table, dict]:
    """Every customer's rule label, in the engine, and the thresholds it used (``customer_history``'s attrs).

    ``facts``: ``order_facts(store, as_of)``, materialised (it is read twice). Columns: customer_id, label,
    orders, promoted_orders, first_day, last_day, span, days_since_last, age (days); ``rule_reason`` words it.
    """
    sources = promotion_sources(store)
    previous = facts.placed_at.lag().over(group_by="customer_id", order_by=["placed_at", "order_id"])
    lagged = facts.mutate(gap=(facts.placed_at.epoch_seconds() - previous.epoch_seconds()) / 86400.0)
    gaps = lagged.filter(lagged.gap.notnull())
    typical_gap = gaps.aggregate(median=gaps.gap.median()).to_pandas()["median"].iloc[0]
    typical_gap = None if typical_gap is None or pd.isna(typical_gap) else float(typical_gap)
    gone_days = max(int(min_gone_days), math.ceil(gone_multiple * typical_gap) if typical_gap else 0)
    enough_days = max(int(history_days), gone_days)

    per_customer = facts.group_by("customer_id").aggregate(
        orders=facts.count(),
        promoted_orders=facts.promoted.ifelse(1, 0).sum(),
        first_day=facts.placed_at.min().date(),
        last_day=facts.placed_at.max().date(),
    )
    days = per_customer.mutate(
        span=per_customer.last_day.delta(per_customer.first_day, unit="day"),
        days_since_last=ibis.literal(as_of).delta(per_customer.last_day, unit="day"),
        age=ibis.literal(as_of).delta(per_customer.first_day, unit="day"),
    )
    share = days.promoted_orders.cast("float64") / days.orders
    discount = ((days.orders >= min_discount_orders) & (share >= discount_share - 1e-12)) if sources["known"] \
        else ibis.literal(False)
    gone = (days.orders <= max_hit_and_run_orders) & (days.days_since_last >= gone_days)
    label = ibis.cases((days.age < enough_days, ibis.literal(NOT_ENOUGH_HISTORY)),
                       (discount, ibis.literal("discount_only")), (gone, ibis.literal("hit_and_run")),
                       else_=ibis.literal("active"))
    table = days.select("customer_id", label.name("label"), "orders", "promoted_orders", "first_day", "last_day",
                        "span", "days_since_last", "age")
    attrs = dict(as_of=as_of, typical_gap_days=typical_gap, gone_days=gone_days, enough_history_days=enough_days,
                 promotion_sources=sources, promotion_note=sources["note"])
    return table, attrs


def rule_reason(rules: Table, attrs: dict):
    """The reason of each row of ``rule_table`` (a string expression), with the thresholds of ``attrs``."""
    sources = attrs["promotion_sources"]
    return reason(rules, phrase=_promoted_phrase(sources), known=sources["known"],
                  enough_days=attrs["enough_history_days"], not_enough=NOT_ENOUGH_HISTORY)


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


def distribution(store: Store, as_of: date | None = None, **settings) -> dict:
    """Customers and shares per rule label, 'not enough history' included, with the promotion note."""
    as_of = as_of_day(store, as_of)
    with store.scratch(order_facts(store, as_of)) as facts:
        rules, attrs = rule_table(store, facts, as_of, **settings)
        counted = rules.group_by("label").aggregate(customers=rules.count()).to_pyarrow().to_pylist()
    counts = {row["label"]: int(row["customers"]) for row in counted}
    total = sum(counts.values())
    rows = [{"label": name, "customers": int(counts.get(name, 0)),
             "share": round(int(counts.get(name, 0)) / total, 4) if total else 0.0}
            for name in (*BUYER_TYPES, NOT_ENOUGH_HISTORY)]
    return {"as_of": attrs["as_of"], "customers": total, "labels": rows,
            "typical_gap_days": attrs["typical_gap_days"], "gone_days": attrs["gone_days"],
            "enough_history_days": attrs["enough_history_days"],
            "promotion_sources": {s: attrs["promotion_sources"][s] for s in SOURCES},
            "promotion_note": attrs["promotion_note"]}
