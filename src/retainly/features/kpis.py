"""Shop KPIs per period or per acquisition channel, counted inside the engine.

Definitions are in ``docs/metrics.md``; the ratios come from ``features.formulas``.

How the counting works, so that each figure is one pass over the orders:

* Every purchase order gets its customer's acquisition channel and a *bucket*: the period
  it falls in, or BEFORE the range. Sums per (channel, bucket) add up to any period or to
  the whole shop, because each customer has exactly one acquisition channel.
* Orders are read as *pieces* (``features.months``): a customer's orders of one month, or of
  the part of a month on one side of a range edge, with their sums and the purchases just
  before and after. A piece lies in one bucket, so every count below is the same as over the
  orders themselves, from fewer rows (a third as many on the 10 M-order benchmark) and
  with no window over all orders.
* "A customer at date D" has an order in [D - window, D). Each order *owns* the stretch
  (placed_at, min(next order, placed_at + window)]; per customer these stretches do not
  overlap and together cover the days the customer counts as active. So the customers
  active at D = orders placed before D minus owned stretches ended before D: two bucket
  counts, no per-date scan. Within a piece every order but the last ends its stretch by the
  next order, in the piece's own bucket; the last ends it by the piece's ``next_at``.
* Whether a customer who bought in a period was already active at its start follows from
  the order before their first order in the period (``prev_at``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import ibis
from ibis.expr.types import Table

from retainly.features import formulas
from retainly.features.months import acquisitions, pieces
from retainly.features.orders import purchase_span
from retainly.features.periods import Period, date_range, split
from retainly.store.backends import Store

DEFAULT_ACTIVITY_WINDOW_DAYS = 365
# Ten years: a longer window would reach back past the earliest day an analysis reads (1900).
LONGEST_ACTIVITY_WINDOW_DAYS = 3660
BY_CHOICES = ("month", "quarter", "year", "channel")
BEFORE = datetime(1900, 1, 1)  # the bucket of everything before the range
_TRUNCATE = {"month": "M", "quarter": "Q", "year": "Y"}
_UNIT_MONTHS = {"month": 1, "quarter": 3, "year": 12}
DAYS_PER_MONTH = 365.25 / 12
# Why CRR and churn are empty, or to be read with care (``KpiRow.retention_note``).
NO_BASE_NOTE = "no customers at the period start"
WARMING_UP_NOTE = "warming up: less than {window} days of orders before the period start"


@dataclass(frozen=True)
class _Range:
    start: datetime
    end: datetime
    unit: str | None
    window: timedelta

    def bucket(self, moment) -> ibis.Expr:
        """The start of the period ``moment`` falls in; BEFORE if earlier; NULL if after the range."""
        start, end = ibis.literal(self.start), ibis.literal(self.end)
        inside = start if self.unit is None else ibis.greatest(moment.truncate(_TRUNCATE[self.unit]), start)
        return ibis.cases(
            (moment < start, ibis.literal(BEFORE)),
            (moment < end, inside),
            else_=ibis.null("timestamp"),
        )

    def bucket_end(self, bucket) -> ibis.Expr:
        if self.unit is None:
            return ibis.literal(self.end)
        following = bucket.truncate(_TRUNCATE[self.unit]) + ibis.interval(months=_UNIT_MONTHS[self.unit])
        return ibis.least(following, ibis.literal(self.end))


def shop_kpis(store: Store, first: date | None = None, last: date | None = None, by: str | None = None,
              window_days: int = DEFAULT_ACTIVITY_WINDOW_DAYS) -> list[dict]:
    """KPIs for the inclusive dates ``first``..``last`` (default: all orders), one dict per row.

    ``by`` is None (one row), a period unit (one row per month/quarter/year) or "channel"
    (one row per acquisition channel over the whole range).
    """
    from retainly.errors import InputError

    if by is not None and by not in BY_CHOICES:
        raise InputError(f"`by` {by!r} is not supported; use one of {', '.join(BY_CHOICES)}", parameter="by")
    if not 1 <= window_days <= LONGEST_ACTIVITY_WINDOW_DAYS:
        raise InputError(f"`window_days` {window_days} is not an activity window: give 1 to "
                         f"{LONGEST_ACTIVITY_WINDOW_DAYS} days", parameter="window_days")
    span = dict(zip(("first", "last"), purchase_span(store)))
    first_order = span["first"]
    # Plain SQL: Ibis's PostgreSQL backend cannot return the NULL minimum of an empty NOT NULL column.
    first_spend = store.fetchone("SELECT MIN(spend_date) FROM marketing_spend")[0]
    if span["first"] is not None and first_spend is not None:
        # By default the range also covers spend made before the first order it brought.
        span["first"] = min(span["first"], datetime(first_spend.year, first_spend.month, first_spend.day))
    start, end = date_range(first, last, span["first"], span["last"])
    unit = None if by in (None, "channel") else by
    scope = _Range(start, end, unit, timedelta(days=window_days))
    found = pieces(store, (start, end))  # every bucket edge is a month start, ``start`` or ``end``
    acquired_expr = acquisitions(store.table("customers"), found)
    # Materialised once: every count below reads these two instead of re-reading the pieces.
    with store.scratch(acquired_expr) as acquired, store.scratch(_history(found, acquired)) as history:
        counts = _Counts.collect(store, history, acquired, scope, by_channel=by == "channel")
    periods = split(start, end, unit)
    if by == "channel":
        found = [counts.row(periods[0], channel) for channel in counts.channels()]
    else:
        found = [counts.row(period, None) for period in periods]
    return [_edges(row, first_order and first_order.date(), window_days) for row in found]


def _edges(row: dict, first_order: date | None, window_days: int) -> dict:
    """The row with ``warming_up`` and ``retention_note``: what the data's edges do to CRR and churn.

    A period is warming up when the activity window before its start reaches back before the
    data's first order: the base at its start is short (customers who bought before the data
    began are missing, and count as new when they buy again), and few can have lapsed yet.
    Without any order (a range given on an empty store) every period is.
    """
    warming_up = first_order is None or row["start"] - timedelta(days=window_days) < first_order
    notes = [NO_BASE_NOTE] if row["customers_at_start"] == 0 else []
    if warming_up:
        notes.append(WARMING_UP_NOTE.format(window=window_days))
    return {**row, "warming_up": warming_up, "retention_note": "; ".join(notes) or None}


def _history(found: Table, acquired: Table) -> Table:
    """Pieces with the customer's acquisition channel (it replaces the orders' own sales channel)."""
    return found.drop("first_channel").join(acquired.select("customer_id", "channel"), "customer_id")


class _Counts:
    """The per-(channel, bucket) sums the KPIs are made of, fetched from the engine once."""

    def __init__(self, scope: _Range):
        self.scope = scope
        self.by_bucket: dict[str, dict[tuple[str, datetime], dict]] = {}
        self.top20: dict[tuple[str, datetime], float | None] = {}
        self.top20_by_channel: dict[tuple[str, datetime], float | None] = {}

    @classmethod
    def collect(cls, store: Store, history: Table, acquired: Table, scope: _Range, by_channel: bool) -> _Counts:
        counts = cls(scope)
        placed = scope.bucket(history.first_at)
        counts._fetch("opened", _sum_by(history, placed,
                                        lambda t: dict(orders=t.orders.sum(), revenue=t.revenue.sum())))
        owned_until = ibis.least(ibis.coalesce(history.next_at, history.last_at + scope.window),
                                 history.last_at + scope.window)
        counts._fetch("closed", _sum_by(history, placed, lambda t: dict(orders=(t.orders - 1).sum())))
        counts._fetch("closed", _sum_by(history, scope.bucket(owned_until), lambda t: dict(orders=t.count())))
        counts._fetch("acquired", _sum_by(acquired, scope.bucket(acquired.first_order_at), lambda t: dict(
            customers=t.count(), first_order_epoch=t.first_order_at.epoch_seconds().sum())))
        counts._collect_returns(store, acquired)
        counts._collect_spend(store)
        counts._collect_period_customers(store, history, by_channel)
        return counts

    def _fetch(self, name: str, expr: Table) -> None:
        """Sums per (channel, bucket) under ``name``, added to what an earlier fetch of ``name`` brought."""
        rows = self.by_bucket.setdefault(name, {})
        for row in expr.to_pyarrow().to_pylist():
            key = (row.pop("channel"), row.pop("bucket"))
            found = rows.setdefault(key, dict.fromkeys(row, 0))
            for field, value in row.items():
                found[field] += value or 0

    def _collect_returns(self, store: Store, acquired: Table) -> None:
        returns = store.table("returns")
        known = returns.join(acquired.select("customer_id", "channel"), "customer_id")
        bucket = self.scope.bucket(known.returned_at)
        self._fetch("returned", _sum_by(known, bucket, lambda t: dict(amount=t.amount.sum())))

    def _collect_spend(self, store: Store) -> None:
        spend = store.table("marketing_spend")
        spent_at = spend.spend_date.cast("timestamp")
        self._fetch("spend", _sum_by(spend, self.scope.bucket(spent_at), lambda t: dict(amount=t.amount.sum())))

    def _collect_period_customers(self, store: Store, history: Table, by_channel: bool) -> None:
        """Per customer and period: orders, revenue, repeat spacing, whether they joined the active base."""
        scope = self.scope
        inside = history.mutate(bucket=scope.bucket(history.first_at)).filter(lambda t: t.bucket > BEFORE)
        per_customer = inside.group_by(["channel", "bucket", "customer_id"]).aggregate(
            orders=inside.orders.sum(),
            revenue=inside.revenue.sum(),
            span_seconds=inside.last_at.max().epoch_seconds() - inside.first_at.min().epoch_seconds(),
            last_at=inside.last_at.max(),
            prev_at=inside.prev_at.min(),  # the earliest piece's: the purchase before the bucket
            first_ever=inside.prev_at.isnull().any(),
        )
        with store.scratch(per_customer) as per_customer:
            self._summarise_period_customers(per_customer, by_channel)

    def _summarise_period_customers(self, per_customer: Table, by_channel: bool) -> None:
        scope = self.scope
        bucket_end = scope.bucket_end(per_customer.bucket)
        lapsed_before = per_customer.first_ever | (per_customer.prev_at < per_customer.bucket - scope.window)
        joined = lapsed_before & (per_customer.last_at >= bucket_end - scope.window)
        repeat = per_customer.orders >= 2
        summed = per_customer.group_by(["channel", "bucket"]).aggregate(
            customers=per_customer.count(),
            new_customers=per_customer.first_ever.sum(),
            repeat_customers=repeat.sum(),
            repeat_span_seconds=ibis.ifelse(repeat, per_customer.span_seconds, 0).sum(),
            repeat_gaps=ibis.ifelse(repeat, per_customer.orders - 1, 0).sum(),
            joined=joined.sum(),
            reactivated=(lapsed_before & ~per_customer.first_ever).sum(),
        )
        self._fetch("period", summed)
        self.top20 = _top_share(per_customer, ["bucket"])
        if by_channel:
            self.top20_by_channel = _top_share(per_customer, ["channel", "bucket"])

    # -- assembling rows ------------------------------------------------------------------
    def channels(self) -> list[str]:
        seen = {channel for table in self.by_bucket.values() for channel, _ in table}
        return sorted(seen)

    def _total(self, name: str, field: str, channel: str | None, buckets) -> Decimal | int:
        total = 0
        for (row_channel, bucket), row in self.by_bucket[name].items():
            if (channel is None or row_channel == channel) and bucket in buckets:
                total += row[field] or 0
        return total

    def _before(self, period: Period) -> set[datetime]:
        """Buckets holding everything that happened before ``period`` starts."""
        return {BEFORE} | {bucket for table in self.by_bucket.values() for _, bucket in table
                           if BEFORE < bucket < period.start}

    def _active_at(self, channel: str | None, buckets: set[datetime]) -> int:
        opened = self._total("opened", "orders", channel, buckets)
        return int(opened - self._total("closed", "orders", channel, buckets))

    def row(self, period: Period, channel: str | None) -> dict:
        before, here = self._before(period), {period.start}
        through = before | here
        total = lambda name, field, buckets: self._total(name, field, channel, buckets)  # noqa: E731
        customers = int(total("period", "customers", here))
        orders = int(total("opened", "orders", here))
        revenue = _money(total("opened", "revenue", here))
        returned = _money(total("returned", "amount", here))
        new = int(total("period", "new_customers", here))
        at_start, at_end = self._active_at(channel, before), self._active_at(channel, through)
        joined = int(total("period", "joined", here))
        lost = at_start - (at_end - joined)
        churn = formulas.churn_rate(lost, at_start)
        aov = formulas.aov(revenue, orders)
        frequency = formulas.purchase_frequency(orders, customers)
        acquired_by_end = int(total("acquired", "customers", through))
        lifetime_revenue = total("opened", "revenue", through)
        lifetime_net = lifetime_revenue - total("returned", "amount", through)
        key = (channel, period.start) if channel is not None else period.start
        row = {"channel": channel} if channel is not None else {}
        row.update({
            "period": period.label,
            "start": period.start.date(),
            "end": (period.end - timedelta(days=1)).date(),
            "customers": customers,
            "new_customers": new,
            "orders": orders,
            "revenue": revenue,
            "returns": returned,
            "net_revenue": revenue - returned,
            "aov": _round(aov, 2),
            "purchase_frequency": _round(frequency),
            "repeat_purchase_rate": _round(formulas.ratio(total("period", "repeat_customers", here), customers)),
            "avg_days_between_orders": _round(formulas.ratio(total("period", "repeat_span_seconds", here) / 86400,
                                                             total("period", "repeat_gaps", here))),
            "customers_at_start": at_start,
            "customers_at_end": at_end,
            "reactivated_customers": int(total("period", "reactivated", here)),
            "lost_customers": lost,
            "crr": _round(formulas.crr(at_end, new, at_start)),
            "churn_rate": _round(churn),
            "simple_ltv": _round(formulas.simple_ltv(
                None if aov is None or frequency is None else aov * frequency, formulas.expected_lifetime(churn)), 2),
            "historic_ltv": _round(formulas.ratio(lifetime_net, acquired_by_end), 2),
            "historic_ltv_gross": _round(formulas.ratio(lifetime_revenue, acquired_by_end), 2),
            "top20_revenue_share": _round((self.top20_by_channel if channel else self.top20).get(key)),
        })
        row.update(self._acquisition_economics(period, channel, here, through))
        return row

    def _acquisition_economics(self, period: Period, channel: str | None, here, through) -> dict:
        """Spend, CAC, LTV:CAC and payback per channel with known spend (scalars in a channel row)."""
        spent_channels = sorted({c for (c, bucket), r in self.by_bucket["spend"].items() if bucket in here})
        if channel is not None:
            spent_channels = [channel] if channel in spent_channels else []
        economics = {"cac": {}, "ltv_cac": {}, "payback_months": {}}
        spend_total = Decimal(0)
        for name in spent_channels:
            spend = self._total("spend", "amount", name, here)
            spend_total += spend
            cac = formulas.cac(spend, self._total("acquired", "customers", name, here))
            acquired = self._total("acquired", "customers", name, through)
            net = self._total("opened", "revenue", name, through) - self._total("returned", "amount", name, through)
            tenure_days = (acquired * period.end.timestamp()
                           - float(self._total("acquired", "first_order_epoch", name, through))) / 86400
            economics["cac"][name] = _round(cac)
            economics["ltv_cac"][name] = _round(formulas.ltv_to_cac(formulas.ratio(net, acquired), cac))
            economics["payback_months"][name] = _round(formulas.payback_months(
                cac, formulas.ratio(net, tenure_days / DAYS_PER_MONTH)))
        result: dict = {"marketing_spend": _money(spend_total)}
        if channel is None:
            result.update(economics)
        else:
            result.update({k: v.get(channel) for k, v in economics.items()})
        return result


def _sum_by(table: Table, bucket: ibis.Expr, metrics: Callable[[Table], dict]) -> Table:
    """``metrics(t)`` per (channel, bucket); rows outside the range (NULL bucket) left out."""
    keyed = table.mutate(bucket=bucket)
    keyed = keyed.filter(keyed.bucket.notnull())
    return keyed.group_by(["channel", "bucket"]).aggregate(**metrics(keyed))


def _top_share(per_customer: Table, keys: list[str], share: float = 0.2) -> dict:
    """Revenue share of the top ``share`` of customers (rounded up) per group of ``keys``."""
    # The sum of the top k revenues is the same whichever of several tied customers comes first.
    ranking = ibis.window(group_by=keys, order_by=per_customer.revenue.desc())
    ranked = per_customer.mutate(
        place=ibis.row_number().over(ranking), size=per_customer.count().over(ibis.window(group_by=keys))
    )
    top = ranked.place < (ranked.size * share).ceil()
    shares = ranked.group_by(keys).aggregate(
        top=ibis.ifelse(top, ranked.revenue, 0).sum(), total=ranked.revenue.sum()
    ).to_pyarrow().to_pylist()
    result = {}
    for row in shares:
        key = tuple(row[k] for k in keys) if len(keys) > 1 else row[keys[0]]
        result[key] = formulas.ratio(row["top"], row["total"])
    return result


def _money(value) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
