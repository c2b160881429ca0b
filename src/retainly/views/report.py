"""The offline HTML report: one self-contained file a shop owner opens in any browser.

A shell over the core: every figure comes from ``ws.reports.data()`` (a ``ReportData``;
``services/reports.py`` says where each comes from), and what the playbooks added from
``ws.experiments.effects`` as of the same day; this module only formats and lays them out. The page carries
plotly.js once, inline, and refers to nothing outside itself, so it opens offline and sends
no request.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from retainly.errors import InputError
from retainly.results import KpiRow, PredictionsOverview, ReportData, ShopOverview
from retainly.results.experiments import PlaybookEffect, ProgrammeEffect
from retainly.services.measures import next_unit_start, unit_start
from retainly.services.reports import TILE_MONTHS
from retainly.views import experiments as playbook_effects
from retainly.views import report_charts as charts
from retainly.workspace import Workspace

_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "JPY": "¥"}

# (KPI field, label, kind, what it means) — fields of ``KpiRow``.
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
# Tiles whose figures rest on the customers at the period start: they carry the row's retention note.
RETENTION_TILES = ("crr", "churn_rate")
WARN_SEGMENTS = ("Can't Lose Them", "At Risk")  # RFM segments of valuable customers drifting away: flagged


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
def write_report(ws: Workspace, path: str | Path) -> Path:
    """Render the report for the workspace's store and write it to ``path``; return the path."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"`out` {path} is a folder; name the HTML file to write, e.g. {path / 'report.html'}",
                         parameter="out")
    if not path.parent.exists():
        raise InputError(f"cannot write {path}: folder {path.parent} does not exist; create it or pick another `out`",
                         parameter="out")
    data = ws.reports.data()
    if data.shop is None:  # no orders: nothing to measure the playbooks with either
        _write_private(path, render_report(data))
    else:
        day = data.shop.as_of
        _write_private(path, render_report(data, ws.experiments.effects(as_of=day), ws.playbooks.list(),
                                           ws.experiments.programme(day)))
    return path


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600): the report names customers and
    their contacts. Written beside it first and then renamed over it, so a report that exists is whole
    and one written earlier with wider permissions does not keep them."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def render_report(data: ReportData, experiments: list[PlaybookEffect] | None = None, playbooks=(),
                  programme: ProgrammeEffect | None = None) -> str:
    """The report's HTML; ``experiments`` are the playbooks' effects (``playbooks`` their summaries),
    ``programme`` the whole programme against the global control group (None: no group)."""
    env = Environment(loader=PackageLoader("retainly.views", "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2").render(**report_context(data, experiments, playbooks, programme))


def report_context(data: ReportData, experiments: list[PlaybookEffect] | None = None, playbooks=(),
                   programme: ProgrammeEffect | None = None) -> dict:
    """Everything the template shows, formatted; ``empty`` when the store has no purchase orders."""
    from retainly import __version__

    base = {"store": data.store, "generated_at": datetime.now().strftime("%Y-%m-%d %H:%M"), "version": __version__}
    shop = data.shop
    if shop is None:
        return {**base, "empty": True}
    as_of, first, store_first, currency = shop.as_of, shop.first, shop.store_first, shop.currency
    money = lambda value: format_money(value, currency)  # noqa: E731
    segments = [row.to_dict() for row in shop.segments]
    points = [(p.customer_share, p.revenue_share) for p in shop.concentration]
    return {
        **base, "empty": False, "plotly_js": Markup(charts.plotly_js()),
        "as_of": as_of.isoformat(), "period": f"{first.isoformat()} to {as_of.isoformat()}",
        "lead": f"The last {TILE_MONTHS} months to {as_of.isoformat()}" if first > store_first
        else f"All history, {first.isoformat()} to {as_of.isoformat()}",
        "unit": shop.unit, "currency": currency,
        "window_days": shop.window_days,
        "summary": {"customers": format_count(shop.summary.customers), "orders": format_count(shop.summary.orders),
                    "first": shop.summary.first_order_at[:10], "last": shop.summary.last_order_at[:10]},
        "tiles": _tiles(shop.kpis, shop.trend, shop.unit, currency),
        "segments": [{**row, "customers_text": format_count(row["customers"]),
                      "revenue_share_text": format_percent(row["revenue_share"])} for row in segments],
        "segments_chart": Markup(charts.segment_bars("chart-segments", segments)) if segments else None,
        "retention_chart": Markup(charts.cohort_heatmap("chart-retention", _dicts(shop.retention), shop.unit))
        if shop.retention else None,
        "ltv_chart": Markup(charts.ltv_curves("chart-ltv", _dicts(shop.ltv), shop.unit, money)) if shop.ltv else None,
        "concentration_chart": Markup(charts.concentration_curve("chart-concentration", points, shop.top20_share))
        if len(points) > 1 else None,
        "top_share": format_percent(shop.top20_share),
        "warn_segments": WARN_SEGMENTS,
        "call_list": [{**row.to_dict(), "monetary_text": money(row.monetary), "orders_text": format_count(row.frequency),
                       "recency_text": format_count(row.recency_days), "stage_text": row.stage.replace("_", " "),
                       "chance_text": format_percent(row.order_chance), "clv_text": money(row.clv),
                       "saveable_text": money(row.saveable_value)} for row in shop.call_list],
        "call_window_days": shop.predictions.totals.order_window_days if shop.predictions else None,
        "predictions": predictions(shop.predictions, money),
        "lifecycle": lifecycle(shop),
        "buyer_types": shop.buyer_types,
        "reorders": shop.reorders,
        "nps": shop.nps, "nps_trend": shop.nps_trend,
        "experiments": {**added_by_playbooks(experiments or [], playbooks, money),
                        "programme": playbook_effects.programme_described(programme, money)},
    }


def added_by_playbooks(effects: list[PlaybookEffect], playbooks, money) -> dict:
    """What the playbooks added: a row per playbook, the forest chart of those with a verdict, and
    whether any playbook has customers to compare at all."""
    rows = playbook_effects.described_all(effects, money, playbooks)
    points = playbook_effects.chart_rows(rows)
    return {"rows": rows, "enrolled": playbook_effects.any_enrolled(effects),
            "as_of": effects[0].as_of.isoformat() if effects else None,
            "chart": Markup(charts.forest("chart-experiments", points, money)) if points else None}


def lifecycle(shop: ShopOverview) -> dict:
    """Customers per stage now, and the flow between stages since ``flow_since``."""
    flow = _dicts(shop.flow)
    return {
        "stages": [{**row.to_dict(), "label": row.stage.replace("_", " "), "customers_text": format_count(row.customers),
                    "share_text": format_percent(row.share), "vip_text": format_count(row.vip)}
                   for row in shop.stages],
        "since": shop.flow_since.isoformat(),
        "flow_chart": Markup(charts.stage_flow("chart-stage-flow", flow, shop.flow_since.isoformat(),
                                               shop.as_of.isoformat())) if flow else None,
    }


def predictions(overview: PredictionsOverview | None, money) -> dict | None:
    """The stored predictions: the fit, totals, the chance-to-order histogram and the backtest chart."""
    if overview is None:
        return None
    fit, totals = overview.fit, overview.totals
    backtest = [r for r in (fit.backtest or []) if "error" not in r]
    return {
        "model": fit.model, "title": overview.model_title, "reason": fit.reason,
        "horizon_days": fit.horizon_days, "fitted_at": str(fit.fitted_at)[:16],
        "expected_orders": format_count(round(totals.expected_orders)), "expected_value": money(totals.clv),
        "window_days": totals.order_window_days,
        "likely_share": format_percent(totals.likely_buyers / totals.customers) if totals.customers else "n/a",
        "expected_buyers": format_count(round(totals.expected_buyers)),
        "chance_chart": Markup(charts.chance_histogram("chart-chance", _dicts(overview.chance_bins),
                                                       totals.order_window_days)),
        "tracking_chart": Markup(charts.tracking_chart("chart-tracking", backtest, fit.model)) if backtest else None,
    }


def _tiles(kpis: KpiRow, trend: list[KpiRow], unit: str, currency: str | None) -> list[dict]:
    tiles = []
    for key, label, kind, hint in TILES:
        values = [None if getattr(row, key) is None else float(getattr(row, key)) for row in trend]
        retention = key in RETENTION_TILES
        texts = [format_value(getattr(row, key), kind, currency) + _partial(row, unit)
                 + (f" ({row.retention_note})" if retention and row.retention_note else "") for row in trend]
        raw = getattr(kpis, key)
        tiles.append({
            "key": key, "label": label, "hint": hint, "text": format_value(raw, kind, currency),
            "value": "" if raw is None else str(raw),
            "note": kpis.retention_note if retention else None, "warming_up": retention and kpis.warming_up,
            "chart": Markup(charts.sparkline(f"spark-{key}", [row.period for row in trend], values, texts)),
        })
    return tiles


def _partial(row: KpiRow, unit: str) -> str:
    """A note on a trend point whose period is cut short by the first or last order."""
    start = datetime(row.start.year, row.start.month, row.start.day)
    if start != unit_start(start, unit):
        return f" (from {row.start.isoformat()})"
    if row.end + timedelta(days=1) != next_unit_start(start, unit).date():
        return f" (to {row.end.isoformat()})"
    return ""


def _dicts(results) -> list[dict]:
    return [row.to_dict() for row in results]
