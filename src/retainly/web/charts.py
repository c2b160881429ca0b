"""Charts on the pages: plotly.js served by the app itself, figures sent as JSON data.

The offline report embeds plotly.js inline (``retainly.views.report_charts``); the pages cannot,
since their Content-Security-Policy runs only scripts of this server. So the app serves the copy
of plotly.js that comes with the ``plotly`` package at ``/vendor/plotly.min.js`` (never a CDN),
each figure travels in a ``<script type="application/json">`` block (data, not code), and
``/static/charts.js`` draws every such block into the element it names.
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

from retainly.results import KpiRow
from retainly.services.measures import unit_start
from retainly.views.report_charts import ACCENT, FONT, GRID, INK, PRIMARY

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
    """A figure as JSON that is safe inside a ``<script>`` block (no ``</`` can end it early)."""
    figure.update_layout(template="none", font=dict(family=FONT, size=12, color=INK), paper_bgcolor="white",
                         plot_bgcolor="white")
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
