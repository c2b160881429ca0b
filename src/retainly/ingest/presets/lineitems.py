"""Helpers shared by the line-item presets (Shopify, WooCommerce).

Both exports have one row per line item, with the order's own cells on its first row.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from retainly.ingest.batch import ORDER_STATUSES, Batch
from retainly.ingest.presets.base import Options, column_or_null
from retainly.ingest.readers import RawTable
from retainly.ingest.values import Problems, parse_id, parse_money, parse_timestamp

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
        return parse_timestamp(values, column or "", problems, options.date_format, options.dates)

    def status(self, column: str | None, problems: Problems, options: Options, known: dict[str, str]) -> pd.Series:
        return parse_status(self.cells(column), column or "status", problems, options, known)

    def email(self, column: str | None, problems: Problems) -> pd.Series:
        """An email that identifies a customer: an id (normalised, not too long), lower-cased."""
        return parse_id(self.cells(column), column or "", problems).str.lower()


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


def line_item_batch(shop: str, rows: pd.DataFrame, heads: pd.DataFrame, discount, channel,
                    notes: list[str]) -> Batch:
    """The batch of a line-item export: orders from each order's first row, lines from every row."""
    orders = pd.DataFrame({
        "order_id": heads["order_id"].to_numpy(),
        "customer_ref": heads["customer_ref"].to_numpy(),
        "placed_at": heads["placed_at"].to_numpy(),
        "status": heads["status"].to_numpy(),
        "currency": heads["currency"].to_numpy(),
        "channel": channel,
        "promo_code": heads["promo_code"].to_numpy(),
        "country": heads["ship_country"].fillna(heads["country"]).to_numpy(),
        "discount": discount,
        "shipping": heads["shipping"].to_numpy(),
        "tax": heads["tax"].to_numpy(),
        "net": heads["net"].to_numpy(),
    })
    returns = refund_returns(heads)
    if len(returns):
        notes = [*notes, f"{shop}'s export has no refund dates: each refund is dated at its order's time"]
    return Batch(customers=customers_from(heads), products=products_from(rows), orders=orders,
                 lines=lines_from(rows), returns=returns, notes=notes)
