"""The offline HTML report: one self-contained file a shop owner opens in any browser.

Everything is counted in the engine (``Workspace`` methods, plus two Ibis queries here over
the stored RFM scores); Python only formats the results. The page carries plotly.js once,
inline, and refers to nothing outside itself, so it opens offline and sends no request.

What is in it and where each figure comes from:

* KPI tiles: ``ws.kpis(first, as_of)`` over the last 12 months (from the first order when
  the history is shorter); their trends: ``ws.kpis(by=quarter|month)`` over all history.
* Segments: ``ws.segments(as_of)`` (sizes, revenue shares, suggested actions).
* Cohort retention heatmap and LTV curves: ``ws.cohorts(unit, "customers" | "revenue")``.
* Revenue concentration: the stored RFM scores ranked by monetary (net revenue through
  the as-of date), cumulated in the engine and read back as at most 100 points.
* The call list: the "Can't Lose Them" and "At Risk" segments by monetary, top 25, with
  their P(alive) and CLV from the stored predictions.
* Predictions: ``ws.ensure_scores(as_of)`` and the fit that made them (model, why, horizon);
  totals and the P(alive) histogram are counted in the engine over ``customer_scores``; the
  tracking chart is the backtest that chose the model (``model_fits.backtest``).
* Buyer types and reorders due: ``ws.buyer_type_mix(as_of)`` and ``ws.reorders(as_of)``.
* Lifecycle: ``ws.lifecycle_counts(as_of)`` and the flow of ``ws.lifecycle_flow`` over the
  last ``FLOW_MONTHS`` months (a Sankey chart from stage then to stage now).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import ibis
from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from retainly.errors import InputError
from retainly.features.periods import next_unit_start, unit_start
from retainly.segments.rfm import scores
from retainly.views import report_charts as charts

CALL_SEGMENTS = ("Can't Lose Them", "At Risk")
CALL_LIST_SIZE = 25
CURVE_POINTS = 100
TILE_MONTHS = 12
FLOW_MONTHS = 6
REORDERS_SHOWN = 20
_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "JPY": "¥"}

# (KPI key, label, kind, what it means) — the keys of ``shop_kpis`` rows.
TILES = (
    ("customers", "Customers", "count", "bought in the period"),
    ("orders", "Orders", "count", "purchase orders"),
    ("revenue", "Revenue", "money", "gross, before returns"),
    ("aov", "Average order value", "money", "revenue per order"),
    ("repeat_purchase_rate", "Repeat purchase rate", "percent", "of customers ordered twice or more"),
    ("crr", "Customer retention rate", "percent", "of customers at the start still active"),
    ("churn_rate", "Churn rate", "percent", "of customers at the start who lapsed"),
    ("historic_ltv", "Historic LTV", "money", "net revenue per customer acquired, to date"),
    ("top20_revenue_share", "Top 20 % revenue share", "percent", "of revenue from the top 20 % of buyers"),
)


# -- numbers for people --------------------------------------------------------------------
def format_count(value) -> str:
    return "n/a" if value is None else f"{int(value):,}"


def format_percent(value) -> str:
    return "n/a" if value is None else f"{float(value) * 100:.1f}\u00a0%"


def format_money(value, currency: str | None = None) -> str:
    """Whole units from 10,000 up, millions from 1,000,000 up, cents below; € £ $ ¥ as symbols."""
    if value is None:
        return "n/a"
    amount = float(value)
    size = abs(amount)
    text = f"{amount / 1e6:,.2f}\u00a0M" if size >= 1e6 else f"{amount:,.0f}" if size >= 1e4 else f"{amount:,.2f}"
    if currency in _SYMBOLS:
        return f"-{_SYMBOLS[currency]}{text[1:]}" if text.startswith("-") else f"{_SYMBOLS[currency]}{text}"
    return f"{text}\u00a0{currency}" if currency else text


def format_value(value, kind: str, currency: str | None = None) -> str:
    if kind == "money":
        return format_money(value, currency)
    return format_percent(value) if kind == "percent" else format_count(value)


# -- writing -------------------------------------------------------------------------------
def write_report(ws, path: str | Path) -> Path:
    """Render the report for the workspace's store and write it to ``path``; return the path."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"--out {path} is a folder; name the HTML file to write, e.g. {path / 'report.html'}")
    if not path.parent.exists():
        raise InputError(f"cannot write {path}: folder {path.parent} does not exist; create it or pick another --out")
    path.write_text(render_report(ws), encoding="utf-8")
    return path


def render_report(ws) -> str:
    env = Environment(loader=PackageLoader("retainly.views", "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2").render(**report_context(ws))


def report_context(ws) -> dict:
    """Everything the template shows, formatted; ``empty`` when the store has no purchase orders."""
    from retainly import __version__

    base = {"store": ws.store.url.display(), "generated_at": datetime.now().strftime("%Y-%m-%d %H:%M"),
            "version": __version__}
    try:
        as_of = ws.default_as_of()
    except InputError:  # no purchase orders yet
        return {**base, "empty": True}
    ws.ensure_rfm(as_of)
    ws.ensure_scores(as_of)
    summary = ws.summary()
    store_first = date.fromisoformat(summary["first_order_at"][:10])
    first = max(store_first, _months_before(as_of, TILE_MONTHS))
    currency = _currency(ws.store)
    kpis = ws.kpis(first, as_of)[0]
    unit = "quarter" if (as_of - store_first).days > 2 * 365 else "month"
    trend = ws.kpis(store_first, as_of, by=unit)
    money = lambda value: format_money(value, currency)  # noqa: E731
    segments = ws.segments(as_of)
    retention = ws.cohorts(unit, "customers")
    ltv = ws.cohorts(unit, "revenue")
    points = revenue_concentration(ws.store, as_of)
    top_share = _share_at(points, 0.2)
    return {
        **base, "empty": False, "plotly_js": Markup(charts.plotly_js()),
        "as_of": as_of.isoformat(), "period": f"{first.isoformat()} to {as_of.isoformat()}",
        "lead": f"The last {TILE_MONTHS} months to {as_of.isoformat()}" if first > store_first
        else f"All history, {first.isoformat()} to {as_of.isoformat()}",
        "unit": unit, "currency": currency,
        "window_days": ws.settings.activity_window_days,
        "summary": {"customers": format_count(summary["customers"]), "orders": format_count(summary["orders"]),
                    "first": summary["first_order_at"][:10], "last": summary["last_order_at"][:10]},
        "tiles": _tiles(kpis, trend, unit, currency),
        "segments": [{**row, "customers_text": format_count(row["customers"]),
                      "revenue_share_text": format_percent(row["revenue_share"])} for row in segments],
        "segments_chart": Markup(charts.segment_bars("chart-segments", segments)) if segments else None,
        "retention_chart": Markup(charts.cohort_heatmap("chart-retention", retention, unit)) if retention else None,
        "ltv_chart": Markup(charts.ltv_curves("chart-ltv", ltv, unit, money)) if ltv else None,
        "concentration_chart": Markup(charts.concentration_curve("chart-concentration", points, top_share))
        if len(points) > 1 else None,
        "top_share": format_percent(top_share),
        "call_segments": CALL_SEGMENTS,
        "call_list": [{**row, "monetary_text": money(row["monetary"]), "orders_text": format_count(row["frequency"]),
                       "recency_text": format_count(row["recency_days"]), "p_alive_text": format_percent(row["p_alive"]),
                       "clv_text": money(row["clv"])} for row in call_list(ws.store, as_of)],
        "predictions": predictions(ws, as_of, money),
        "lifecycle": lifecycle(ws, as_of, store_first),
        "buyer_types": ws.buyer_type_mix(as_of),
        "reorders": ws.reorders(as_of, limit=REORDERS_SHOWN)["due"],
    }


def lifecycle(ws, as_of: date, store_first: date) -> dict:
    """Customers per stage now, and the flow between stages over the last ``FLOW_MONTHS`` months."""
    counts = ws.lifecycle_counts(as_of)
    start = max(store_first, _months_before(as_of, FLOW_MONTHS))
    flow = ws.lifecycle_flow(start, as_of)["flow"] if start < as_of else []
    return {
        "stages": [{**row, "label": row["stage"].replace("_", " "), "customers_text": format_count(row["customers"]),
                    "share_text": format_percent(row["share"]), "vip_text": format_count(row["vip"])}
                   for row in counts],
        "since": start.isoformat(),
        "flow_chart": Markup(charts.stage_flow("chart-stage-flow", flow, start.isoformat(), as_of.isoformat()))
        if flow else None,
    }


def predictions(ws, as_of: date, money) -> dict | None:
    """The stored predictions for ``as_of``: the fit, totals, P(alive) histogram and backtest chart."""
    fit = ws.latest_fit(as_of)
    if fit is None:
        return None
    table = ws.store.table("customer_scores")
    mine = table.filter(table.as_of == as_of)
    totals = mine.aggregate(customers=mine.count(), orders=mine.expected_orders.sum(), value=mine.clv.sum(),
                            active=(mine.p_alive >= 0.5).sum()).to_pyarrow().to_pylist()[0]
    tenths = mine.mutate(tenth=(mine.p_alive * 10).floor().clip(upper=9).cast("int32"))
    counted = tenths.group_by("tenth").aggregate(customers=tenths.count()).to_pyarrow().to_pylist()
    by_tenth = {row["tenth"]: int(row["customers"]) for row in counted}
    bins = [{"low": i / 10, "customers": by_tenth.get(i, 0)} for i in range(10)]
    backtest = [r for r in (fit["backtest"] or []) if "error" not in r]
    return {
        "model": fit["model"], "title": _model_title(fit["model"]), "reason": fit["reason"],
        "horizon_days": fit["horizon_days"], "fitted_at": str(fit["fitted_at"])[:16],
        "expected_orders": format_count(round(totals["orders"] or 0)), "expected_value": money(totals["value"]),
        "active_share": format_percent((totals["active"] or 0) / totals["customers"]) if totals["customers"] else "n/a",
        "alive_chart": Markup(charts.alive_histogram("chart-alive", bins)),
        "tracking_chart": Markup(charts.tracking_chart("chart-tracking", backtest, fit["model"])) if backtest else None,
    }


def _tiles(kpis: dict, trend: list[dict], unit: str, currency: str | None) -> list[dict]:
    tiles = []
    for key, label, kind, hint in TILES:
        values = [None if row[key] is None else float(row[key]) for row in trend]
        texts = [format_value(row[key], kind, currency) + _partial(row, unit) for row in trend]
        raw = kpis[key]
        tiles.append({
            "key": key, "label": label, "hint": hint, "text": format_value(raw, kind, currency),
            "value": "" if raw is None else str(raw),
            "chart": Markup(charts.sparkline(f"spark-{key}", [row["period"] for row in trend], values, texts)),
        })
    return tiles


def _partial(row: dict, unit: str) -> str:
    """A note on a trend point whose period is cut short by the first or last order."""
    start = datetime(row["start"].year, row["start"].month, row["start"].day)
    if start != unit_start(start, unit):
        return f" (from {row['start'].isoformat()})"
    if row["end"] + timedelta(days=1) != next_unit_start(start, unit).date():
        return f" (to {row['end'].isoformat()})"
    return ""


# -- queries the data layer does not offer -------------------------------------------------
def revenue_concentration(store, as_of: date, points: int = CURVE_POINTS) -> list[tuple[float, float]]:
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


def call_list(store, as_of: date, limit: int = CALL_LIST_SIZE) -> list[dict]:
    """The customers most worth a call: high value but drifting away, biggest spenders first."""
    table = scores(store, as_of)
    drifting = table.filter(table.segment.isin(CALL_SEGMENTS))
    customers = store.table("customers").select("customer_id", "external_id", "name", "email", "phone")
    predicted = store.table("customer_scores")
    predicted = predicted.filter(predicted.as_of == as_of).select("customer_id", "p_alive", "clv")
    joined = drifting.join(customers, "customer_id").left_join(predicted, "customer_id")
    return joined.order_by([joined.monetary.desc(), joined.customer_id]).limit(limit).select(
        "customer_id", "external_id", "name", "email", "phone", "segment", "recency_days", "frequency", "monetary",
        "p_alive", "clv",
    ).to_pyarrow().to_pylist()


def _model_title(name: str) -> str:
    from retainly.models import PURCHASE_MODELS
    from retainly.models.heuristic import HeuristicModel

    return PURCHASE_MODELS[name].title + " model" if name in PURCHASE_MODELS else HeuristicModel.title


def _currency(store) -> str | None:
    """The shop's currency when all orders share one, else None (amounts then show bare)."""
    orders = store.table("orders")
    found = orders.filter(orders.currency.notnull()).select("currency").distinct().limit(2).to_pyarrow()
    return found.column("currency")[0].as_py() if found.num_rows == 1 else None


def _share_at(points: list[tuple[float, float]], share: float) -> float | None:
    """The curve's revenue share at ``share`` of customers, interpolated between steps."""
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= share <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (share - x0) / (x1 - x0)
    return None


def _months_before(day: date, months: int) -> date:
    """The day after the same day ``months`` months earlier (12 -> a year's worth of days, inclusive)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, candidate) + timedelta(days=1)
        except ValueError:
            continue
    raise AssertionError("unreachable")

