"""WooCommerce order export: one row per line item.

`Order ID,Order Status,Order Date,Customer User ID,Billing Email,...,Item SKU,Item Name,Quantity,Item Cost`

Required columns: Order ID (or Order Number), Order Status, Order Date, Quantity, Item Cost,
and one of Customer User ID / Billing Email. Headers match without case, spaces or
underscores, and the usual aliases are accepted (``_REQUIRED``, ``_OPTIONAL``).

- Order-level cells are read on an order's first row, whether later rows repeat them or not.
- The customer is the WordPress user id; 0 or empty (a guest checkout) falls back to the
  lower-cased billing email; neither = guest order.
- Statuses with or without the ``wc-`` prefix; paid ``processing`` orders are sales, ``failed``
  ones are cancelled. Plugins' own statuses: map them with [values.status] in a mapping file.
- Item Cost is the unit price before coupons; Cart Discount Amount is the whole discount, kept
  at order level (lines carry none). Order Total Amount is the net.
- Refunded amount > 0 becomes one return dated at the order (the export has no refund date).
"""

from __future__ import annotations

import pandas as pd

from retainly.ingest.batch import Batch
from retainly.ingest.presets.base import Options, Preset, column_or_null
from retainly.ingest.presets.lineitems import (
    FirstRows, keep_last_copies, line_item_batch,
)
from retainly.ingest.readers import RawTable
from retainly.ingest.values import (
    Problems, check_amounts, missing_columns_error, parse_id, parse_integer, parse_money, require,
)

_STATUSES = {
    "completed": "completed", "processing": "completed", "shipped": "completed", "delivered": "completed",
    "pending": "pending", "pending-payment": "pending", "on-hold": "pending", "checkout-draft": "pending",
    "draft": "pending",
    "cancelled": "cancelled", "canceled": "cancelled", "failed": "cancelled", "trash": "cancelled",
    "refunded": "refunded",
}

_REQUIRED = {
    "order": ("Order ID", "Order Number", "Order", "Order No"),
    "status": ("Order Status", "Status"),
    "date": ("Order Date", "Date Created", "Order Created", "Date"),
    "quantity": ("Quantity", "Item Quantity", "Qty"),
    "price": ("Item Cost", "Item Price", "Cost", "Price"),
}
_OPTIONAL = {
    "user": ("Customer User ID", "Customer ID", "Customer User", "User ID"),
    "email": ("Billing Email", "Billing E-mail", "Email (Billing)", "Customer Email", "Email"),
    "first_name": ("Billing First Name", "First Name (Billing)"),
    "last_name": ("Billing Last Name", "Last Name (Billing)"),
    "phone": ("Billing Phone", "Phone (Billing)", "Phone"),
    "city": ("Billing City", "City (Billing)"),
    "country": ("Billing Country", "Country Code (Billing)", "Country (Billing)"),
    "ship_country": ("Shipping Country", "Country Code (Shipping)", "Country (Shipping)"),
    "shipping": ("Order Shipping Amount", "Shipping Total", "Order Shipping", "Shipping Amount"),
    "tax": ("Order Total Tax Amount", "Order Tax", "Total Tax", "Tax Total", "Order Total Tax"),
    "discount": ("Cart Discount Amount", "Cart Discount", "Discount Total", "Order Discount", "Discount Amount"),
    "total": ("Order Total Amount", "Order Total", "Total"),
    "currency": ("Order Currency", "Currency"),
    "coupon": ("Coupon Code", "Coupon Codes", "Coupons", "Coupon"),
    "refunded": ("Refunded amount", "Order Refund Amount", "Refund Amount", "Refunded Total", "Total Refunded"),
    "sku": ("Item SKU", "SKU", "Product SKU"),
    "item_name": ("Item Name", "Product Name", "Item"),
}


class WooCommerce(Preset):
    name = "woocommerce"
    kinds = ("orders",)
    description = "WooCommerce order export: one row per line item (Order ID, Order Status, Item Cost, ...)"
    signature = ("Order ID", "Order Status", "Order Date", "Billing Email")

    def group_column(self, kind: str) -> str:
        return "order_id"

    def parse(self, kind, raw: RawTable, problems: Problems, options: Options) -> pd.DataFrame:
        self.check_kind(kind)
        c = self.columns(raw, _REQUIRED, _OPTIONAL)
        if c["user"] is None and c["email"] is None:
            # Without either, every order would silently become a guest order.
            raise missing_columns_error(raw.source, self.name, [_OPTIONAL["email"][0]], list(raw.frame.columns))
        frame = raw.frame
        order_id = parse_id(frame[c["order"]], c["order"], problems, required=True)
        first = FirstRows(raw, order_id)

        placed_at = first.timestamp(c["date"], problems, options, required=True)
        status_cells = first.cells(c["status"])
        problems.add(first.is_head & status_cells.isna().to_numpy(), c["status"], status_cells,
                     "required value is missing")
        email = first.email(c["email"], problems)
        # Spreadsheets turn 12 into 12.0; 0 is WooCommerce's "no account".
        user = parse_id(first.cells(c["user"]), c["user"] or "", problems).str.replace(r"\.0+$", "", regex=True)
        user = user.mask(user.eq("0").fillna(False).to_numpy(dtype=bool))
        name = (first.cells(c["first_name"]).fillna("") + " " + first.cells(c["last_name"]).fillna("")).str.strip()
        currency = first.cells(c["currency"]).str.upper()
        if options.currency:
            currency = currency.fillna(options.currency)

        quantity = parse_integer(require(frame[c["quantity"]], c["quantity"], problems), c["quantity"], problems,
                                 allow_negative=False)
        price = parse_money(require(frame[c["price"]], c["price"], problems), c["price"], problems,
                            allow_negative=False)
        check_amounts(quantity, price, c["price"], frame[c["price"]], problems)
        order_fields = {
            "placed_at": placed_at,
            "customer_ref": user.fillna(email),
            "email": email,
            "name": name.mask(name.eq("").fillna(True).to_numpy(dtype=bool)),
            "phone": first.cells(c["phone"]),
            "city": first.cells(c["city"]),
            "country": first.cells(c["country"]),
            "ship_country": first.cells(c["ship_country"]),
            "status": first.status(c["status"], problems, options, _STATUSES),
            "currency": currency,
            "promo_code": first.cells(c["coupon"]),
            "shipping": first.money(c["shipping"], problems),
            "tax": first.money(c["tax"], problems),
            "discount": first.money(c["discount"], problems),
            "net": first.money(c["total"], problems),
            "refunded": first.money(c["refunded"], problems),
        }
        return pd.DataFrame({
            "order_id": order_id,
            "last_copy": first.last_copy,
            **{field: first.spread(values) for field, values in order_fields.items()},
            "sku": parse_id(column_or_null(raw, c["sku"]), c["sku"] or "", problems),
            "description": column_or_null(raw, c["item_name"]),
            "quantity": quantity,
            "unit_price": price,
            "line_discount": pd.Series(pd.NA, index=frame.index, dtype="string"),
        })

    def build(self, kind, rows: pd.DataFrame, options: Options) -> Batch:
        rows, notes = keep_last_copies(rows)
        heads = rows.drop_duplicates("order_id")
        return line_item_batch("WooCommerce", rows, heads, heads["discount"].to_numpy(), "online", notes)

