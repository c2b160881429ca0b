"""Checks on a whole file's rows that no single column's parser can make.

- A NUL byte: PostgreSQL text cannot hold one (DuckDB can); the row is rejected on both
  engines, so that both accept the same rows.
- XLSX merged cells over several rows: the spreadsheet shows one value for all of them but
  the file holds it in the first row only, so an order's other lines would lose it (or a
  total would count once per line if copied). The rows are rejected, naming the cells.
- Order totals: each line fits DECIMAL(18,4), but an order's sums are stored too.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from retainly.ingest.batch import Batch
from retainly.ingest.readers import RawTable
from retainly.ingest.values import MONEY_LIMIT, Problems

NUL_REASON = "contains a NUL byte (\\x00), which the store cannot hold; remove it"


def nul_bytes(raw: RawTable, problems: Problems) -> None:
    for column in raw.frame.columns:
        values = raw.frame[column]
        has_nul = values.str.contains("\x00", regex=False).fillna(False).to_numpy(dtype=bool)
        if has_nul.any():
            problems.add(has_nul, column, values, NUL_REASON)


def merged_cells(raw: RawTable, problems: Problems) -> None:
    """Every row under a merged cell that spans rows (merges within one row are read as they are)."""
    for sheet, first, last, first_column, last_column, header in raw.merged:
        if last <= first:
            continue
        in_sheet = raw.sheet == sheet if raw.sheet is not None else np.ones(len(raw.line), dtype=bool)
        covered = in_sheet & (raw.line >= first) & (raw.line <= last)
        if not covered.any():
            continue
        top = np.flatnonzero(covered & (raw.line == first))
        value = raw.frame[header].iloc[top[0]] if len(top) and header in raw.frame.columns else None
        cells = f"{_cell(first_column, first)}:{_cell(last_column, last)}"
        problems.add_rows(np.flatnonzero(covered), header, None if pd.isna(value) else value,
                          f"merged cells {cells} hold one value for rows {first} to {last}; unmerge them and "
                          "fill in the value on every row")


def _cell(column: int, row: int) -> str:
    """A spreadsheet cell name: column 0, row 2 -> A2; column 27 -> AB."""
    letters = ""
    column += 1
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"{letters}{row}"


def oversized_orders(batch: Batch) -> list[str]:
    """Orders whose amounts add up to more than DECIMAL(18,4) holds (gross, net, ... are stored sums)."""
    if batch.orders is None or batch.lines is None or batch.orders.empty:
        return []
    lines, orders = batch.lines, batch.orders
    amount = _numbers(lines, "amount")
    given = np.isfinite(amount)
    amount[~given] = (_numbers(lines, "quantity") * _numbers(lines, "unit_price"))[~given]
    per_line = np.abs(np.nan_to_num(amount)) + np.abs(np.nan_to_num(_numbers(lines, "discount")))
    totals = pd.Series(per_line).groupby(lines["order_id"].to_numpy(dtype=object), sort=False).sum()
    own = sum(np.abs(np.nan_to_num(_numbers(orders, c))) for c in ("gross", "discount", "shipping", "tax", "net"))
    totals = totals.add(pd.Series(own, index=orders["order_id"].to_numpy(dtype=object)), fill_value=0)
    # Floats find the candidates with room to spare; Decimal decides exactly.
    candidates = totals[totals > float(MONEY_LIMIT) / 2].index
    return [order for order in candidates if _exact_total(order, lines, orders) > MONEY_LIMIT]


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A money or number column as floats (NaN where blank or absent)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values.dtype):
        values = pd.to_numeric(values.astype("string"), errors="coerce")
    return values.to_numpy(dtype=float, na_value=np.nan)


def _exact_total(order, lines: pd.DataFrame, orders: pd.DataFrame) -> Decimal:
    total = Decimal(0)
    for _, line in lines[lines["order_id"] == order].iterrows():
        amount = _decimal(line.get("amount"))
        if line.get("amount") is None or pd.isna(line.get("amount")):
            amount = _decimal(line.get("quantity")) * _decimal(line.get("unit_price"))
        total += abs(amount) + abs(_decimal(line.get("discount")))
    head = orders[orders["order_id"] == order]
    for column in ("gross", "discount", "shipping", "tax", "net"):
        if column in head.columns:
            total += sum((abs(_decimal(v)) for v in head[column]), Decimal(0))
    return total


def _decimal(value) -> Decimal:
    return Decimal(0) if value is None or pd.isna(value) else Decimal(str(value))


def order_too_big(order: str) -> str:
    return f"the amounts of order {order} add up to more than the store can hold (below 100,000,000,000,000)"
