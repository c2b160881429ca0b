"""Cohort retention: customers grouped by the period of their first purchase order.

For cohort c and offset k (0 = the first-order period itself):

* ``customers``: the share of the cohort with a purchase order in period c + k;
* ``orders``: purchase orders in period c + k per cohort customer;
* ``revenue``: cumulative revenue per cohort customer through period c + k, net of returns
  made through that period (the cohort LTV curve).

Cells after the last period with orders are left out, never shown as zeros.

Orders are read as month pieces (``features.months``): every order of a piece falls in the
same month, hence the same month or quarter, so the cells are those of the orders themselves.
"""

from __future__ import annotations

import ibis

from retainly.errors import InputError
from retainly.features.months import pieces
from retainly.store.backends import Store

COHORT_UNITS = ("month", "quarter")
COHORT_METRICS = ("customers", "revenue", "orders")


def _period_number(moment, unit: str) -> ibis.Expr:
    months = moment.year() * 12 + moment.month() - 1
    return months if unit == "month" else (months / 3).floor().cast("int64")


def _label(number: int, unit: str) -> str:
    if unit == "month":
        return f"{number // 12}-{number % 12 + 1:02d}"
    return f"{number // 4}-Q{number % 4 + 1}"


def cohort_matrix(store: Store, unit: str = "month", metric: str = "customers") -> list[dict]:
    """One row per cohort: label, size and the metric for each period offset."""
    if unit not in COHORT_UNITS:
        raise InputError(f"`by` {unit!r} is not supported for cohorts; use month or quarter", parameter="by")
    if metric not in COHORT_METRICS:
        raise InputError(f"`metric` {metric!r} is not supported; use one of {', '.join(COHORT_METRICS)}",
                         parameter="metric")
    bought = pieces(store)
    bought = bought.mutate(period=_period_number(bought.first_at, unit))
    cohort_of = bought.group_by("customer_id").aggregate(cohort=bought.period.min())
    dated = bought.join(cohort_of, "customer_id").mutate(offset=lambda t: t.period - t.cohort)
    cells = dated.group_by(["cohort", "offset"]).aggregate(
        customers=dated.customer_id.nunique(), orders=dated.orders.sum(), revenue=dated.revenue.sum()
    ).to_pyarrow().to_pylist()
    if not cells:
        return []
    sizes = {row["cohort"]: row["customers"] for row in cells if row["offset"] == 0}
    last_period = max(row["cohort"] + row["offset"] for row in cells)
    by_cell = {(row["cohort"], row["offset"]): row for row in cells}
    returned = _returns_by_cell(store, cohort_of, unit) if metric == "revenue" else {}
    rows = []
    for cohort in sorted(sizes):
        size = sizes[cohort]
        values, running = [], 0.0
        for k in range(last_period - cohort + 1):
            cell = by_cell.get((cohort, k), {"customers": 0, "orders": 0, "revenue": 0})
            if metric == "customers":
                values.append(round(cell["customers"] / size, 4))
            elif metric == "orders":
                values.append(round(cell["orders"] / size, 4))
            else:
                running += float(cell["revenue"] or 0) - float(returned.get((cohort, k), 0))
                values.append(round(running / size, 2))
        rows.append({"cohort": _label(cohort, unit), "customers": size, "values": values})
    return rows


def _returns_by_cell(store: Store, cohort_of, unit: str) -> dict:
    returns = store.table("returns")
    dated = returns.join(cohort_of, "customer_id")
    dated = dated.mutate(offset=_period_number(dated.returned_at, unit) - dated.cohort)
    rows = dated.group_by(["cohort", "offset"]).aggregate(amount=dated.amount.sum()).to_pyarrow().to_pylist()
    # Returns dated before the cohort's first order (refunds of older purchases) count in its first period.
    cells: dict = {}
    for row in rows:
        key = (row["cohort"], max(row["offset"], 0))
        cells[key] = cells.get(key, 0) + float(row["amount"] or 0)
    return cells
