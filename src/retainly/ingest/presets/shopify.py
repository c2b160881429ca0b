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

from retainly.ingest.batch import ORDER_STATUSES, Batch
from retainly.ingest.presets.base import Options, Preset, column_or_null
from retainly.ingest.readers import RawTable
from retainly.ingest.values import Problems, parse_bool, parse_integer, parse_money, parse_timestamp, require

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
        order_id = require(frame[c["order"]], c["order"], problems)
        first = FirstRows(raw, order_id)

        placed_at = first.timestamp(c["created_at"], problems, options, required=True)
        cancelled = first.cells(c["cancelled_at"]).notna()
        status = first.status(c["financial_status"], problems, options, _FINANCIAL).fillna("completed")
        status = status.mask(cancelled, "cancelled")
        email = first.cells(c["email"]).str.lower()
        phone = first.cells(c["phone"]).fillna(first.cells(c["billing_phone"]))
        # Point-of-sale orders were rung up in a shop; every other source is online.
        pos = first.cells(c["source"]).str.lower().eq("pos").fillna(False).to_numpy(dtype=bool)
        currency = first.cells(c["currency"]).str.upper()
        if options.currency:
            currency = currency.fillna(options.currency)

        lines = {
            "sku": column_or_null(raw, c["sku"]),
            "description": column_or_null(raw, c["item_name"]),
            "quantity": parse_integer(require(frame[c["quantity"]], c["quantity"], problems), c["quantity"], problems,
                                      allow_negative=False),
            "unit_price": parse_money(require(frame[c["price"]], c["price"], problems), c["price"], problems,
                                      allow_negative=False),
            "line_discount": parse_money(column_or_null(raw, c["line_discount"]), c["line_discount"] or "", problems,
                                         allow_negative=False),
        }
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
        orders = pd.DataFrame({
            "order_id": heads["order_id"].to_numpy(),
            "customer_ref": heads["customer_ref"].to_numpy(),
            "placed_at": heads["placed_at"].to_numpy(),
            "status": heads["status"].to_numpy(),
            "currency": heads["currency"].to_numpy(),
            "channel": heads["channel"].to_numpy(),
            "promo_code": heads["promo_code"].to_numpy(),
            "country": heads["ship_country"].fillna(heads["country"]).to_numpy(),
            "discount": rest,
            "shipping": heads["shipping"].to_numpy(),
            "tax": heads["tax"].to_numpy(),
            "net": heads["net"].to_numpy(),
        })
        returns = refund_returns(heads)
        if len(returns):
            notes.append("Shopify's export has no refund dates: each refund is dated at its order's time")
        return Batch(
            customers=customers_from(heads),
            products=products_from(rows),
            orders=orders,
            lines=lines_from(rows),
            returns=returns,
            notes=notes,
        )


# -- shared by the line-item presets (Shopify, WooCommerce) ----------------------------------

class FirstRows:
    """Order-level cells, read on each order's first row and copied to its other rows.

    Problems are recorded at the first row (the pipeline then sets the whole order aside).
    A file holding an order twice (exports glued together) has it in two runs of rows;
    ``last_copy`` marks the rows of each order's last run, the one that counts.
    """

    def __init__(self, raw: RawTable, order_id: pd.Series) -> None:
        self.raw = raw
        self.head, self.last_copy = order_runs(order_id)
        self.is_head = self.head == np.arange(len(order_id))

    def cells(self, column: str | None) -> pd.Series:
        """The column's text on first rows; null on the others."""
        return column_or_null(self.raw, column).astype("string").where(self.is_head)

    def spread(self, values: pd.Series) -> pd.Series:
        """Each row gets its order's first-row value."""
        return values.iloc[self.head].set_axis(values.index)

    def parse(self, column: str | None, parser, problems: Problems, *args) -> pd.Series:
        return parser(self.cells(column), column or "", problems, *args)

    def money(self, column: str | None, problems: Problems, allow_negative: bool = False) -> pd.Series:
        return parse_money(self.cells(column), column or "", problems, allow_negative=allow_negative)

    def timestamp(self, column: str | None, problems: Problems, options: Options, required: bool = False) -> pd.Series:
        values = self.cells(column)
        if required:
            problems.add(self.is_head & values.isna().to_numpy(), column or "", values, "required value is missing")
        return parse_timestamp(values, column or "", problems, options.date_format)

    def status(self, column: str | None, problems: Problems, options: Options, known: dict[str, str]) -> pd.Series:
        return parse_status(self.cells(column), column or "status", problems, options, known)


def order_runs(order_id: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Per row: position of the first row of its run of same-order rows, and whether that run
    is the order's last in the file. Rows without an order id are runs of their own and do
    not split the rows around them."""
    count = len(order_id)
    head = np.arange(count)
    last = np.ones(count, dtype=bool)
    present = np.flatnonzero(order_id.notna().to_numpy())
    if len(present) == 0:
        return head, last
    ids = order_id.to_numpy(dtype=object)[present]
    starts = np.ones(len(ids), dtype=bool)
    starts[1:] = ids[1:] != ids[:-1]
    run = np.cumsum(starts) - 1
    head[present] = present[np.flatnonzero(starts)][run]
    last_run = pd.Series(run).groupby(ids).transform("max").to_numpy()
    last[present] = run == last_run
    return head, last


def parse_status(values: pd.Series, column: str, problems: Problems, options: Options,
                 known: dict[str, str]) -> pd.Series:
    """A shop's status words -> retainly's statuses; a mapping file's [values.status] comes first."""
    value_map = options.value_maps.get("status") or options.value_maps.get(column)
    if value_map:
        values = values.replace(value_map)
    key = (values.str.strip().str.lower().str.replace(r"^wc-", "", regex=True)
           .str.replace(r"[\s_]+", "-", regex=True))
    words = {**{s: s for s in ORDER_STATUSES}, **known}
    status = key.map(words).astype("string")
    problems.add(values.notna().to_numpy() & status.isna().to_numpy(), column, values,
                 f"unknown status; known: {', '.join(sorted(words))} "
                 "(map others with [values.status] in a mapping file)")
    return status


def keep_last_copies(rows: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Drop earlier copies of orders the file holds twice; say so."""
    earlier = ~rows["last_copy"].to_numpy(dtype=bool)
    if not earlier.any():
        return rows, []
    orders = rows["order_id"][earlier].nunique()
    note = f"{int(earlier.sum())} rows repeat {orders} orders found again later in the file; the later copy counts"
    return rows[~earlier], [note]


def money_sums(amounts: pd.Series, by: pd.Series) -> dict[str, Decimal]:
    """Exact sums of money text per group (blank = 0)."""
    values = [Decimal(v) for v in amounts.fillna("0")]
    sums: dict[str, Decimal] = {}
    for key, value in zip(by, values):
        sums[key] = sums.get(key, Decimal(0)) + value
    return sums


def lines_from(rows: pd.DataFrame) -> pd.DataFrame:
    order_id = rows["order_id"]
    return pd.DataFrame({
        "order_id": order_id.to_numpy(),
        "line_no": order_id.groupby(order_id.to_numpy(), sort=False).cumcount().to_numpy() + 1,
        "sku": rows["sku"].to_numpy(),
        "description": rows["description"].to_numpy(),
        "quantity": rows["quantity"].to_numpy(),
        "unit_price": rows["unit_price"].to_numpy(),
        "discount": rows["line_discount"].fillna("0").to_numpy(),
        "kind": "merchandise",
    })


def customers_from(heads: pd.DataFrame) -> pd.DataFrame:
    """One row per customer: the latest non-empty value of each field, first order time."""
    fields = [f for f in ("email", "name", "phone", "city", "country", "email_consent") if f in heads.columns]
    known = heads[heads["customer_ref"].notna()].sort_values("placed_at", kind="stable")
    if known.empty:
        return pd.DataFrame({"external_id": pd.Series([], dtype="string")})
    grouped = known.groupby("customer_ref", sort=False)
    latest = grouped[fields].last()
    customers = latest.assign(first_seen_at=grouped["placed_at"].min()).reset_index()
    return customers.rename(columns={"customer_ref": "external_id"})


def products_from(rows: pd.DataFrame) -> pd.DataFrame:
    """Each SKU with the name and unit price of its latest sale."""
    sold = rows[rows["sku"].notna()].sort_values("placed_at", kind="stable")
    latest = sold.groupby("sku", sort=False).agg(name=("description", "last"), price=("unit_price", "last"))
    return latest.reset_index()


def refund_returns(heads: pd.DataFrame) -> pd.DataFrame:
    """One return per refunded order (amount only), except cancelled ones, which were never a sale."""
    refunded = pd.to_numeric(heads["refunded"], errors="coerce").gt(0).fillna(False).to_numpy(dtype=bool)
    kept = heads[refunded & heads["status"].ne("cancelled").to_numpy(dtype=bool)]
    return pd.DataFrame({
        "return_id": (kept["order_id"] + "-refund").to_numpy(),
        "line_no": 1,
        "customer_ref": kept["customer_ref"].to_numpy(),
        "order_id": kept["order_id"].to_numpy(),
        "returned_at": kept["placed_at"].to_numpy(),
        "amount": kept["refunded"].to_numpy(),
        "reason": "refund",
    })
