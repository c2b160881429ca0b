"""The Overview page: the shop's key figures for a period beside those of a period to compare with,
and a year of sales and customers by month to the period's end.

The period (default: the 30 days up to the last order) and the comparison (the period just
before, of the same length, or the same days a year before) are chosen on the page. Each column
is the service call of its JSON twin, ``GET /api/v1/kpis?first=...&last=...`` (``ws.measures.kpis``),
and so is the chart's (``...&by=month``); definitions are in docs/metrics.md.

The offline report's other charts are on a page of their own, ``/overview/charts``: they need the
RFM scores, the lifecycle stages and the predictions of the last order's day, which are made when
missing (fitting a model can take minutes), so the Overview stays as quick as its KPIs. Each chart
sits in an element whose ``data-twin`` is the API call it was drawn from.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from retainly.errors import RetainlyError
from retainly.web import charts
from retainly.web.auth import READ_FIGURES
from retainly.web.render import error_page, render
from retainly.web.session import page_user
from retainly.web.shop import shop

router = APIRouter(include_in_schema=False)
DEFAULT_DAYS = 30
COMPARISONS = {"previous": "the period just before", "year": "the same days a year before"}
# The tiles: the KPI row's field, its label in plain words, how to show it, what it counts.
TILES = (
    ("customers", "Customers who bought", "count", "bought at least once in the period"),
    ("new_customers", "New customers", "count", "their first order was in the period"),
    ("orders", "Orders", "count", "purchase orders, cancelled ones left out"),
    ("revenue", "Sales", "money", "what the orders came to, before returns"),
    ("net_revenue", "Sales after returns", "money", "sales less the money refunded"),
    ("aov", "Average order", "money", "sales per order"),
    ("repeat_purchase_rate", "Bought more than once", "percent", "of the customers who bought in the period"),
    ("crr", "Customers kept", "percent", "of those active at the start, still active at the end"),
    ("churn_rate", "Customers lost", "percent", "of those active at the start, no longer active at the end"),
    ("reactivated_customers", "Came back", "count", "bought again after a long silence"),
)
# Figures where less is better: a rise is shown as bad news.
LOWER_IS_BETTER = ("churn_rate",)


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} {text!r} is not a date: give it as YYYY-MM-DD") from None


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def compared_period(first: date, last: date, compare: str) -> tuple[date, date]:
    """The period to compare ``first``..``last`` with: just before it, same length; or a year before."""
    if compare == "year":
        return _year_before(first), _year_before(last)
    previous_last = first - timedelta(days=1)
    return previous_last - (last - first), previous_last


def twin(first: date, last: date) -> str:
    return f"/api/v1/kpis?first={first.isoformat()}&last={last.isoformat()}"


def _change(current, previous, kind: str, field: str) -> dict | None:
    """How a figure moved: up or down, by how much, and whether that is good news."""
    if current is None or previous is None:
        return None
    difference = float(current) - float(previous)
    if kind == "percent":
        text = f"{abs(difference) * 100:.1f} points"
    elif float(previous):
        text = f"{abs(difference) / abs(float(previous)) * 100:.0f} %"
    else:
        text = "from none" if difference else ""
    direction = "up" if difference > 0 else "down" if difference < 0 else "same"
    good = direction == ("down" if field in LOWER_IS_BETTER else "up")
    return {"direction": direction, "text": text, "good": good if direction != "same" else None}


@router.get("/overview")
def overview(request: Request, first: str = "", last: str = "", compare: str = "previous") -> Response:
    user = page_user(request, READ_FIGURES)
    compare = compare if compare in COMPARISONS else "previous"
    try:
        first_day, last_day = _day(first, "the first day"), _day(last, "the last day")
    except ValueError as problem:
        return error_page(request, user, 422, str(problem))
    try:
        with shop(request).use() as ws:
            last_order = ws.data.last_order_date()
            if last_order is None:
                return render(request, "overview.j2", user, empty=True, comparisons=COMPARISONS, compare=compare)
            last_day = last_day or last_order
            first_day = first_day or last_day - timedelta(days=DEFAULT_DAYS - 1)
            if first_day > last_day:
                return error_page(request, user, 422, f"the first day ({first_day}) comes after the last "
                                                      f"({last_day}): choose a first day on or before the last")
            before_first, before_last = compared_period(first_day, last_day, compare)
            (current,) = ws.measures.kpis(first_day, last_day)
            (previous,) = ws.measures.kpis(before_first, before_last)
            trend_first = charts.trend_start(last_day)
            trend = ws.measures.kpis(trend_first, last_day, "month")
            currency = ws.measures.currency()
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    tiles = [{"field": field, "label": label, "kind": kind, "hint": hint,
              "current": getattr(current, field), "previous": getattr(previous, field),
              "change": _change(getattr(current, field), getattr(previous, field), kind, field)}
             for field, label, kind, hint in TILES]
    return render(request, "overview.j2", user, with_charts=True, empty=False, tiles=tiles, currency=currency, compare=compare,
                  comparisons=COMPARISONS, first=first_day, last=last_day, before_first=before_first,
                  before_last=before_last, current_twin=twin(first_day, last_day),
                  previous_twin=twin(before_first, before_last), note=current.retention_note,
                  trend=charts.sales_trend(trend), trend_twin=twin(trend_first, last_day) + "&by=month")


def cohort_unit(first_order: date, last_order: date) -> str:
    """The report's rule (``services/reports.py``): cohorts by quarter past two years of history, else by month."""
    return "quarter" if (last_order - first_order).days > 2 * 365 else "month"


def _api(path: str, **query) -> str:
    return f"/api/v1{path}?{urlencode(query)}"


@router.get("/overview/charts")
def overview_charts(request: Request) -> Response:
    """The offline report's charts as of the last order, each from the service call of its JSON twin."""
    user = page_user(request, READ_FIGURES)
    try:
        with shop(request).use() as ws:
            last_order = ws.data.last_order_date()  # an empty store: InputError, its 422 page says to import orders
            as_of = ws.rfm.ensure(last_order)
            segments = ws.rfm.segments(as_of)
            unit = cohort_unit(date.fromisoformat(ws.data.summary().first_order_at[:10]), last_order)
            returning, value = ws.measures.cohorts(unit, "customers"), ws.measures.cohorts(unit, "revenue")
            ws.predictions.ensure(as_of)
            fit, totals = ws.predictions.latest_fit(as_of), ws.predictions.totals(as_of)
            chances = ws.predictions.chance_histogram(as_of)
            stages = ws.lifecycle.counts(ws.lifecycle.ensure(as_of))
            concentration = ws.rfm.concentration(as_of)
            flow_since = ws.reports.flow_since(as_of)
            flow = ws.lifecycle.flow(flow_since, as_of, trend=False) if flow_since < as_of else None
            currency = ws.measures.currency()
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    day = as_of.isoformat()
    sections = {
        "segments": {"twin": _api("/rfm/segments", as_of=day), "chart": charts.segments(segments), "rows": segments},
        "returning": {"twin": _api("/cohorts", by=unit, metric="customers"), "chart": charts.returning(returning, unit),
                      "rows": returning},
        "value": {"twin": _api("/cohorts", by=unit, metric="revenue"),
                  "chart": charts.customer_value(value, unit, currency), "rows": value},
        "chances": {"twin": _api("/predictions", as_of=day), "rows": chances, "totals": totals, "fit": fit,
                    "chart": charts.order_chances(chances, totals.order_window_days)},
        "stages": {"twin": _api("/lifecycle", as_of=day), "chart": charts.stages(stages), "rows": stages},
        "concentration": {"twin": _api("/rfm/concentration", as_of=day), "found": concentration,
                          "chart": charts.concentration(concentration)},
        # Only once the history is longer than a day: a flow needs two different days.
        "flow": flow and {"twin": _api("/lifecycle/flow", first=flow_since.isoformat(), last=day), "found": flow,
                          "chart": charts.stage_flow(flow)},
    }
    return render(request, "overview_charts.j2", user, with_charts=True, as_of=as_of, unit=unit,
                  currency=currency, sections=sections)
