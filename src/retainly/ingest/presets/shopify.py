"""Shopify admin's Orders export (Orders > Export > CSV): one row per line item.

`Name,Email,Financial Status,...,Created at,Lineitem quantity,Lineitem name,Lineitem price,...`

- Order-level cells (totals, status, billing, ...) are filled on an order's first row only;
  they are read there and nowhere else, so blank (or stale) later rows change nothing.
- The export has no customer id: the lower-cased email is the customer; no email = guest.
- ``Discount Amount`` is the order's whole discount and ``Lineitem discount`` the part of it
  on each line, so the order keeps only the difference (nothing is counted twice).
- ``Total`` is the order's net: it stays right for shops whose prices include tax.
- ``Refunded Amount`` > 0 becomes one return, dated at the order (the export has no refund date).
  A cancelled order's refund is not a return: the order never counted as a sale.

The helpers at the end serve every "one row per line item" export (WooCommerce too).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from retainly.ingest.batch import Batch
from retainly.ingest.presets.base import Options, Preset, column_or_null
from retainly.ingest.readers import RawTable
from retainly.ingest.presets.lineitems import (
    FirstRows, keep_last_copies, line_item_batch, money_sums,
)
from retainly.ingest.values import Problems, check_amounts, parse_bool, parse_id, parse_integer, parse_money, require

# Financial Status -> order status (a set Cancelled at overrides it).
_FINANCIAL = {
    "paid": "completed", "partially-refunded": "completed",
    "pending": "pending", "authorized": "pending", "partially-paid": "pending",
    "refunded": "refunded", "voided": "cancelled", "expired": "cancelled",
}


class Shopify(Preset):
    name = "shopify"
    kinds = ("orders",)
    description = "Shopify admin Orders export: one row per line item, order fields on the first row"
    signature = ("Name", "Financial Status", "Lineitem quantity", "Lineitem price")

    _required = {
        "order": ("Name",),
        "email": ("Email",),
        "created_at": ("Created at",),
        "quantity": ("Lineitem quantity",),
        "price": ("Lineitem price",),
    }
    _optional = {
        "financial_status": ("Financial Status",), "cancelled_at": ("Cancelled at",),
        "accepts_marketing": ("Accepts Marketing",), "currency": ("Currency",),
        "shipping": ("Shipping",), "taxes": ("Taxes",), "total": ("Total",),
        "discount_code": ("Discount Code",), "discount_amount": ("Discount Amount",),
        "refunded": ("Refunded Amount",), "source": ("Source",),
        "sku": ("Lineitem sku",), "item_name": ("Lineitem name",), "line_discount": ("Lineitem discount",),
        "billing_name": ("Billing Name",), "phone": ("Phone",), "billing_phone": ("Billing Phone",),
        "billing_city": ("Billing City",), "billing_country": ("Billing Country",),
        "shipping_country": ("Shipping Country",),
    }

    def group_column(self, kind: str) -> str:
        return "order_id"

    def parse(self, kind, raw: RawTable, problems: Problems, options: Options) -> pd.DataFrame:
        self.check_kind(kind)
        c = self.columns(raw, self._required, self._optional)
        frame = raw.frame
        order_id = parse_id(frame[c["order"]], c["order"], problems, required=True)
        first = FirstRows(raw, order_id)

        placed_at = first.timestamp(c["created_at"], problems, options, required=True)
        cancelled = first.cells(c["cancelled_at"]).notna()
        status = first.status(c["financial_status"], problems, options, _FINANCIAL).fillna("completed")
        status = status.mask(cancelled, "cancelled")
        email = first.email(c["email"], problems)
        phone = first.cells(c["phone"]).fillna(first.cells(c["billing_phone"]))
        # Point-of-sale orders were rung up in a shop; every other source is online.
        pos = first.cells(c["source"]).str.lower().eq("pos").fillna(False).to_numpy(dtype=bool)
        currency = first.cells(c["currency"]).str.upper()
        if options.currency:
            currency = currency.fillna(options.currency)

        lines = {
            "sku": parse_id(column_or_null(raw, c["sku"]), c["sku"] or "", problems),
            "description": column_or_null(raw, c["item_name"]),
            "quantity": parse_integer(require(frame[c["quantity"]], c["quantity"], problems), c["quantity"], problems,
                                      allow_negative=False),
            "unit_price": parse_money(require(frame[c["price"]], c["price"], problems), c["price"], problems,
                                      allow_negative=False),
            "line_discount": parse_money(column_or_null(raw, c["line_discount"]), c["line_discount"] or "", problems,
                                         allow_negative=False),
        }
        check_amounts(lines["quantity"], lines["unit_price"], c["price"], frame[c["price"]], problems)
        order_fields = {
            "placed_at": placed_at,
            "customer_ref": email,
            "email": email,
            "name": first.cells(c["billing_name"]),
            "phone": phone,
            "city": first.cells(c["billing_city"]),
            "country": first.cells(c["billing_country"]),
            "ship_country": first.cells(c["shipping_country"]),
            "email_consent": first.parse(c["accepts_marketing"], parse_bool, problems),
            "status": status,
            "currency": currency,
            "channel": pd.Series(np.where(pos, "offline", "online"), index=frame.index, dtype="string"),
            "promo_code": first.cells(c["discount_code"]),
            "shipping": first.money(c["shipping"], problems),
            "tax": first.money(c["taxes"], problems),
            "discount_amount": first.money(c["discount_amount"], problems),
            "net": first.money(c["total"], problems),
            "refunded": first.money(c["refunded"], problems),
        }
        return pd.DataFrame({
            "order_id": order_id,
            "last_copy": first.last_copy,
            **{name: first.spread(values) for name, values in order_fields.items()},
            **lines,
        })

    def build(self, kind, rows: pd.DataFrame, options: Options) -> Batch:
        rows, notes = keep_last_copies(rows)
        heads = rows.drop_duplicates("order_id")
        # Discount Amount already includes the line discounts: keep only the rest at order level.
        in_lines = money_sums(rows["line_discount"], rows["order_id"])
        given = heads["discount_amount"].notna().to_numpy()
        rest = [str(Decimal(total) - in_lines[order]) if has else None
                for order, total, has in zip(heads["order_id"], heads["discount_amount"], given)]
        return line_item_batch("Shopify", rows, heads, rest, heads["channel"].to_numpy(), notes)
