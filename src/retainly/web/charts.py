"""Charts on the pages: plotly.js served by the app itself, figures sent as JSON data.

The offline report embeds plotly.js inline (``retainly.views.report_charts``); the pages cannot,
since their Content-Security-Policy runs only scripts of this server. So the app serves the copy
of plotly.js that comes with the ``plotly`` package at ``/vendor/plotly.min.js`` (never a CDN),
each figure travels in a ``<script type="application/json">`` block (data, not code), and
``/static/charts.js`` draws every such block into the element it names.

The report's charts are its own figure builders (``report_charts.*_figure``) fed with the results
of the service calls the pages make, which are those of their JSON twins.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import plotly
import plotly.graph_objects as go
import plotly.io as pio
from fastapi import APIRouter
from fastapi.responses import FileResponse
from markupsafe import Markup

from retainly.results import (AliveBin, CohortRow, FitRecord, KpiRow, LifecycleFlow, RevenueConcentration, SegmentRow,
                              StageCount)
from retainly.services.measures import unit_start
from retainly.views import report_charts
from retainly.views.report import format_money
from retainly.views.report_charts import ACCENT, FONT, GRID, INK, PRIMARY, STAGE_COLORS

router = APIRouter(include_in_schema=False)
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
TREND_MONTHS = 12


@router.get("/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    """plotly.js from the installed plotly package; it changes only with the package, so it may be cached."""
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})


def trend_start(last: date) -> date:
    """The first day of the month ``TREND_MONTHS - 1`` months before ``last``'s: a year of months to ``last``."""
    index = last.year * 12 + last.month - 1 - (TREND_MONTHS - 1)
    return unit_start(datetime(index // 12, index % 12 + 1, 1), "month").date()


def figure_json(figure: go.Figure) -> Markup:
    """A figure of this module as JSON in the pages' look (plotly's own template left out)."""
    figure.update_layout(template="none", font=dict(family=FONT, size=12, color=INK), paper_bgcolor="white",
                         plot_bgcolor="white")
    return _json(figure)


def _json(figure: go.Figure) -> Markup:
    """A figure as JSON that is safe inside a ``<script>`` block (no ``</`` can end it early)."""
    return Markup(pio.to_json(figure, validate=False).replace("</", "<\\/"))


def sales_trend(rows: list[KpiRow]) -> Markup:
    """Sales per month as bars, customers who bought as a line on the right-hand axis."""
    months = [row.period for row in rows]
    most = max((row.customers for row in rows), default=0)
    step = max(1, -(-most // 4))  # whole customers on the axis: about four steps, never a fraction
    figure = go.Figure()
    figure.add_trace(go.Bar(x=months, y=[float(row.revenue) for row in rows], name="Sales",
                            marker=dict(color=PRIMARY), hovertemplate="%{x}: %{y:,.2f}<extra>Sales</extra>"))
    figure.add_trace(go.Scatter(x=months, y=[row.customers for row in rows], name="Customers who bought",
                                yaxis="y2", mode="lines+markers", line=dict(color=ACCENT, width=2),
                                hovertemplate="%{x}: %{y}<extra>Customers who bought</extra>"))
    figure.update_layout(height=280, margin=dict(l=50, r=50, t=10, b=40), legend=dict(orientation="h", y=-0.2),
                         xaxis=dict(type="category", gridcolor=GRID),
                         yaxis=dict(title="Sales", gridcolor=GRID, rangemode="tozero"),
                         yaxis2=dict(title="Customers", overlaying="y", side="right", rangemode="tozero",
                                     showgrid=False, tick0=0, dtick=step))
    return figure_json(figure)


# The report's charts, in the report's look (its figures carry their own small template).
def segments(rows: list[SegmentRow]) -> Markup:
    return _json(report_charts.segment_figure([row.to_dict() for row in rows]))


def returning(rows: list[CohortRow], unit: str) -> Markup:
    figure = report_charts.cohort_figure([row.to_dict() for row in rows], unit)
    return _json(_without_cohorts(figure.update_yaxes(title_text=f"first {unit}"), unit))


def customer_value(rows: list[CohortRow], unit: str, currency: str | None) -> Markup:
    figure = report_charts.ltv_figure([row.to_dict() for row in rows], unit,
                                      lambda value: format_money(value, currency))
    return _json(_without_cohorts(figure.update_layout(legend_title_text=f"first {unit}"), unit))


def _without_cohorts(figure: go.Figure, unit: str) -> go.Figure:
    """The report's hover texts say "cohort"; the owner's pages say when the customers first bought."""
    for trace in figure.data:
        trace.hovertemplate = trace.hovertemplate.replace("cohort ", f"first {unit} ")
    return figure


def order_chances(bins: list[AliveBin], window_days: int | None) -> Markup:
    return _json(report_charts.chance_figure([row.to_dict() for row in bins], window_days))


def backtest_tracking(fit: FitRecord) -> Markup | None:
    """The backtest's purchases, actual and predicted by each model; None without a backtest to draw."""
    fitted = [row for row in fit.backtest or [] if "error" not in row and row.get("tracking")]
    return _json(report_charts.tracking_figure(fitted, fit.model)) if fitted else None


def concentration(found: RevenueConcentration) -> Markup:
    points = [(point.customer_share, point.revenue_share) for point in found.points]
    return _json(report_charts.concentration_figure(points, found.top20_share))


def stage_flow(found: LifecycleFlow) -> Markup:
    """Customers by stage at the flow's first day flowing to their stage at its last."""
    return _json(report_charts.stage_flow_figure([cell.to_dict() for cell in found.flow], found.first.isoformat(),
                                                 found.last.isoformat()))


def stages(rows: list[StageCount]) -> Markup:
    """Customers per lifecycle stage, in the stages' order, in the stage flow's colours."""
    names = [row.stage.replace("_", " ") for row in rows]
    step = max(1, -(-max((row.customers for row in rows), default=0) // 4))  # whole customers on the axis
    figure = go.Figure(go.Bar(x=names, y=[row.customers for row in rows],
                              marker=dict(color=[STAGE_COLORS.get(row.stage, PRIMARY) for row in rows]),
                              hovertemplate="%{x}: %{y:,} customers<extra></extra>"))
    figure.update_layout(height=300, margin=dict(l=50, r=10, t=10, b=40), bargap=0.3,
                         xaxis=dict(type="category"),
                         yaxis=dict(title="customers", gridcolor=GRID, rangemode="tozero", tick0=0, dtick=step))
    return figure_json(figure)


def playbook_effects(rows: list[dict], currency: str | None, bootstrap: bool = False) -> Markup:
    """The experiments' forest chart (``report_charts.forest_figure``) of ``views.experiments.chart_rows``."""
    return _json(report_charts.forest_figure(rows, lambda value: format_money(value, currency), bootstrap))
