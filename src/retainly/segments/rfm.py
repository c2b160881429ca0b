"""RFM: recency, frequency and monetary scores per customer, and named segments.

Scores are computed inside the engine as of a date (orders through the end of that day):

* recency = days from the customer's last purchase order to the as-of date;
* frequency = purchase orders; monetary = their revenue net of returns made by the as-of date.

Each score is 1..bins by rank: ``1 + floor(bins * rank / customers)`` where ``rank`` counts
the customers strictly worse on that measure. Ties therefore share one score (the one of the
first tied place) and the result does not depend on row order. Recency is ranked from the
longest ago, so 5 is the most recent.

The ranks come from each measure's distribution, not from a sort of all customers: customers
are counted per distinct value, the counts cumulated over the values (a few thousand for
recency and frequency), and each customer takes their value's count of worse customers. The
orders are read as month pieces (``features.months``), cut at the as-of date.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import ibis
from ibis.expr.types import Table

from retainly.features.months import pieces
from retainly.features.orders import purchase_span
from retainly.settings import SegmentMap
from retainly.store.backends import Store

NOT_A_CUSTOMER = "(not a customer yet)"
SCORE_COLUMNS = ("as_of", "customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
                 "segment", "bins", "computed_at")


def last_order_date(store: Store) -> date | None:
    last = purchase_span(store)[1]
    return None if last is None else last.date()


def rfm_table(store: Store, as_of: date, bins: int, segment_map: SegmentMap) -> Table:
    """Per-customer scores as of ``as_of``, as an Ibis expression with the rfm_scores columns."""
    return scored(rfm_facts(store, as_of), as_of, bins, segment_map)


def rfm_facts(store: Store, as_of: date) -> Table:
    """customer_id, frequency, recency_days, monetary of every customer who bought by ``as_of``."""
    cutoff = datetime(as_of.year, as_of.month, as_of.day) + timedelta(days=1)
    bought = pieces(store, (cutoff,))
    bought = bought.filter(bought.first_at < cutoff)
    per_customer = bought.group_by("customer_id").aggregate(
        last_at=bought.last_at.max(), frequency=bought.orders.sum(), revenue=bought.revenue.sum()
    )
    returns = store.table("returns")
    returns = returns.filter(returns.returned_at < cutoff)
    returned = returns.group_by("customer_id").aggregate(returned=returns.amount.sum())
    joined = per_customer.left_join(returned, "customer_id")
    return joined.select(
        "customer_id",
        "frequency",
        recency_days=ibis.literal(as_of).delta(joined.last_at.date(), unit="day").cast("int32"),
        monetary=(joined.revenue - joined.returned.fill_null(0)).cast("decimal(18, 4)"),
    )


def scored(facts: Table, as_of: date, bins: int, segment_map: SegmentMap) -> Table:
    """``rfm_facts`` with their scores and segments: the rfm_scores columns."""
    size = facts.count().over(ibis.window())
    sized = facts.mutate(size=size)
    ranked = _scored(sized, "recency_days", "r_score", bins, worse_is_higher=True)
    ranked = _scored(ranked, "frequency", "f_score", bins)
    ranked = _scored(ranked, "monetary", "m_score", bins)
    return ranked.mutate(
        as_of=ibis.literal(as_of),
        segment=_segment_expression(ranked, bins, segment_map),
        bins=ibis.literal(bins, "int32"),
        computed_at=ibis.literal(datetime.now()),
    ).select(*SCORE_COLUMNS)


def _scored(facts: Table, measure: str, name: str, bins: int, worse_is_higher: bool = False) -> Table:
    """``facts`` with column ``name``: the score of ``measure`` from the count of customers worse on it."""
    values = facts.group_by(measure).aggregate(customers=facts.count())
    order = values[measure].desc() if worse_is_higher else values[measure]
    # Customers with a worse value: those of every value up to this one, less this one's own.
    worse = values.mutate(worse=values.customers.sum().over(ibis.cumulative_window(order_by=order)) - values.customers)
    joined = facts.join(worse.select(measure, "worse"), measure)
    return joined.mutate(**{name: (1 + (bins * joined.worse / joined.size).floor()).cast("int32")}).drop("worse")


def _segment_expression(scored: Table, bins: int, segment_map: SegmentMap) -> ibis.Expr:
    """A CASE over the map's cells; scores on another number of bins are placed on the grid's scale."""
    size = segment_map.size
    on_grid = lambda score: score if bins == size else (score * size / bins).ceil().cast("int32")  # noqa: E731
    recency = on_grid(scored.r_score)
    fm = ((on_grid(scored.f_score) + on_grid(scored.m_score) + 1) / 2).floor().cast("int32")
    cells = [
        ((recency == r) & (fm == f), ibis.literal(segment_map.cell(r, f)))
        for r in range(1, size + 1) for f in range(1, size + 1)
    ]
    return ibis.cases(*cells, else_=ibis.literal(segment_map.cell(1, 1)))


def store_scores(store: Store, as_of: date, bins: int, segment_map: SegmentMap) -> int:
    """Compute and store the scores for ``as_of`` (replacing earlier ones for that date); return the count."""
    # The facts are read four times (the size and each score's distribution): materialised once,
    # else an engine that does not reuse a common subquery (Spark) computes them four times.
    with store.scratch(rfm_facts(store, as_of)) as facts:
        store.replace_rows("rfm_scores", scored(facts, as_of, bins, segment_map), as_of=as_of)
    return int(store.fetchone("SELECT COUNT(*) FROM rfm_scores WHERE as_of = ?", (as_of,))[0])


def stored_dates(store: Store) -> list[date]:
    return [row[0] for row in store.fetchall("SELECT DISTINCT as_of FROM rfm_scores ORDER BY as_of")]


def scores(store: Store, as_of: date) -> Table:
    table = store.table("rfm_scores")
    return table.filter(table.as_of == as_of)


def customer_scores(store: Store, as_of: date) -> Table:
    """The scores of ``as_of`` led by each customer's id as the shop knows it (``customer``)."""
    scored = scores(store, as_of)
    customers = store.table("customers").select("customer_id", customer="external_id")
    joined = scored.join(customers, "customer_id")
    return joined.select("customer", "customer_id", *(c for c in scored.columns if c != "customer_id"))


def segment_summary(store: Store, as_of: date, segment_map: SegmentMap) -> list[dict]:
    """Per segment: customers, shares of customers and revenue, mean R/F/M and the suggested action."""
    table = scores(store, as_of)
    totals = table.aggregate(customers=table.count(), monetary=table.monetary.sum()).to_pyarrow().to_pylist()[0]
    rows = table.group_by("segment").aggregate(
        customers=table.count(),
        monetary=table.monetary.sum(),
        mean_recency_days=table.recency_days.cast("float64").mean(),
        mean_frequency=table.frequency.cast("float64").mean(),
        mean_monetary=table.monetary.cast("float64").mean(),
    ).to_pyarrow().to_pylist()
    by_name = {row["segment"]: row for row in rows}
    ordered = [name for name in segment_map.segments() if name in by_name]
    ordered += sorted(set(by_name) - set(ordered))  # segments from an older map
    return [_summary_row(by_name[name], totals, segment_map) for name in ordered]


def _summary_row(row: dict, totals: dict, segment_map: SegmentMap) -> dict:
    total_monetary = float(totals["monetary"] or 0)
    return {
        "segment": row["segment"],
        "customers": int(row["customers"]),
        "customer_share": round(row["customers"] / totals["customers"], 4),
        "revenue_share": round(float(row["monetary"]) / total_monetary, 4) if total_monetary else None,
        "mean_recency_days": round(float(row["mean_recency_days"]), 1),
        "mean_frequency": round(float(row["mean_frequency"]), 2),
        "mean_monetary": round(float(row["mean_monetary"]), 2),
        "action": segment_map.action(row["segment"]),
    }


def segment_moves(store: Store, earlier: date, later: date) -> list[dict]:
    """How many customers went from each segment at ``earlier`` to each segment at ``later``."""
    before = scores(store, earlier).select("customer_id", from_segment="segment")
    after = scores(store, later).select("customer_id", to_segment="segment")
    joined = after.left_join(before, "customer_id")
    moves = joined.group_by(
        from_segment=joined.from_segment.fill_null(NOT_A_CUSTOMER), to_segment=joined.to_segment
    ).aggregate(customers=joined.count())
    rows = moves.order_by(["from_segment", "to_segment"]).to_pyarrow().to_pylist()
    return [{**row, "customers": int(row["customers"])} for row in rows]


def revenue_concentration(store: Store, as_of: date, points: int) -> list[tuple[float, float]]:
    """(share of customers, cumulative share of revenue), biggest spenders first, from (0, 0).

    Customers are ranked in the engine by their RFM monetary value as of ``as_of`` (net of
    returns), cumulated, and read back as at most ``points`` steps.
    """
    table = scores(store, as_of)
    order = [table.monetary.desc(), table.customer_id]
    ranked = table.mutate(
        place=ibis.row_number().over(ibis.window(order_by=order)) + 1,
        running=table.monetary.sum().over(ibis.cumulative_window(order_by=order)),
        size=table.count().over(ibis.window()),
        total=table.monetary.sum().over(ibis.window()),
    )
    stepped = ranked.mutate(step=(ranked.place * points / ranked.size).ceil())
    rows = stepped.group_by("step").aggregate(
        customers=stepped.place.max(), running=stepped.running.argmax(stepped.place),
        size=stepped.size.max(), total=stepped.total.max(),
    ).order_by("step").to_pyarrow().to_pylist()
    if not rows or not rows[0]["total"] or rows[0]["total"] <= 0:
        return []
    total = float(rows[0]["total"])
    return [(0.0, 0.0)] + [(row["customers"] / row["size"], float(row["running"]) / total) for row in rows]


def share_at(points: list[tuple[float, float]], share: float) -> float | None:
    """The curve's revenue share at ``share`` of customers, interpolated between steps."""
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= share <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (share - x0) / (x1 - x0)
    return None
