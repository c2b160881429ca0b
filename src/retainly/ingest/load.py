"""Merge a canonical batch into the store: one transaction, idempotent, nothing counted twice.

Keys decide what "the same" means: an order by its order id (a later copy replaces the
earlier one with all its lines), a return by its return id, a customer by external id (new
values fill in, missing ones keep what the store knew), spend by (date, channel, campaign),
everything else by its own id. Money is cast to DECIMAL(18,4) by the engine, exactly.
An erased customer's old id is recognised by its hash and merged as their pseudonym, and the
merge's rows of erased customers lose their personal data again (``retainly.ingest.erasure``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retainly.ingest.batch import ENTITY_COLUMNS, Batch
from retainly.ingest.erasure import forget_erased, scrub_import
from retainly.ingest.rejects import storable
from retainly.store import purchases
from retainly.store.backends import Store

M = "DECIMAL(18,4)"

_MONEY = {"price", "gross", "discount", "shipping", "tax", "net", "unit_price", "amount"}
_TIMESTAMP = {"first_seen_at", "email_consent_at", "sms_consent_at", "ads_consent_at", "placed_at", "returned_at",
              "occurred_at", "dropped_out_at"}
_DATE = {"birthday", "spend_date", "starts_on", "ends_on"}
_INTEGER = {"line_no", "quantity", "order_line_no", "reorder_interval_days"}
_BOOLEAN = {"email_consent", "sms_consent", "ads_consent"}
_FLOAT = {"discount_rate", "purchase_rate", "dropout_probability"}


@dataclass
class LedgerEntry:
    """What the imports ledger records about one import."""

    kind: str
    source: str
    preset: str
    content_hash: str
    options: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    started_at: datetime
    status: str = "completed"
    message: str | None = None


def load_batch(store: Store, batch: Batch, ledger: LedgerEntry, rejects: pd.DataFrame | None = None) -> int:
    """Write ``batch`` and its ledger entry in one transaction; return the new import id."""
    entities = _with_referenced_customers(forget_erased(store, batch.entities()))
    if "orders" in entities and "lines" not in entities:  # orders without lines: stage an empty line table
        entities["lines"] = pd.DataFrame(columns=list(ENTITY_COLUMNS["lines"][0]))
    with store.transaction():
        import_id = int(store.fetchone("SELECT nextval('import_ids')")[0])
        staged = []
        try:
            for name, frame in entities.items():
                store.stage(f"stage_{name}", _arrow(frame))
                staged.append(f"stage_{name}")
            for name in _ORDER_OF_MERGE:
                if name in entities:
                    for statement in _MERGES[name]:
                        store.execute(statement.replace("{import_id}", str(import_id)))
            scrub_import(store, import_id)
            if "orders" in entities:
                purchases.rebuild(store, only_orders_in="stage_orders")
            _record(store, import_id, ledger, rejects, staged)
        finally:
            for name in staged:
                store.unstage(name)
    return import_id


def record_entry(store: Store, ledger: LedgerEntry) -> int:
    """Write a ledger entry that brings no rows (a deletion) in the caller's transaction; return its id."""
    import_id = int(store.fetchone("SELECT nextval('import_ids')")[0])
    _record(store, import_id, ledger, None, [])
    return import_id


def _record(store: Store, import_id: int, ledger: LedgerEntry, rejects: pd.DataFrame | None, staged: list) -> None:
    store.execute(
        "INSERT INTO imports (import_id, kind, source, preset, content_hash, options, rows_read, rows_accepted, "
        "rows_rejected, started_at, finished_at, status, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (import_id, ledger.kind, ledger.source, ledger.preset, ledger.content_hash, ledger.options,
         ledger.rows_read, ledger.rows_accepted, ledger.rows_rejected, ledger.started_at,
         # to the microsecond: stored results computed after this import must compare as later
         datetime.now(), ledger.status, ledger.message),
    )
    if rejects is not None and len(rejects):
        rejects = storable(rejects)  # any caller's: a file import's or an event batch's
        table = pa.table({
            "source": pa.array(rejects["source"].astype(str).tolist(), pa.string()),
            "sheet": pa.array([None if pd.isna(v) else str(v) for v in rejects["sheet"]], pa.string()),
            "line": pa.array(rejects["line"].astype("Int64").tolist(), pa.int64()),
            "column_name": pa.array([None if pd.isna(v) else str(v) for v in rejects["column"]], pa.string()),
            "value": pa.array([None if pd.isna(v) else str(v) for v in rejects["value"]], pa.string()),
            "reason": pa.array(rejects["reason"].astype(str).tolist(), pa.string()),
        })
        store.stage("stage_rejects", table)
        staged.append("stage_rejects")
        store.execute(
            f"INSERT INTO import_rejects (import_id, source, sheet, line, column_name, value, reason) "
            f"SELECT {import_id}, source, sheet, line, column_name, value, reason FROM stage_rejects"
        )


def _with_referenced_customers(entities: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every customer an order, return or contact names must exist: add the ones not listed."""
    referenced = [
        entities[name]["customer_ref"].dropna()
        for name in ("orders", "returns", "interactions", "events", "truth")
        if name in entities
    ]
    if not referenced:
        return entities
    refs = pd.Series(pd.concat(referenced, ignore_index=True).unique(), dtype="string")
    customers = entities.get("customers")
    listed = customers["external_id"] if customers is not None else pd.Series([], dtype="string")
    missing = refs[~refs.isin(listed)]
    if len(missing):
        extra = pd.DataFrame({"external_id": missing})
        customers = extra if customers is None else pd.concat([customers, extra], ignore_index=True)
        customers = customers.reindex(columns=list(ENTITY_COLUMNS["customers"][0]))
    if customers is not None:
        entities = {**entities, "customers": customers.drop_duplicates("external_id", keep="last")}
    return entities


def _arrow(frame: pd.DataFrame) -> pa.Table:
    """Stage a canonical frame with one explicit Arrow type per column."""
    arrays = {}
    for name in frame.columns:
        values = frame[name]
        if name in _MONEY:
            arrays[name] = _money_text(values)
        elif name in _TIMESTAMP:
            arrays[name] = pa.array(pd.to_datetime(values).to_numpy(dtype="datetime64[us]"), pa.timestamp("us"),
                                    mask=values.isna().to_numpy())
        elif name in _DATE:
            arrays[name] = pa.array(pd.to_datetime(values).dt.date.to_numpy(dtype=object), pa.date32(),
                                    mask=values.isna().to_numpy())
        elif name in _INTEGER:
            arrays[name] = pa.array(pd.array(values, dtype="Int64"), pa.int64())
        elif name in _BOOLEAN:
            arrays[name] = pa.array(pd.array(values, dtype="boolean"), pa.bool_())
        elif name in _FLOAT:
            arrays[name] = pa.array(pd.to_numeric(values).to_numpy(dtype=float), pa.float64(),
                                    mask=values.isna().to_numpy())
        else:
            arrays[name] = pa.array(values.astype("string"), pa.string())
    return pa.table(arrays)


def _money_text(values: pd.Series) -> pa.Array:
    if pd.api.types.is_float_dtype(values.dtype):
        # Floats carry at most cents here; printing them rounded keeps binary noise out of DECIMAL.
        rounded = np.round(values.to_numpy(dtype=float), 4)
        return pc.cast(pa.array(rounded, pa.float64(), mask=np.isnan(rounded)), pa.string())
    if pd.api.types.is_integer_dtype(values.dtype):
        return pc.cast(pa.array(values), pa.string())
    return pa.array([None if pd.isna(v) else str(v) for v in values], pa.string()) \
        if values.dtype == object else pa.array(values.astype("string"), pa.string())


_CUSTOMER_FIELDS = ("name", "email", "phone", "gender", "birthday", "country", "city", "acquisition_channel",
                    "email_consent", "email_consent_at", "sms_consent", "sms_consent_at", "postal_code", "ads_consent",
                    "ads_consent_at")

_NEW = "WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.external_id = s.external_id)"

# Customers and products keep the import that added them (an update does not change it), so
# undoing an import removes what it added and leaves what it only updated.
_MERGES: dict[str, tuple[str, ...]] = {
    "customers": (
        "UPDATE customers SET "
        + ", ".join(f"{f} = COALESCE(s.{f}, customers.{f})" for f in _CUSTOMER_FIELDS)
        + ", first_seen_at = LEAST(customers.first_seen_at, s.first_seen_at) "
        "FROM stage_customers s WHERE customers.external_id = s.external_id",
        # New customers take ids from the sequence, in the order of their external ids.
        "INSERT INTO customers (customer_id, external_id, " + ", ".join(_CUSTOMER_FIELDS) + ", first_seen_at, import_id) "
        "SELECT ids.customer_id, s.external_id, " + ", ".join(f"s.{f}" for f in _CUSTOMER_FIELDS)
        + ", s.first_seen_at, {import_id} "
        f"FROM (SELECT s.*, ROW_NUMBER() OVER (ORDER BY s.external_id) AS n FROM stage_customers s {_NEW}) s "
        "JOIN (SELECT id AS customer_id, ROW_NUMBER() OVER (ORDER BY id) AS n "
        f"FROM (SELECT nextval('customer_ids') AS id FROM stage_customers s {_NEW}) fresh) ids ON ids.n = s.n",
    ),
    "products": (
        f"UPDATE products SET name = COALESCE(s.name, products.name), category = COALESCE(s.category, products.category), "
        f"price = COALESCE(CAST(s.price AS {M}), products.price), url = COALESCE(s.url, products.url), "
        "image_url = COALESCE(s.image_url, products.image_url) "
        "FROM stage_products s WHERE products.sku = s.sku",
        f"INSERT INTO products (sku, name, category, price, url, image_url, import_id) "
        f"SELECT s.sku, s.name, s.category, CAST(s.price AS {M}), s.url, s.image_url, {{import_id}} "
        "FROM stage_products s "
        "WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = s.sku)",
    ),
    "orders": (
        "DELETE FROM order_lines WHERE order_id IN (SELECT order_id FROM stage_orders)",
        "DELETE FROM orders WHERE order_id IN (SELECT order_id FROM stage_orders)",
        f"INSERT INTO order_lines (order_id, line_no, sku, description, quantity, unit_price, discount, amount, kind) "
        f"SELECT order_id, line_no, sku, description, quantity, "
        f"COALESCE(CAST(unit_price AS {M}), CASE WHEN quantity <> 0 THEN CAST(CAST(amount AS {M}) / quantity AS {M}) END), "
        f"COALESCE(CAST(discount AS {M}), 0), "
        f"COALESCE(CAST(amount AS {M}), quantity * CAST(unit_price AS {M})), kind "
        "FROM stage_lines WHERE order_id IN (SELECT order_id FROM stage_orders)",
        f"""INSERT INTO orders (order_id, customer_id, placed_at, status, currency, gross, discount, shipping, tax, net,
                channel, promo_code, country, import_id)
        SELECT order_id, customer_id, placed_at, status, currency, gross, discount, shipping, tax,
               COALESCE(given_net, gross - discount + shipping + tax + other), channel, promo_code, country, {{import_id}}
        FROM (
            SELECT o.order_id, c.customer_id, o.placed_at, o.status, o.currency, o.channel, o.promo_code, o.country,
                   COALESCE(CAST(o.gross AS {M}), t.merchandise, 0) AS gross,
                   COALESCE(CAST(o.discount AS {M}), 0) + COALESCE(t.discounts, 0) AS discount,
                   COALESCE(CAST(o.shipping AS {M}), 0) + COALESCE(t.shipping, 0) AS shipping,
                   COALESCE(CAST(o.tax AS {M}), 0) AS tax,
                   COALESCE(t.other, 0) AS other,
                   CAST(o.net AS {M}) AS given_net
            FROM stage_orders o
            LEFT JOIN customers c ON c.external_id = o.customer_ref
            LEFT JOIN (
                SELECT order_id,
                       SUM(CASE WHEN kind = 'merchandise' THEN amount ELSE 0 END) AS merchandise,
                       SUM(discount) - SUM(CASE WHEN kind = 'discount' THEN amount ELSE 0 END) AS discounts,
                       SUM(CASE WHEN kind = 'shipping' THEN amount ELSE 0 END) AS shipping,
                       SUM(CASE WHEN kind IN ('fee', 'voucher', 'adjustment') THEN amount ELSE 0 END) AS other
                FROM order_lines WHERE order_id IN (SELECT order_id FROM stage_orders)
                GROUP BY order_id
            ) t ON t.order_id = o.order_id
        ) priced""",
    ),
    "returns": (
        "DELETE FROM returns WHERE return_id IN (SELECT return_id FROM stage_returns)",
        f"INSERT INTO returns (return_id, line_no, customer_id, order_id, order_line_no, returned_at, sku, quantity, "
        f"amount, reason, import_id) "
        f"SELECT s.return_id, s.line_no, COALESCE(c.customer_id, o.customer_id), s.order_id, s.order_line_no, "
        f"s.returned_at, s.sku, s.quantity, "
        f"COALESCE(CAST(s.amount AS {M}), s.quantity * CAST(s.unit_price AS {M}), 0), s.reason, {{import_id}} "
        "FROM stage_returns s LEFT JOIN customers c ON c.external_id = s.customer_ref "
        "LEFT JOIN orders o ON o.order_id = s.order_id",
    ),
    "spend": (
        "DELETE FROM marketing_spend WHERE EXISTS (SELECT 1 FROM stage_spend s WHERE s.spend_date = marketing_spend.spend_date "
        "AND s.channel = marketing_spend.channel AND s.campaign = marketing_spend.campaign)",
        f"INSERT INTO marketing_spend (spend_date, channel, campaign, amount, currency, import_id) "
        f"SELECT spend_date, channel, campaign, CAST(amount AS {M}), currency, {{import_id}} FROM stage_spend",
    ),
    "interactions": (
        "DELETE FROM interactions WHERE interaction_id IN (SELECT interaction_id FROM stage_interactions)",
        "INSERT INTO interactions (interaction_id, customer_id, occurred_at, kind, direction, outcome, note, by_whom, "
        "import_id) SELECT s.interaction_id, c.customer_id, s.occurred_at, s.kind, s.direction, s.outcome, s.note, "
        "s.by_whom, {import_id} FROM stage_interactions s JOIN customers c ON c.external_id = s.customer_ref",
    ),
    "events": (
        "DELETE FROM site_events WHERE event_id IN (SELECT event_id FROM stage_events)",
        "INSERT INTO site_events (event_id, customer_id, session_id, occurred_at, kind, sku, order_id, import_id) "
        "SELECT s.event_id, c.customer_id, s.session_id, s.occurred_at, s.kind, s.sku, s.order_id, {import_id} "
        "FROM stage_events s LEFT JOIN customers c ON c.external_id = s.customer_ref",
    ),
    "promotions": (
        "DELETE FROM promotions WHERE promotion_id IN (SELECT promotion_id FROM stage_promotions)",
        "INSERT INTO promotions (promotion_id, name, starts_on, ends_on, promo_code, discount_rate, import_id) "
        "SELECT promotion_id, name, starts_on, ends_on, promo_code, CAST(discount_rate AS DECIMAL(6,4)), {import_id} "
        "FROM stage_promotions",
    ),
    "truth": (
        "DELETE FROM generator_truth WHERE customer_id IN (SELECT c.customer_id FROM stage_truth s "
        "JOIN customers c ON c.external_id = s.customer_ref)",
        "INSERT INTO generator_truth (customer_id, buyer_type, purchase_rate, dropout_probability, dropped_out_at) "
        "SELECT c.customer_id, s.buyer_type, s.purchase_rate, s.dropout_probability, s.dropped_out_at "
        "FROM stage_truth s JOIN customers c ON c.external_id = s.customer_ref",
    ),
    "product_truth": (
        "DELETE FROM generator_product_truth WHERE sku IN (SELECT sku FROM stage_product_truth)",
        "INSERT INTO generator_product_truth (sku, reorder_interval_days, companion_of) "
        "SELECT sku, reorder_interval_days, companion_of FROM stage_product_truth",
    ),
}

# Customers first: everything else resolves external ids against them. Lines go with orders.
_ORDER_OF_MERGE = ("customers", "products", "orders", "returns", "spend", "interactions", "events", "promotions",
                   "truth", "product_truth")


LEDGER_COLUMNS = ("import_id", "kind", "source", "preset", "rows_read", "rows_accepted", "rows_rejected", "started_at",
                  "status")


def ledger(store: Store) -> list[dict]:
    """Every import recorded in the ledger, oldest first."""
    rows = store.fetchall(f"SELECT {', '.join(LEDGER_COLUMNS)} FROM imports ORDER BY import_id")
    return [dict(zip(LEDGER_COLUMNS, row)) for row in rows]
