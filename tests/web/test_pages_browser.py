"""The web app's pages: in Chromium (Playwright on the system's browser, offline) a user logs in,
finds a customer and opens their page; and every page's figures are its JSON twin's.

Each page marks what it shows with ``data-field`` (where the figure sits in the twin's answer)
and ``data-value`` (the figure as the twin's JSON spells it), under an element whose
``data-twin`` names the API call (the Overview's comparison column: ``data-compare-field`` under
``data-compare-twin``). The twin test reads those marks and asks the API itself, with an
analyst's key, so a page can neither drift from nor hide what the API says.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import watched_page
from tests.web.test_login import PASSWORD, Visitor, add_user

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


class Marks(HTMLParser):
    """The twins a page names and the figures it marks: {twin: [(field, value as JSON text)]}."""

    def __init__(self):
        super().__init__()
        self.twins: dict[str, str] = {}
        self.marked: dict[str, list[tuple[str, str]]] = {"twin": [], "compare-twin": []}

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        for kind in ("twin", "compare-twin"):
            if f"data-{kind}" in found:
                self.twins[kind] = found[f"data-{kind}"]
        if "data-field" in found:
            self.marked["twin"].append((found["data-field"], found["data-value"]))
        if "data-compare-field" in found:
            self.marked["compare-twin"].append((found["data-compare-field"], found["data-value"]))


def at(data, path: str):
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def check_against_twins(api, html: str) -> int:
    """Every marked figure of the page equals its twin's; how many were checked."""
    marks = Marks()
    marks.feed(html)
    assert marks.twins, "the page names no JSON twin"
    checked = 0
    for kind, twin in marks.twins.items():
        answer = api.get(twin.removeprefix("/api/v1"))
        assert answer.status_code == 200, answer.text
        for field, value in marks.marked[kind]:
            assert json.loads(value) == at(answer.json(), field), (twin, field)
            checked += 1
    return checked


@pytest.fixture
def analyst(api):
    visitor = Visitor(api)
    email = f"twins-{api.tokens['analyst'][-8:].lower()}@example.com"  # one per engine's server
    with api.app.state.shop.use() as ws:
        if email not in [user.email for user in ws.users.list()]:
            ws.users.add(email, "analyst", PASSWORD)
    assert visitor.log_in(email).status_code == 303
    yield visitor
    visitor.close()


@pytest.mark.parametrize("path, at_least", [
    ("/overview", 20),  # 10 tiles, each with the period's figure and the one before
    ("/overview?first=2024-01-01&last=2024-03-20&compare=year", 20),
    ("/overview?first=2024-03-01&last=2024-03-20", 20),
    ("/customers", 5 * 5 + 1),  # the five customers, five columns each, and the number found
    ("/customers?q=a", 2 * 5 + 1),
    ("/customers?q=nobody", 1),
    ("/customers/A", 20), ("/customers/B", 15), ("/customers/C", 15), ("/customers/D", 15), ("/customers/E", 15),
])
def test_every_page_shows_its_json_twins_figures(api, analyst, path, at_least):
    page = analyst.client.get(path)
    assert page.status_code == 200, page.text
    assert check_against_twins(api, page.text) >= at_least


def test_the_overview_chart_is_its_json_twins_months(api, analyst):
    """The chart's bars are each month's sales and its line each month's customers who bought, as
    GET /api/v1/kpis?...&by=month says. By hand, for the year to 2024-03-20: nothing before 2024;
    January 350 (A 100 + 50, B 200) from A and B, February 260 (C 80 + 120, D 60) from C and D,
    March 280 (A 150, D 90, E 40) from A, D and E (D's cancelled 500 does not count)."""
    page = analyst.client.get("/overview").text
    twin = re.search(r'data-chart-twin="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert twin == "/api/v1/kpis?first=2023-04-01&last=2024-03-20&by=month"
    figure = json.loads(re.search(r'<script type="application/json" class="chart-figure" data-target="chart-trend">'
                                  r'(.*?)</script>', page, re.S).group(1))
    months = api.get(twin.removeprefix("/api/v1")).json()["items"]
    bars, line = figure["data"]
    assert bars["x"] == line["x"] == [month["period"] for month in months]
    assert bars["y"] == [month["revenue"] for month in months]
    assert line["y"] == [month["customers"] for month in months]
    assert (bars["y"][-3:], line["y"][-3:]) == ([350, 260, 280], [2, 2, 3]) and set(bars["y"][:-3]) == {0}


@pytest.mark.parametrize("path, status, message", [
    ("/overview?first=2024-13-01", 422, "the first day &#39;2024-13-01&#39; is not a date: give it as YYYY-MM-DD"),
    ("/overview?first=2024-03-20&last=2024-03-01", 422,
     "the first day (2024-03-20) comes after the last (2024-03-01): choose a first day on or before the last"),
    ("/customers?page=0", 422, "page &#39;0&#39; is not a page number: give a whole number from 1"),
    ("/customers?q=" + "x" * 201, 422, "the search is 201 characters long; keep it to 200"),
    ("/customers/ZZZ", 404, "no customer with id &#39;ZZZ&#39;"),
])
def test_bad_input_gets_a_page_saying_what_to_do(analyst, path, status, message):
    answer = analyst.client.get(path)
    assert answer.status_code == status and answer.headers["content-type"].startswith("text/html")
    assert message in answer.text and "Traceback" not in answer.text


def test_customer_pages_paginate(api, analyst, monkeypatch):
    from retainly.web import pages_customers

    monkeypatch.setattr(pages_customers, "PER_PAGE", 2)  # five customers: pages of 2, 2 and 1
    pages = [analyst.client.get(f"/customers?page={number}") for number in (1, 2, 3)]
    assert all(check_against_twins(api, page.text) == 2 * 5 + 1 for page in pages[:2])
    assert check_against_twins(api, pages[2].text) == 1 * 5 + 1
    assert 'rel="next"' in pages[0].text and 'rel="prev"' not in pages[0].text
    assert 'rel="prev"' in pages[2].text and 'rel="next"' not in pages[2].text
    assert "page 3 of 3" in pages[2].text


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}: scripts/test installs Debian's chromium")
def test_log_in_find_a_customer_and_open_their_page_in_chromium(api, tmp_path, chromium):
    email = f"browser-{api.tokens['manager'][-8:].lower()}@example.com"
    add_user(api, email, "manager")
    base = str(api.client.base_url).rstrip("/")
    with watched_page(chromium) as (page, requests, errors):
        page.goto(f"{base}/customers/A")  # not logged in: to the login page, and back after it
        assert page.url == f"{base}/login?next=/customers/A"
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", "wrong guess")
        page.click("button[type=submit]")
        assert page.locator("p.problem").inner_text() == "wrong email or password"
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/customers/A")

        page.click("text=← Customers")
        page.fill("input[name=q]", "bo@example")
        page.click("form.search button")
        page.wait_for_url(re.compile(r".*/customers\?q=bo%40example.*"))
        rows = page.locator("table.list tbody tr")
        assert rows.count() == 1 and rows.first.locator("td").nth(1).inner_text() == "Bo"
        rows.first.locator("a").click()
        page.wait_for_url(f"{base}/customers/B")
        assert page.locator("h1").inner_text().startswith("Bo")
        shown = page.content()
        page.screenshot(path=str(tmp_path / "customer.png"), full_page=True)

        page.click("text=Log out")
        page.wait_for_url(f"{base}/login")

    # The one error is the refused login's status: 401, as the page says.
    assert errors == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]
    assert all(url.startswith(base + "/") for url in requests), "the pages must load nothing from elsewhere"
    assert any(url == f"{base}/static/retainly.css" for url in requests)
    assert f"{base}/vendor/plotly.min.js" not in requests  # only the overview draws charts
    # B's page in the browser shows what GET /api/v1/customers/B says (B: one order of 200, on Jan 10).
    assert check_against_twins(api, shown) >= 15
    assert "€200.00" in shown and "2024-01-10" in shown
    with httpx.Client(base_url=base) as anonymous:  # logged out: the page is closed again
        assert anonymous.get("/customers/B").status_code == 303


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}: scripts/test installs Debian's chromium")
def test_the_overview_draws_its_chart_in_chromium(api, analyst, chromium):
    """The chart is drawn by the server's own plotly.js and charts.js under the page's
    Content-Security-Policy (a refused script or style would be a console error)."""
    base = str(api.client.base_url).rstrip("/")
    with watched_page(chromium) as (page, requests, errors):
        page.context.add_cookies([{"name": "retainly_session", "value": analyst.client.cookies["retainly_session"],
                                   "url": base}])
        page.goto(f"{base}/overview?first=2024-03-01&last=2024-03-20")
        page.wait_for_selector("#chart-trend .main-svg", timeout=30_000)
        bars = page.evaluate("document.querySelectorAll('#chart-trend .barlayer .point path').length")
        tiles = page.locator(".tile").count()
    assert errors == []
    assert all(url.startswith(base + "/") for url in requests)
    assert f"{base}/vendor/plotly.min.js" in requests and f"{base}/static/charts.js" in requests
    assert bars == 12 and tiles == 10  # a bar per month of the year to 2024-03-20 (empty months draw flat ones)
