"""The Overview's second page, /overview/charts: the offline report's charts, each drawn from the
service call of its JSON twin, on the hand-checked KPI shop (tests/web/conftest.py) on each engine.

Each chart sits in a section whose ``data-twin`` names its API call; the section's figures are
marked with ``data-field``/``data-value`` and its chart travels as a JSON block. The tests ask the
API itself for each twin: the marks and the chart's data must both be the twin's, and the
figures are also checked against hand counts of the shop. In Chromium every chart is drawn (an
svg each) under the page's Content-Security-Policy, with no console error and no violation.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from tests.web.conftest import watched_page
from tests.web.test_login import Visitor, add_user
from tests.web.test_pages_browser import CHROMIUM, analyst, at  # noqa: F401 (analyst: a fixture)

CHARTS = ("segments", "returning", "value", "chances", "stages", "concentration", "flow")
# Jargon the owner's pages leave to the analysts' Models page.
JARGON = ("RMSE", "AUC", "Brier", "RFM", "CLV", "LTV", "cohort", "P(alive)", "likelihood", "backtest")


class Sections(HTMLParser):
    """The page's twins in order: {twin: {"marks": [(field, value)], "charts": {id: figure}}}; a
    mark or chart belongs to the last ``data-twin`` opened before it (the sections follow each other)."""

    def __init__(self):
        super().__init__()
        self.sections: dict[str, dict] = {}
        self._twin: str | None = None
        self._figure: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if "data-twin" in found:
            self._twin = found["data-twin"]
            self.sections[self._twin] = {"marks": [], "charts": {}}
        if "data-field" in found:
            self.sections[self._twin]["marks"].append((found["data-field"], found["data-value"]))
        if tag == "script" and "chart-figure" in found.get("class", ""):
            self._figure, self._text = found["data-target"], []

    def handle_data(self, data):
        if self._figure:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._figure:
            self.sections[self._twin]["charts"][self._figure] = json.loads("".join(self._text))
            self._figure = None


def sections_of(html: str) -> dict[str, dict]:
    found = Sections()
    found.feed(html)
    return found.sections


def twin_answer(api, twin: str) -> dict:
    answer = api.get(twin.removeprefix("/api/v1"))
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
def page(analyst):  # noqa: F811 (the fixture imported above)
    answer = analyst.client.get("/overview/charts")
    assert answer.status_code == 200, answer.text
    return answer.text


def test_every_figure_of_the_charts_page_is_its_twins(api, page):
    sections = sections_of(page)
    assert list(sections) == ["/api/v1/rfm/segments?as_of=2024-03-20", "/api/v1/cohorts?by=month&metric=customers",
                              "/api/v1/cohorts?by=month&metric=revenue", "/api/v1/predictions?as_of=2024-03-20",
                              "/api/v1/lifecycle?as_of=2024-03-20", "/api/v1/rfm/concentration?as_of=2024-03-20",
                              "/api/v1/lifecycle/flow?first=2024-01-05&last=2024-03-20"]
    checked = {}
    for twin, section in sections.items():
        answer = twin_answer(api, twin)
        for field, value in section["marks"]:
            assert json.loads(value) == at(answer, field), (twin, field)
        checked[twin.split("?")[0].removeprefix("/api/v1/")] = len(section["marks"])
    # Segments: 5 rows of 4 figures. Who comes back: 3 first months of 2 figures, and the next month's
    # share of the two that have one. Value: 3 rows of 3. Orders soon: 5 figures and 10 bins of 2.
    # Stages: 3 stages of 4 figures. Concentration: the top 20 %'s share and 6 points of 2 (from (0, 0),
    # then each of the 5 customers). Flow: its two days and the cells of 3 figures.
    flow = twin_answer(api, "/api/v1/lifecycle/flow?first=2024-01-05&last=2024-03-20")["flow"]
    assert checked == {"rfm/segments": 20, "cohorts": 9, "predictions": 25, "lifecycle/flow": 2 + 3 * len(flow),
                       "lifecycle": 12, "rfm/concentration": 13}
    assert len(sections["/api/v1/cohorts?by=month&metric=customers"]["marks"]) == 8


def test_each_chart_draws_its_twins_figures(api, page):
    """By hand, as of 2024-03-20 (the shop in tests/web/conftest.py): each customer's net sales are
    A 100 + 50 + 150 - 30 = 270, B 200, C 80 + 120 = 200, D 60 + 90 = 150 (the 500 cancelled), E 40,
    860 in all, and the five fall in five different groups. First bought in January: A and B; in
    February: C and D; in March: E. Of A and B none bought in February and A in March (0, 0.5); of C
    and D, D in March (0.5). Per customer and added up: January's (100 + 50 + 200) / 2 = 175,
    February still 175, March 175 + (150 - 30) / 2 = 235; February's (80 + 120 + 60) / 2 = 130, then
    130 + 90 / 2 = 175; March's 40. New (a first order less than 60 days before): C, D and E."""
    charts = {}
    answers = {}
    for twin, section in sections_of(page).items():
        for target, figure in section["charts"].items():
            charts[target.removeprefix("chart-")] = figure
            answers[target.removeprefix("chart-")] = twin_answer(api, twin)
    assert tuple(charts) == CHARTS

    segments = answers["segments"]["items"]
    customers, sales = charts["segments"]["data"]
    assert customers["y"] == sales["y"] == [row["segment"] for row in segments][::-1]  # the best on top
    assert customers["x"] == [row["customer_share"] for row in segments][::-1] == [0.2] * 5
    assert sales["x"] == [row["revenue_share"] for row in segments][::-1]
    assert sorted(sales["x"]) == [round(amount / 860, 4) for amount in (40, 150, 200, 200, 270)]

    cohorts = answers["returning"]["items"]
    (heatmap,) = charts["returning"]["data"]
    assert heatmap["y"] == [row["cohort"] for row in cohorts] == ["2024-01", "2024-02", "2024-03"]
    assert heatmap["z"] == [row["values"] + [None] * (3 - len(row["values"])) for row in cohorts] \
        == [[1.0, 0.0, 0.5], [1.0, 0.5, None], [1.0, None, None]]

    value = answers["value"]["items"]
    assert [(line["name"], line["y"]) for line in charts["value"]["data"]] == \
        [(row["cohort"], row["values"]) for row in value] == \
        [("2024-01", [175, 175, 235]), ("2024-02", [130, 175]), ("2024-03", [40])]

    (bins,) = charts["chances"]["data"]
    assert bins["y"] == [row["customers"] for row in answers["chances"]["chance_bins"]] and sum(bins["y"]) == 5

    (stages,) = charts["stages"]["data"]
    counts = answers["stages"]["items"]
    assert stages["x"] == [row["stage"].replace("_", " ") for row in counts]
    assert stages["y"] == [row["customers"] for row in counts] and sum(stages["y"]) == 5
    assert dict(zip(stages["x"], stages["y"]))["new"] == 3

    # Biggest spenders first: A 270, then B and C 200 each (by id), D 150, E 40; the top 20 % is A.
    curve = charts["concentration"]["data"][1]
    points = answers["concentration"]["points"]
    assert (curve["x"], curve["y"]) == ([p["customer_share"] for p in points], [p["revenue_share"] for p in points])
    assert [round(share, 9) for share in curve["y"]] == [
        round(amount / 860, 9) for amount in (0, 270, 470, 670, 820, 860)]
    assert answers["concentration"]["top20_share"] == pytest.approx(270 / 860)

    # The flow from the first order (2024-01-05, A's, after six months back would reach before it):
    # A alone was a customer then, the other four were not yet; all five are customers by 2024-03-20.
    (sankey,) = charts["flow"]["data"]
    cells = answers["flow"]["flow"]
    assert sankey["link"]["value"] == [cell["customers"] for cell in cells] and sum(sankey["link"]["value"]) == 5
    came_from = {}
    for cell in cells:
        came_from[cell["from_stage"]] = came_from.get(cell["from_stage"], 0) + cell["customers"]
    assert came_from == {"new": 1, "(not a customer yet)": 4}


def visible_text(html: str) -> str:
    """The page as read: scripts (the charts' data) and tags left out."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", " ", html, flags=re.S))


def test_the_owners_pages_speak_plainly(analyst, page):  # noqa: F811
    overview = analyst.client.get("/overview").text
    assert 'href="/overview/charts"' in overview
    for html in (overview, page):
        text = visible_text(html)
        assert [word for word in JARGON if word.lower() in text.lower()] == []


def test_a_manager_may_not_see_the_charts(api):
    email = f"charts-{api.tokens['manager'][-8:].lower()}@example.com"
    add_user(api, email, "manager")
    visitor = Visitor(api)
    try:
        assert visitor.log_in(email).status_code == 303
        answer = visitor.client.get("/overview/charts")
        assert answer.status_code == 403 and "needs admin or analyst" in answer.text
    finally:
        visitor.close()


def draw_in_chromium(chromium, api, session: str, path: str, charts: tuple[str, ...]) -> dict:
    """``path`` in a fresh context of ``chromium`` with the session's cookie: the svgs drawn per chart, the errors, the
    Content-Security-Policy violations and the requests made."""
    base = str(api.client.base_url).rstrip("/")
    with watched_page(chromium) as (page, requests, errors):
        page.context.add_cookies([{"name": "retainly_session", "value": session, "url": base}])
        # Run by the browser before the page's own scripts, outside its policy: it only listens.
        page.context.add_init_script("window.__violations = []; document.addEventListener('securitypolicyviolation',"
                                     " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));")
        page.goto(f"{base}{path}")
        for chart in charts:
            page.wait_for_selector(f"#chart-{chart} .main-svg", timeout=30_000)
        drawn = {chart: page.locator(f"#chart-{chart} svg.main-svg").count() for chart in charts}
        traces = {chart: page.locator(f"#chart-{chart} g.trace, #chart-{chart} g.hm, "
                                        f"#chart-{chart} g.sankey").count() for chart in charts}
        violations = page.evaluate("window.__violations")
    return {"drawn": drawn, "traces": traces, "errors": errors, "violations": violations,
            "elsewhere": [url for url in requests if not url.startswith(base + "/")]}


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}: scripts/test installs Debian's chromium")
def test_the_charts_are_drawn_in_chromium(api, analyst, chromium):  # noqa: F811
    seen = draw_in_chromium(chromium, api, analyst.client.cookies["retainly_session"], "/overview/charts", CHARTS)
    assert all(count >= 1 for count in seen["drawn"].values()), seen["drawn"]
    # Two bars per group (customers, sales), one heatmap, a line per month of first orders, one bar each;
    # the even line, the shop's curve and the top 20 % marker; one Sankey.
    assert seen["traces"] == {"segments": 2, "returning": 1, "value": 3, "chances": 1, "stages": 1,
                              "concentration": 3, "flow": 1}
    assert seen["errors"] == [] and seen["violations"] == [] and seen["elsewhere"] == []
