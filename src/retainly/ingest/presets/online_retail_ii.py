"""UCI "Online Retail II" (and the older "Online Retail"): every invoice line of a UK shop.

`Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country`

- Invoices starting with ``C`` are cancellations: they become returns of that customer.
- Invoices starting with ``A`` are bad-debt adjustments: orders with status ``adjustment``.
- Non-product stock codes get their own line kind (postage is shipping, bank charges are a
  fee, ...); negative-quantity lines outside cancellations are stock write-offs (adjustment).
- Rows without a Customer ID are guest sales: kept as guest orders.
- The published file is two exports glued together; see ``retainly.ingest.exports``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from retainly.ingest.batch import Batch
from retainly.ingest.exports import keep_last_copy
from retainly.ingest.presets.base import Options, Preset, column_or_null
from retainly.ingest.presets.order_checks import conflicting_fields
from retainly.ingest.readers import RawTable
from retainly.ingest.values import (
    Problems, check_amounts, parse_id, parse_integer, parse_money, parse_timestamp, require,
)

# Stock codes that are not products, by line kind (compared in upper case).
_CODE_KINDS = {
    "POST": "shipping", "DOT": "shipping", "C2": "shipping", "C3": "shipping",
    "D": "discount",
    "BANK CHARGES": "fee", "AMAZONFEE": "fee", "CRUK": "fee",
    "M": "adjustment", "S": "adjustment", "B": "adjustment", "PADS": "adjustment",
    "ADJUST": "adjustment", "ADJUST2": "adjustment", "TEST001": "adjustment", "TEST002": "adjustment",
}
_VOUCHER = re.compile(r"^GIFT(_\d+_\d+)?$")


def line_kind(sku: pd.Series) -> pd.Series:
    """Line kind of each stock code: merchandise unless it is a known non-product code."""
    kinds = sku.map(_CODE_KINDS).astype("string")
    vouchers = sku.str.match(_VOUCHER).fillna(False).astype(bool)
    return kinds.mask(vouchers, "voucher").fillna("merchandise")


class OnlineRetailII(Preset):
    name = "online-retail-ii"
    kinds = ("orders",)
    description = "UCI Online Retail II (and Online Retail): one row per invoice line, C = cancellation"
    signature = ("Invoice", "StockCode", "InvoiceDate", "Customer ID")

    _required = {
        "invoice": ("Invoice", "InvoiceNo"),
        "stock_code": ("StockCode",),
        "quantity": ("Quantity",),
        "invoice_date": ("InvoiceDate",),
        "price": ("Price", "UnitPrice"),
    }
    _optional = {"description": ("Description",), "customer": ("Customer ID", "CustomerID"), "country": ("Country",)}

    def group_column(self, kind: str) -> str:
        return "invoice"

    def parse(self, kind, raw: RawTable, problems: Problems, options: Options) -> pd.DataFrame:
        self.check_kind(kind)
        c = self.columns(raw, self._required, self._optional)
        frame = raw.frame
        invoice = parse_id(frame[c["invoice"]], c["invoice"], problems, required=True).str.upper()
        sku = parse_id(frame[c["stock_code"]], c["stock_code"], problems, required=True).str.upper()
        quantity = parse_integer(require(frame[c["quantity"]], c["quantity"], problems), c["quantity"], problems)
        placed_at = parse_timestamp(require(frame[c["invoice_date"]], c["invoice_date"], problems),
                                    c["invoice_date"], problems, options.date_format, options.dates)
        price_text = require(frame[c["price"]], c["price"], problems)
        # Only bad-debt adjustments (A invoices) carry negative prices; anywhere else it is an error.
        adjustment = invoice.str.startswith("A").fillna(False).astype(bool)
        price = parse_money(price_text, c["price"], problems)
        negative = price.str.startswith("-").fillna(False).astype(bool) & ~adjustment
        problems.add(negative, c["price"], price_text, "negative price outside an adjustment (A) invoice")
        check_amounts(quantity, price, c["price"], price_text, problems)
        customer_text = column_or_null(raw, c["customer"])
        customer = parse_id(customer_text, c["customer"] or "Customer ID", problems).str.replace(r"\.0+$", "", regex=True)
        # An invoice has one customer: two in one invoice leave it unknown whose it is.
        conflicting_fields(invoice, [(customer, c["customer"] or "Customer ID", customer_text)], raw.line, problems,
                           "invoice")
        return pd.DataFrame({
            "invoice": invoice,
            "sku": sku,
            "description": column_or_null(raw, c["description"]),
            "quantity": quantity,
            "placed_at": placed_at,
            "price": price,
            "customer_ref": customer,
            "country": column_or_null(raw, c["country"]),
        })

    def build(self, kind, rows: pd.DataFrame, options: Options) -> Batch:
        rows = keep_last_copy(rows, "invoice", "placed_at")
        cancelled = rows["invoice"].str.startswith("C").to_numpy(dtype=bool)
        sales, cancellations = rows[~cancelled], rows[cancelled]
        return Batch(
            customers=_customers(rows),
            products=_products(rows),
            orders=_orders(sales),
            lines=_lines(sales),
            returns=_returns(cancellations),
        )


def _line_numbers(invoices: pd.Series) -> np.ndarray:
    return invoices.groupby(invoices.to_numpy(), sort=False).cumcount().to_numpy() + 1


def _orders(sales: pd.DataFrame) -> pd.DataFrame:
    first = sales.groupby("invoice", sort=False).agg(
        customer_ref=("customer_ref", "first"),
        placed_at=("placed_at", "min"),
        country=("country", "first"),
        largest_quantity=("quantity", "max"),
    ).reset_index()
    no_sale = ~first["largest_quantity"].gt(0).fillna(False).astype(bool)
    adjustment = first["invoice"].str.startswith("A").astype(bool) | no_sale
    return pd.DataFrame({
        "order_id": first["invoice"],
        "customer_ref": first["customer_ref"],
        "placed_at": first["placed_at"],
        "status": np.where(adjustment, "adjustment", "completed"),
        "currency": "GBP",
        "channel": "online",
        "country": first["country"],
    })


def _lines(sales: pd.DataFrame) -> pd.DataFrame:
    kind = line_kind(sales["sku"])
    # Negative quantities outside cancellations are stock write-offs, not sales.
    kind = kind.mask(sales["quantity"].lt(0).fillna(False).to_numpy(dtype=bool), "adjustment")
    return pd.DataFrame({
        "order_id": sales["invoice"].to_numpy(),
        "line_no": _line_numbers(sales["invoice"]),
        "sku": sales["sku"].to_numpy(),
        "description": sales["description"].to_numpy(),
        "quantity": sales["quantity"].to_numpy(),
        "unit_price": sales["price"].to_numpy(),
        "discount": "0",
        "kind": kind.to_numpy(),
    })


def _returns(cancellations: pd.DataFrame) -> pd.DataFrame:
    # A cancellation line has a negative quantity; the return is that many units back.
    return pd.DataFrame({
        "return_id": cancellations["invoice"].to_numpy(),
        "line_no": _line_numbers(cancellations["invoice"]),
        "customer_ref": cancellations["customer_ref"].to_numpy(),
        "returned_at": cancellations["placed_at"].to_numpy(),
        "sku": cancellations["sku"].to_numpy(),
        "quantity": (-cancellations["quantity"]).to_numpy(),
        "unit_price": cancellations["price"].to_numpy(),
        "reason": "cancellation",
    })


def _customers(rows: pd.DataFrame) -> pd.DataFrame:
    known = rows[rows["customer_ref"].notna()]
    if known.empty:
        return pd.DataFrame({"external_id": pd.Series([], dtype="string")})
    ordered = known.sort_values("placed_at", kind="stable")
    per_customer = ordered.groupby("customer_ref", sort=False).agg(
        first_seen_at=("placed_at", "min"), country=("country", "last")
    ).reset_index()
    return pd.DataFrame({
        "external_id": per_customer["customer_ref"],
        "country": per_customer["country"],
        "first_seen_at": per_customer["first_seen_at"],
    })


def _products(rows: pd.DataFrame) -> pd.DataFrame:
    merchandise = rows[line_kind(rows["sku"]).eq("merchandise").to_numpy(dtype=bool)]
    named = merchandise[merchandise["description"].notna()]
    # A code exported under several descriptions keeps its most frequent one.
    names = (named.groupby(["sku", "description"], sort=False).size().reset_index(name="n")
             .sort_values(["sku", "n", "description"], ascending=[True, False, True], kind="stable")
             .drop_duplicates("sku"))
    priced = merchandise[merchandise["quantity"].gt(0).fillna(False).to_numpy(dtype=bool)]
    last_price = priced.sort_values("placed_at", kind="stable").groupby("sku", sort=False)["price"].last()
    skus = pd.Series(merchandise["sku"].unique(), dtype="string")
    products = pd.DataFrame({"sku": skus})
    products["name"] = products["sku"].map(names.set_index("sku")["description"])
    products["price"] = products["sku"].map(last_price)
    return products
