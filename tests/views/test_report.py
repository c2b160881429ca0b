"""The HTML report without a browser: self-contained, its engine queries, the empty store."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from markupsafe import escape

from retainly import Workspace
from retainly.services.reports import CALL_LIST_SIZE
from retainly.segments import call_list
from retainly.services.rfm import CURVE_POINTS
from retainly.views import report
from retainly.views.report_charts import plotly_js
from tests.conftest import generated_copy
from tests.features.kpi_shop import load_kpi_shop
from tests.features.model_shop import load_model_shop

# Every chart of a report on a shop with history enough for all of them, by div id.
CHARTS = {f"spark-{key}" for key, *_ in report.TILES} | {
    "chart-segments", "chart-retention", "chart-ltv", "chart-concentration",
    "chart-chance", "chart-tracking",  # predictions: the chance-to-order histogram and the backtest that chose the model
    "chart-stage-flow",  # lifecycle
}

# Attributes a browser fetches (or may fetch) while loading a page.
FETCHING = {"src", "href", "srcset", "poster", "data", "action", "background", "formaction", "xlink:href"}


class _References(HTMLParser):
    """Every URL-valued attribute, and the text of every <style> element."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.references: list[tuple[str, str, str]] = []
        self.styles: list[str] = []
        self.scripts = 0
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in FETCHING and value is not None:
                self.references.append((tag, name, value))
            if name == "style" and value and "url(" in value:
                self.styles.append(value)

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


@pytest.fixture(params=["duckdb", "postgres"])
def shop(request, tmp_path, store_templates):
    """On each engine, a store of its own holding ``generate(600, seed=5)``: a copy of a new store the
    shop was generated into once per session (tests/conftest.py), so each test starts from the shop alone."""
    with generated_copy(store_templates, request.param, 600, 5, tmp_path) as (url, _):
        ws = Workspace.open(url)
        yield ws
        ws.close()


def test_report_refers_to_nothing_outside_itself(shop, tmp_path):
    html = report.write_report(shop, tmp_path / "report.html").read_text(encoding="utf-8")
    found = _References()
    found.feed(html)
    remote = [ref for ref in found.references if ref[2].strip().lower().startswith(("http:", "https:", "//", "ftp:"))]
    assert remote == []
    assert not [ref for ref in found.references if ref[0] in ("script", "link", "img", "iframe")]
    assert not [style for style in found.styles if "url(" in style or "@import" in style]
    assert html.count(plotly_js()[:200]) == 1, "plotly.js must be embedded exactly once"
    own = html.replace(plotly_js(), "").lower()  # the page and its figures, without the library
    assert "mathjax" not in own and "topojson" not in own and "@font-face" not in own
    assert set(_plot_ids(html)) == CHARTS
    assert html.count("Plotly.newPlot(") == len(_plot_ids(html)) == len(CHARTS)


def _plot_ids(html: str) -> list[str]:
    return re.findall(r'<div id="([^"]+)" class="plotly-graph-div', html)


def _section(html: str, section_id: str) -> str:
    start = html.index(f'<section class="card" id="{section_id}"')
    return html[start:html.index("</section>", start)]


def test_report_has_the_predictions_section(shop, tmp_path):
    html = report.write_report(shop, tmp_path / "report.html").read_text(encoding="utf-8")
    as_of = shop.data.last_order_date()
    fit = shop.predictions.latest_fit(as_of)
    section = _section(html, "predictions")
    # The fit that made the stored scores: chosen by a backtest (600 customers, enough repeat buyers),
    # which the tracking chart shows beside the chance-to-order histogram.
    assert f'data-model="{fit.model}"' in section and fit.backtest
    assert str(escape(fit.reason)) in section
    assert _plot_ids(section) == ["chart-chance", "chart-tracking"]
    # The tiles are the stored scores' totals.
    scores = shop.predictions.scores(as_of).to_pandas()
    tiles = dict(re.findall(r'data-kpi="(\w+)"><div class="tile-label">[^<]*</div><div class="tile-value">([^<]*)<',
                            section))
    assert tiles["expected_orders"] == report.format_count(round(scores["expected_orders"].sum()))
    assert tiles["expected_value"] == str(escape(report.format_money(scores["clv"].sum(), "EUR")))
    assert tiles["likely_share"] == report.format_percent((scores["order_chance"] >= 0.5).mean())
    # The call list has the chance to order, expected and saveable value columns.
    call_list = _section(html, "call-list")
    assert ">Chance to order</th>" in call_list and ">Expected value</th>" in call_list
    assert ">Saveable value</th>" in call_list


def test_chance_histogram_counts_the_stored_scores(shop):
    as_of = shop.predictions.ensure()
    shown = report.predictions(shop.reports.data().shop.predictions, lambda value: report.format_money(value, "EUR"))
    scores = shop.predictions.scores(as_of).to_pandas()
    # The same tenths counted in Python: floor(10 p), with a chance of 1 in the last bin.
    tenths = (scores["order_chance"] * 10).astype(int).clip(upper=9)
    figure = str(shown["chance_chart"])
    counts = [int(value) for value in re.search(r'"y":\[([^\]]*)\]', figure).group(1).split(",")]
    assert counts == [int((tenths == i).sum()) for i in range(10)]
    assert sum(counts) == len(scores)


def test_predictions_without_a_backtest_say_why(workspace, tmp_path):
    # The model shop has 4 repeat buyers: heuristics, no backtest, so no tracking chart.
    html = report.write_report(load_model_shop(workspace), tmp_path / "report.html").read_text(encoding="utf-8")
    section = _section(html, "predictions")
    assert 'data-model="heuristic"' in section and "from the heuristic rules" in section
    assert _plot_ids(section) == ["chart-chance"]
    assert "No backtest chart" in section
    assert "4 repeat buyers, fewer than the 50 a model needs" in section


def test_concentration_curve_and_call_list_come_from_the_stored_scores(shop):
    as_of = shop.rfm.ensure()
    rows = shop.rfm.scores(as_of).to_pylist()
    monetary = sorted((float(r["monetary"]) for r in rows), reverse=True)
    points = [(p.customer_share, p.revenue_share) for p in shop.rfm.revenue_concentration(as_of)]
    assert points[0] == (0.0, 0.0)
    assert points[-1] == pytest.approx((1.0, 1.0))
    assert len(points) <= CURVE_POINTS + 1
    for share, revenue in points[1:]:
        top = round(share * len(rows))
        assert revenue == pytest.approx(sum(monetary[:top]) / sum(monetary))
    # The call list by its rule (retainly.segments.call_list), recomputed here from the stored stages
    # and scores in pandas: drifting stages, chance within the bounds, by CLV x (1 - chance).
    shop.lifecycle.ensure(as_of)
    stages = {row.customer_id: row.stage for row in shop.lifecycle.customers(as_of)}
    scores = shop.predictions.scores(as_of).to_pandas()
    scores["stage"] = scores["customer_id"].map(stages)
    scores["saveable"] = scores["clv"].fillna(0) * (1 - scores["order_chance"])
    eligible = scores[scores["stage"].isin(call_list.DRIFTING_STAGES)
                      & scores["order_chance"].between(call_list.MIN_CHANCE, call_list.MAX_CHANCE)
                      & (scores["saveable"] > 0)]
    expected = eligible.sort_values(["saveable", "customer_id"], ascending=[False, True]).head(CALL_LIST_SIZE)
    called = shop.lifecycle.call_list(as_of, CALL_LIST_SIZE)
    assert called and [r.customer_id for r in called] == expected["customer_id"].tolist()
    assert all(r.external_id for r in called)


def test_empty_store_gets_a_report_that_says_so(workspace, tmp_path):
    html = report.write_report(workspace, tmp_path / "empty.html").read_text(encoding="utf-8")
    assert "The store has no purchase orders yet" in html
    assert "retainly import --help" in html
    assert "Plotly.newPlot" not in html
    assert len(html) < 20_000


def test_report_refuses_a_missing_folder(shop, tmp_path):
    from retainly.errors import InputError

    with pytest.raises(InputError, match="does not exist"):
        report.write_report(shop, tmp_path / "nowhere" / "report.html")


@pytest.mark.parametrize(("value", "kind", "currency", "text"), [
    (1318, "count", None, "1,318"),
    (0.4611, "percent", None, "46.1\u00a0%"),
    (None, "percent", None, "n/a"),
    (63.01, "money", "EUR", "€63.01"),
    (327759.4, "money", "EUR", "€327,759"),
    (-12.5, "money", "GBP", "-£12.50"),
    (2_450_000, "money", "CHF", "2.45\u00a0M\u00a0CHF"),
    (9999.99, "money", None, "9,999.99"),
])
def test_numbers_are_formatted_for_people(value, kind, currency, text):
    assert report.format_value(value, kind, currency) == text


def test_retention_tiles_say_why_they_are_empty_or_warming_up(workspace, tmp_path):
    # The KPI shop's tiles cover all its history (Jan 5 to Mar 20, 2024, under a year): nobody was a
    # customer on Jan 5, so CRR and churn are n/a, and with the default 365-day window every period
    # (the tiles' and each month of the trend) starts less than a window after the first order.
    load_kpi_shop(workspace)
    html = report.write_report(workspace, tmp_path / "report.html").read_text(encoding="utf-8")
    note = "no customers at the period start; warming up: less than 365 days of orders before the period start"
    for key in report.RETENTION_TILES:
        start = html.index(f'data-kpi="{key}"')
        tile = html[start:html.index('<div class="tile-trend"', start)]
        assert 'data-warming-up="true"' in tile and '<div class="tile-value">n/a</div>' in tile
        assert f'<div class="tile-note">{note}</div>' in tile
    # The other tiles carry no note; each trend point of CRR and churn carries its month's note:
    # 3 months, and the last one again on the marker of the latest point, in each of the 2 sparklines.
    assert html.count('<div class="tile-note">') == len(report.RETENTION_TILES)
    assert html.count("warming up: less than 365 days of orders before the period start)") == (3 + 1) * 2
