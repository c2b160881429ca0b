"""The report's Plotly figures, each as an HTML fragment without plotly.js (and, for the web
pages, as the figure itself: ``*_figure``).

The report embeds plotly.js once (``plotly_js``); every fragment here only calls
``Plotly.newPlot``. Figures use one small template (system fonts, the palette below) so the
page looks of a piece, and none uses MathJax, maps or web fonts: nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.offline import get_plotlyjs

FONT = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
INK, MUTED, GRID = "#1f2937", "#6b7280", "#e5e7eb"
PRIMARY, PRIMARY_LIGHT, ACCENT = "#2563eb", "#93c5fd", "#f59e0b"
HEAT_SCALE = [[0.0, "#f8fafc"], [0.25, "#dbeafe"], [0.5, "#93c5fd"], [0.75, "#3b82f6"], [1.0, "#1e3a8a"]]

_TEMPLATE = go.layout.Template(layout=dict(
    font=dict(family=FONT, size=12, color=INK),
    paper_bgcolor="white", plot_bgcolor="white",
    hoverlabel=dict(font=dict(family=FONT, size=12), bgcolor="white", bordercolor=GRID),
    xaxis=dict(gridcolor=GRID, linecolor=GRID, zerolinecolor=GRID, automargin=True, ticks=""),
    yaxis=dict(gridcolor=GRID, linecolor=GRID, zerolinecolor=GRID, automargin=True, ticks=""),
    legend=dict(font=dict(size=11)),
    colorway=[PRIMARY, ACCENT, "#10b981", "#8b5cf6", "#ef4444"],
))
_CONFIG = {"displaylogo": False, "responsive": True,
           "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"]}
_SPARK_CONFIG = {"displayModeBar": False, "responsive": True}


def plotly_js() -> str:
    """plotly.js itself, to embed once in the page."""
    return get_plotlyjs()


def _styled(fig: go.Figure, height: int) -> go.Figure:
    """``fig`` in the report's look, ``height`` pixels tall: the figure the web pages draw as JSON."""
    return fig.update_layout(template=_TEMPLATE, height=height)


def _html(fig: go.Figure, div_id: str, height: int, config: dict = _CONFIG) -> str:
    fig.update_layout(template=_TEMPLATE, height=height)
    return fig.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False, div_id=div_id,
                       config=config, default_width="100%", default_height=f"{height}px")


def sparkline(div_id: str, labels: Sequence[str], values: Sequence[float | None],
              texts: Sequence[str], color: str = PRIMARY) -> str:
    """A small trend line for a KPI tile: no axes, the last point marked, values on hover."""
    last = max((i for i, v in enumerate(values) if v is not None), default=None)
    fig = go.Figure(go.Scatter(
        x=list(labels), y=list(values), mode="lines", line=dict(color=color, width=2, shape="spline", smoothing=0.6),
        fill="tozeroy", fillcolor="rgba(37, 99, 235, 0.08)", text=list(texts), hovertemplate="%{x}: %{text}<extra></extra>",
        connectgaps=False,
    ))
    if last is not None:
        fig.add_trace(go.Scatter(x=[labels[last]], y=[values[last]], mode="markers", marker=dict(color=color, size=6),
                                 text=[texts[last]], hovertemplate="%{x}: %{text}<extra></extra>"))
    present = [v for v in values if v is not None]
    low, high = (min(present), max(present)) if present else (0, 1)
    pad = (high - low) * 0.15 or abs(high) * 0.1 or 1
    fig.update_layout(showlegend=False, margin=dict(l=2, r=6, t=4, b=2),
                      xaxis=dict(visible=False, fixedrange=True),
                      yaxis=dict(visible=False, fixedrange=True, range=[min(0, low - pad), high + pad]))
    return _html(fig, div_id, 56, _SPARK_CONFIG)


def segment_bars(div_id: str, segments: Sequence[dict]) -> str:
    fig = segment_figure(segments)
    return _html(fig, div_id, fig.layout.height)


def segment_figure(segments: Sequence[dict]) -> go.Figure:
    """Share of customers next to share of revenue, one pair of bars per segment (best on top)."""
    names = [row["segment"] for row in segments][::-1]
    fig = go.Figure()
    for key, label, color in (("customer_share", "share of customers", PRIMARY_LIGHT),
                              ("revenue_share", "share of revenue", PRIMARY)):
        shares = [row[key] or 0 for row in segments][::-1]
        fig.add_trace(go.Bar(
            y=names, x=shares, name=label, orientation="h", marker=dict(color=color),
            text=[f"{s:.0%}" for s in shares], textposition="outside", cliponaxis=False,
            hovertemplate="%{y}: %{x:.1%} of " + label.split(" of ")[1] + "<extra></extra>",
        ))
    fig.update_layout(
        barmode="group", bargap=0.25, bargroupgap=0.05, margin=dict(l=10, r=30, t=10, b=30),
        xaxis=dict(tickformat=".0%", rangemode="tozero"), yaxis=dict(gridcolor="rgba(0,0,0,0)", ticksuffix="  "),
        legend=dict(orientation="h", x=0, y=-0.06, yanchor="top", traceorder="reversed"),
    )
    return _styled(fig, max(320, 46 * len(names) + 80))


def cohort_heatmap(div_id: str, cohorts: Sequence[dict], unit: str) -> str:
    fig = cohort_figure(cohorts, unit)
    return _html(fig, div_id, fig.layout.height)


def cohort_figure(cohorts: Sequence[dict], unit: str) -> go.Figure:
    """Share of each cohort buying again k periods after its first order."""
    width = max(len(row["values"]) for row in cohorts)
    z = [row["values"] + [None] * (width - len(row["values"])) for row in cohorts]
    later = [v for row in cohorts for v in row["values"][1:] if v is not None]
    fig = go.Figure(go.Heatmap(
        z=z, x=[f"+{k}" for k in range(width)], y=[row["cohort"] for row in cohorts],
        customdata=[[row["customers"]] * width for row in cohorts],
        colorscale=HEAT_SCALE, zmin=0, zmax=max(later, default=1) or 1, xgap=1, ygap=1,
        hovertemplate="cohort %{y} (%{customdata:,} customers)<br>%{x} " + unit + "s: %{z:.1%} bought<extra></extra>",
        texttemplate="%{z:.0%}" if width <= 16 else None, textfont=dict(size=10),
        colorbar=dict(tickformat=".0%", thickness=12, outlinewidth=0, title=dict(text="bought", side="top")),
    ))
    fig.update_layout(
        margin=dict(l=10, r=10, t=10, b=40),
        xaxis=dict(title=dict(text=f"{unit}s since the first order"), side="bottom", showgrid=False, type="category",
                   dtick=1 if width <= 16 else 3),
        yaxis=dict(title=dict(text=f"cohort (first {unit})"), autorange="reversed", showgrid=False, type="category"),
    )
    return _styled(fig, max(360, min(26 * len(cohorts) + 90, 900)))


def ltv_curves(div_id: str, cohorts: Sequence[dict], unit: str, money: Callable[[float], str]) -> str:
    return _html(ltv_figure(cohorts, unit, money), div_id, 400)


def ltv_figure(cohorts: Sequence[dict], unit: str, money: Callable[[float], str]) -> go.Figure:
    """Cumulative net revenue per customer of each cohort, older cohorts darker."""
    colors = sample_colorscale("Blues", [0.35 + 0.6 * (1 - i / max(len(cohorts) - 1, 1)) for i in range(len(cohorts))])
    longest = max(len(row["values"]) for row in cohorts)
    fig = go.Figure()
    for row, color in zip(cohorts, colors):
        fig.add_trace(go.Scatter(
            x=list(range(len(row["values"]))), y=row["values"], name=row["cohort"],
            mode="lines" if len(row["values"]) > 1 else "markers", line=dict(color=color, width=2),
            marker=dict(color=color, size=6), text=[money(v) for v in row["values"]],
            hovertemplate=f"cohort {row['cohort']}<br>+%{{x}} {unit}s: %{{text}} per customer<extra></extra>",
        ))
    fig.update_layout(
        showlegend=len(cohorts) <= 16, legend=dict(title=dict(text="cohort"), tracegroupgap=0),
        margin=dict(l=10, r=10, t=10, b=40), hovermode="closest",
        xaxis=dict(title=dict(text=f"{unit}s since the first order"), dtick=1 if longest <= 13 else 3,
                   range=[-0.3, longest - 0.7], zeroline=False),
        yaxis=dict(title=dict(text="net revenue per customer"), rangemode="tozero", tickformat="~s"),
    )
    return _styled(fig, 400)


def concentration_curve(div_id: str, points: Sequence[tuple[float, float]], top_share: float | None) -> str:
    return _html(concentration_figure(points, top_share), div_id, 400)


def concentration_figure(points: Sequence[tuple[float, float]], top_share: float | None) -> go.Figure:
    """Lorenz-style curve: cumulative share of revenue by share of customers, biggest spenders first."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    fig = go.Figure([
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="every customer spends the same",
                   line=dict(color=MUTED, dash="dot", width=1), hoverinfo="skip"),
        go.Scatter(x=xs, y=ys, mode="lines", name="this shop", line=dict(color=PRIMARY, width=3),
                   fill="tonexty", fillcolor="rgba(37, 99, 235, 0.08)",
                   hovertemplate="top %{x:.0%} of customers: %{y:.1%} of revenue<extra></extra>"),
    ])
    if top_share is not None:
        fig.add_trace(go.Scatter(x=[0.2], y=[top_share], mode="markers", marker=dict(color=ACCENT, size=10),
                                 showlegend=False, hovertemplate="top 20 %: %{y:.1%} of revenue<extra></extra>"))
        fig.add_annotation(x=0.2, y=top_share, text=f"top 20 % of customers: {top_share:.0%} of revenue",
                           showarrow=True, arrowhead=0, ax=120, ay=24, font=dict(color=INK),
                           bgcolor="white", bordercolor=GRID)
    fig.update_layout(
        margin=dict(l=10, r=10, t=10, b=40),
        legend=dict(x=0.98, y=0.04, xanchor="right", yanchor="bottom", bgcolor="rgba(255,255,255,0.85)"),
        xaxis=dict(title=dict(text="share of customers, biggest spenders first"), tickformat=".0%", range=[0, 1]),
        yaxis=dict(title=dict(text="share of revenue"), tickformat=".0%", rangemode="tozero"),
    )
    return _styled(fig, 400)


def chance_histogram(div_id: str, bins: Sequence[dict], window_days: int | None) -> str:
    return _html(chance_figure(bins, window_days), div_id, 340)


def chance_figure(bins: Sequence[dict], window_days: int | None) -> go.Figure:
    """Customers per tenth of their chance to order within the window: how many will come back soon."""
    window = f"{window_days} days" if window_days else "the window"
    fig = go.Figure(go.Bar(
        x=[f"{row['low']:.1f}–{row['low'] + 0.1:.1f}" for row in bins], y=[row["customers"] for row in bins],
        marker_color=[PRIMARY if row["low"] >= 0.5 else ACCENT for row in bins],
        hovertemplate="chance to order %{x}: %{y:,} customers<extra></extra>",
    ))
    fig.update_layout(margin=dict(l=10, r=10, t=10, b=40), bargap=0.15,
                      xaxis=dict(title=dict(text=f"chance to order within {window}"), type="category"),
                      yaxis=dict(title=dict(text="customers"), tickformat="~s"))
    return _styled(fig, 340)


def tracking_chart(div_id: str, results: Sequence[dict], chosen: str) -> str:
    return _html(tracking_figure(results, chosen), div_id, 380)


def tracking_figure(results: Sequence[dict], chosen: str) -> go.Figure:
    """Cumulative purchases in a backtest holdout: what happened against what each model predicted."""
    fitted = [r for r in results if r.get("tracking")]
    dates = [row["date"] for row in fitted[0]["tracking"]]
    fig = go.Figure([go.Scatter(x=dates, y=[row["actual"] for row in fitted[0]["tracking"]], name="actual",
                                mode="lines", line=dict(color=INK, width=3),
                                hovertemplate="%{x}: %{y:,.0f} purchases<extra>actual</extra>")])
    for result in fitted:
        ours = result["model"] == chosen
        fig.add_trace(go.Scatter(
            x=dates, y=[row["predicted"] for row in result["tracking"]],
            name=result["model"] + (" (chosen)" if ours else ""), mode="lines",
            line=dict(width=3 if ours else 1.5, dash=None if ours else "dot"),
            hovertemplate="%{x}: %{y:,.0f} predicted<extra>" + result["model"] + "</extra>"))
    fig.update_layout(margin=dict(l=10, r=10, t=10, b=40), hovermode="x unified",
                      legend=dict(x=0.02, y=0.98, bgcolor="rgba(255,255,255,0.85)"),
                      yaxis=dict(title=dict(text="cumulative repeat purchases (days)"), tickformat="~s", rangemode="tozero"))
    return _styled(fig, 380)


STAGE_COLORS = {"(not a customer yet)": "#d1d5db", "new": "#8b5cf6", "active": "#10b981", "won_back": "#2563eb",
                "at_risk": "#f59e0b", "lapsed": "#f97316", "lost": "#ef4444"}


def stage_flow(div_id: str, flow: Sequence[dict], first: str, last: str) -> str:
    return _html(stage_flow_figure(flow, first, last), div_id, 420)


def stage_flow_figure(flow: Sequence[dict], first: str, last: str) -> go.Figure:
    """A Sankey diagram: customers by stage at ``first`` (left) flowing to their stage at ``last`` (right)."""
    order = list(STAGE_COLORS)
    sources = [s for s in order if any(f["from_stage"] == s for f in flow)]
    targets = [s for s in order if any(f["to_stage"] == s for f in flow)]
    labels = [f"{s.replace('_', ' ')} ({first})" for s in sources] + [f"{s.replace('_', ' ')} ({last})" for s in targets]
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node=dict(label=labels, pad=14, thickness=14, line=dict(width=0),
                  color=[STAGE_COLORS[s] for s in sources] + [STAGE_COLORS[s] for s in targets]),
        link=dict(source=[sources.index(f["from_stage"]) for f in flow],
                  target=[len(sources) + targets.index(f["to_stage"]) for f in flow],
                  value=[f["customers"] for f in flow],
                  color=["rgba(156, 163, 175, 0.35)"] * len(flow),
                  hovertemplate="%{source.label} → %{target.label}: %{value:,} customers<extra></extra>"),
    ))
    fig.update_layout(margin=dict(l=10, r=10, t=10, b=10))
    return _styled(fig, 420)


def forest(div_id: str, rows: Sequence[dict], money: Callable[[float], str], bootstrap: bool = False) -> str:
    fig = forest_figure(rows, money, bootstrap)
    return _html(fig, div_id, fig.layout.height)


def forest_figure(rows: Sequence[dict], money: Callable[[float], str], bootstrap: bool = False) -> go.Figure:
    """A forest plot: each playbook's difference per customer (treated less held out) as a point, its
    95 % range as a horizontal bar (``bootstrap``: the bootstrap's range as a second bar below it),
    and a line at zero; a bar clear of the line is an effect. The first row is drawn on top."""
    places = [len(rows) - 1 - i for i in range(len(rows))]

    def bars(low: str, high: str, shift: float) -> tuple[list, list]:
        xs, ys = [], []
        for row, y in zip(rows, places):
            xs += [row[low], row[high], None]  # None: the next bar is a line of its own
            ys += [y + shift, y + shift, None]
        return xs, ys

    xs, ys = bars("low", "high", 0.0)
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines", name="95 % range", line=dict(color=PRIMARY, width=4),
                               hoverinfo="skip"))
    if bootstrap:
        xs, ys = bars("bootstrap_low", "bootstrap_high", -0.25)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="bootstrap's 95 % range", hoverinfo="skip",
                                 line=dict(color=ACCENT, width=3, dash="dot")))
    fig.add_trace(go.Scatter(
        x=[row["difference"] for row in rows], y=places, mode="markers", name="difference per customer",
        marker=dict(color=INK, size=10, symbol="diamond"), customdata=[[row["playbook"]] for row in rows],
        text=[f"{row['label']}: {money(row['difference'])} per customer (95 % range {money(row['low'])} to "
              f"{money(row['high'])})" for row in rows], hovertemplate="%{text}<extra></extra>"))
    ends = [0.0] + [row[key] for row in rows for key in ("low", "high", "bootstrap_low", "bootstrap_high")
                    if (bootstrap or not key.startswith("bootstrap")) and row[key] is not None]
    pad = (max(ends) - min(ends)) * 0.08 or 1.0
    fig.add_vline(x=0, line=dict(color=MUTED, width=1.5, dash="dash"))
    fig.update_layout(
        margin=dict(l=10, r=20, t=30, b=40), showlegend=True,
        legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"),
        xaxis=dict(title=dict(text="spent per customer, treated less held out"), zeroline=False,
                   range=[min(ends) - pad, max(ends) + pad]),
        yaxis=dict(tickvals=places, ticktext=[row["label"] for row in rows], range=[-0.7, len(rows) - 0.3],
                   showgrid=False, zeroline=False, ticksuffix="  "),
    )
    return _styled(fig, max(260, 120 + 48 * len(rows)))
