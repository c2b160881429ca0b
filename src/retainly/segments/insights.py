"""Buyer types, reorders due and products to offer: computed as of a date and stored per customer.

The analyses live in ``segments/buyer_types.py``, ``features/replenishment.py`` and
``features/associations.py``; this module runs them for one date and keeps their results
(``buyer_types``, ``product_intervals``, ``reorders_due``, ``next_products``), replacing that
date's rows, so the Workspace, ``customer show`` and the report read them back cheaply. The
products to offer are stored apart (their own transaction, their own derived result): only
``customer show`` reads them, and their association rules take longer than the rest.
"""

from __future__ import annotations

from datetime import date, datetime

import ibis
import pyarrow as pa

from retainly.errors import InputError
from retainly.features.associations import next_products
from retainly.features.replenishment import product_intervals, reorders_due
from retainly.segments.buyer_types import NOT_ENOUGH_HISTORY, predict_types
from retainly.segments.buyer_types.early import TypeInputs, type_inputs
from retainly.segments.buyer_types.rules import rule_reason
from retainly.segments.wording import formatted, joined
from retainly.store.backends import Store, repeated

TABLES = ("buyer_types", "product_intervals", "reorders_due", "next_products")


def early_predictions(store: Store, inputs: TypeInputs, computed_at: datetime) -> list[pa.Table]:
    """The early classifiers' buyer types of customers without enough history for a rule, as
    ``buyer_types`` rows: one table per classifier that had enough settled customers to learn from."""
    found = []
    for after in (1, 2):
        try:
            predicted = predict_types(store, inputs.as_of, after, inputs=inputs)
        except InputError:  # too few settled customers to learn from: no early prediction
            continue
        source = f"predicted after {after} order{'s' if after > 1 else ''}"
        found.append(pa.table({
            "as_of": _dates(inputs.as_of, len(predicted)),
            "customer_id": pa.array(predicted["customer_id"], pa.int64()),
            "buyer_type": pa.array(predicted["predicted_type"].astype(str), pa.string()),
            "source": repeated(source, pa.string(), len(predicted)),
            "probability": pa.array(predicted["probability"].astype(float), pa.float64()),
            "reason": joined(f"predicted from the first {'order' if after == 1 else 'two orders'} (",
                             formatted(predicted["probability"].to_numpy(dtype=float), ".0%"), " likely)"),
            "computed_at": _times(computed_at, len(predicted))}))
    return found


def store_buyer_types(store: Store, inputs: TypeInputs, predicted: list[pa.Table], computed_at: datetime) -> int:
    """Replace ``inputs.as_of``'s buyer types, inside the caller's transaction, by the rule labels where
    there is enough history (written by the engine, reasons and all) and the ``predicted`` rows; how many."""
    as_of, rules = inputs.as_of, inputs.rules
    ruled = rules.filter(rules.label != NOT_ENOUGH_HISTORY)
    store.replace_rows("buyer_types", ruled.select(
        as_of=ibis.literal(as_of, "date"), customer_id=ruled.customer_id, buyer_type=ruled.label,
        source=ibis.literal("rule"), probability=ibis.null("float64"), reason=rule_reason(ruled, inputs.attrs),
        computed_at=ibis.literal(computed_at, "timestamp")), as_of=as_of)
    for rows in predicted:
        store.insert_arrow("buyer_types", rows)
    return int(ruled.count().execute()) + sum(rows.num_rows for rows in predicted)


def compute_and_store(store: Store, as_of: date) -> dict:
    """Run every analysis for ``as_of`` and replace its stored rows; return row counts and the promotions note."""
    return {**store_types_and_reorders(store, as_of), **store_offers(store, as_of)}


def store_types_and_reorders(store: Store, as_of: date) -> dict:
    """Buyer types, product intervals and reorders due for ``as_of``, stored in one transaction; row
    counts and the promotions note."""
    intervals = product_intervals(store, as_of)
    due = reorders_due(store, as_of, intervals)
    now = datetime.now()
    tables = {
        "product_intervals": pa.table({
            "as_of": _dates(as_of, len(intervals)), "sku": pa.array(intervals["sku"].astype(str), pa.string()),
            **{c: pa.array(intervals[c].astype("int64"), pa.int64()) for c in ("buyers", "repeat_buyers", "intervals")},
            **{c: pa.array(intervals[c].astype(float), pa.float64(), from_pandas=True)
               for c in ("median_days", "p25_days", "p75_days")},
            "consumable": pa.array(intervals["consumable"].astype(bool), pa.bool_()),
            "computed_at": _times(now, len(intervals))}),
        "reorders_due": pa.table({
            "as_of": _dates(as_of, len(due)), "customer_id": pa.array(due["customer_id"].astype("int64"), pa.int64()),
            "sku": pa.array(due["sku"].astype(str), pa.string()),
            "last_purchase": pa.array(list(due["last_purchase"]), pa.date32()),
            "interval_days": pa.array(due["interval_days"].astype(float), pa.float64()),
            "due_date": pa.array(list(due["due_date"]), pa.date32()),
            "days_overdue": pa.array(due["days_overdue"].astype("int64"), pa.int64()),
            "computed_at": _times(now, len(due))}),
    }
    with type_inputs(store, as_of) as inputs:
        predicted = early_predictions(store, inputs, now)
        with store.transaction():
            types = store_buyer_types(store, inputs, predicted, now)
            _replace(store, as_of, tables)
    return {"buyer_types": types, **{name: rows.num_rows for name, rows in tables.items()},
            "promotion_note": inputs.attrs["promotion_note"]}


def store_offers(store: Store, as_of: date) -> dict:
    """The next products to offer each customer as of ``as_of``, stored; their row count. Kept apart
    from the rest: only `customer show` reads them, and the association rules are the slow part."""
    offers = next_products(store, as_of)
    rows = pa.table({
        "as_of": _dates(as_of, len(offers)),
        "customer_id": pa.array(offers["customer_id"].astype("int64"), pa.int64()),
        "rank": pa.array(offers["rank"].astype("int64"), pa.int64()),
        "sku": pa.array(offers["sku"].astype(str), pa.string()),
        "score": pa.array(offers["score"].astype(float), pa.float64()),
        "lift": pa.array(offers["lift"].astype(float), pa.float64()),
        "because_of": pa.array(offers["because_of"].astype(str), pa.string()),
        "kind": pa.array(offers["kind"].astype(str), pa.string()), "computed_at": _times(datetime.now(), len(offers))})
    _replace(store, as_of, {"next_products": rows})
    return {"next_products": rows.num_rows}


def _replace(store: Store, as_of: date, tables: dict[str, pa.Table]) -> None:
    with store.transaction():
        for name, rows in tables.items():
            store.replace_rows(name, rows, as_of=as_of)


def _dates(day: date, n: int) -> pa.Array:
    return repeated(day, pa.date32(), n)


def _times(moment: datetime, n: int) -> pa.Array:
    return repeated(moment, pa.timestamp("us"), n)


# -- reading them back ---------------------------------------------------------------------
def buyer_type_counts(store: Store, as_of: date) -> list[tuple[str, str, int]]:
    """(buyer type, source, customers) stored for ``as_of``."""
    rows = store.fetchall("SELECT buyer_type, source, COUNT(*) FROM buyer_types WHERE as_of = ? "
                          "GROUP BY 1, 2 ORDER BY 1, 2", (as_of,))
    return [(kind, source, int(n)) for kind, source, n in rows]


CONSUMABLE_COLUMNS = ("sku", "name", "repeat_buyers", "intervals", "median_days", "p25_days", "p75_days")
DUE_COLUMNS = ("customer", "sku", "name", "last_purchase", "due_date", "days_overdue", "p_alive")


def consumables(store: Store, as_of: date) -> list[dict]:
    """Products bought again at a typical interval, most repeat buyers first."""
    rows = store.fetchall(
        "SELECT i.sku, p.name, i.repeat_buyers, i.intervals, i.median_days, i.p25_days, i.p75_days "
        "FROM product_intervals i LEFT JOIN products p ON p.sku = i.sku WHERE i.as_of = ? AND i.consumable "
        "ORDER BY i.repeat_buyers DESC, i.sku", (as_of,))
    return [dict(zip(CONSUMABLE_COLUMNS, row)) for row in rows]


def due_reorders(store: Store, as_of: date, min_p_alive: float, limit: int | None) -> list[dict]:
    """Reorders due within the last interval (most overdue first) of customers whose P(alive) is at
    least ``min_p_alive`` where predictions for ``as_of`` exist: older ones were probably bought elsewhere."""
    rows = store.fetchall(
        "SELECT c.external_id, d.sku, p.name, d.last_purchase, d.due_date, d.days_overdue, s.p_alive "
        "FROM reorders_due d JOIN customers c ON c.customer_id = d.customer_id "
        "LEFT JOIN products p ON p.sku = d.sku "
        "LEFT JOIN customer_scores s ON s.customer_id = d.customer_id AND s.as_of = d.as_of "
        "WHERE d.as_of = ? AND d.days_overdue >= 0 AND d.days_overdue <= d.interval_days "
        "AND COALESCE(s.p_alive, 1) >= ? "
        "ORDER BY d.days_overdue DESC, c.external_id, d.sku" + (f" LIMIT {int(limit)}" if limit else ""),
        (as_of, min_p_alive))
    return [dict(zip(DUE_COLUMNS, row)) for row in rows]
