"""The canonical batch: what every preset, mapping and the shop generator hand to the loader.

A ``Batch`` holds one pandas DataFrame per entity, with the columns below. Customers are
referred to by their *external* id (``customer_ref``); the loader resolves them to the
store's own ids. Money columns may hold text ("6.95"), decimals, integers or floats with at
most four decimals: the store casts them to DECIMAL(18,4) exactly. Missing optional
columns are filled with nulls; the loader computes what it can (line amounts from quantity
and unit price, order totals from their lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

# entity -> (columns in order, the ones that must not be null)
ENTITY_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "customers": (
        (
            "external_id", "name", "email", "phone", "gender", "birthday", "country", "city",
            "acquisition_channel", "first_seen_at", "email_consent", "email_consent_at",
            "sms_consent", "sms_consent_at", "postal_code", "ads_consent", "ads_consent_at",
        ),
        ("external_id",),
    ),
    "products": (("sku", "name", "category", "price", "url", "image_url"), ("sku",)),
    "orders": (
        (
            "order_id", "customer_ref", "placed_at", "status", "currency", "channel", "promo_code",
            "country", "gross", "discount", "shipping", "tax", "net",
        ),
        ("order_id", "placed_at", "status"),
    ),
    "lines": (
        ("order_id", "line_no", "sku", "description", "quantity", "unit_price", "discount", "amount", "kind"),
        ("order_id", "line_no", "quantity", "kind"),
    ),
    "returns": (
        (
            "return_id", "line_no", "customer_ref", "order_id", "order_line_no", "returned_at", "sku",
            "quantity", "unit_price", "amount", "reason",
        ),
        ("return_id", "line_no", "returned_at"),
    ),
    "spend": (("spend_date", "channel", "campaign", "amount", "currency"), ("spend_date", "channel", "amount")),
    "interactions": (
        ("interaction_id", "customer_ref", "occurred_at", "kind", "direction", "outcome", "note", "by_whom"),
        ("customer_ref", "occurred_at", "kind"),
    ),
    "events": (
        ("event_id", "customer_ref", "session_id", "occurred_at", "kind", "sku", "order_id"),
        ("event_id", "occurred_at", "kind"),
    ),
    "promotions": (
        ("promotion_id", "name", "starts_on", "ends_on", "promo_code", "discount_rate"),
        ("promotion_id", "name", "starts_on", "ends_on"),
    ),
    # The generated shop's hidden truth; analytics never read these.
    "truth": (
        ("customer_ref", "buyer_type", "purchase_rate", "dropout_probability", "dropped_out_at"),
        ("customer_ref", "buyer_type"),
    ),
    "product_truth": (("sku", "reorder_interval_days", "companion_of"), ("sku",)),
}

LINE_KINDS = ("merchandise", "shipping", "fee", "discount", "adjustment", "voucher")
ORDER_STATUSES = ("completed", "pending", "cancelled", "refunded", "adjustment")
INTERACTION_KINDS = ("call", "email", "sms", "meeting", "feedback", "support")
ORDER_CHANNELS = ("online", "offline", "phone")


@dataclass
class Batch:
    """Rows for the store, one DataFrame per entity (absent entities are None)."""

    customers: pd.DataFrame | None = None
    products: pd.DataFrame | None = None
    orders: pd.DataFrame | None = None
    lines: pd.DataFrame | None = None
    returns: pd.DataFrame | None = None
    spend: pd.DataFrame | None = None
    interactions: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    promotions: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None
    product_truth: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    def entities(self) -> dict[str, pd.DataFrame]:
        """The entities present, each with exactly its canonical columns in order."""
        present = {}
        for name, (columns, _required) in ENTITY_COLUMNS.items():
            frame = getattr(self, name)
            if frame is None:
                continue
            frame = frame.copy()
            for column in columns:
                if column not in frame.columns:
                    frame[column] = None
            present[name] = frame[list(columns)]
        return present

    def row_count(self) -> int:
        return sum(len(f) for f in self.entities().values())
