"""The HTML report without a browser: self-contained, its engine queries, the empty store."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from retainly.views import report
from retainly.views.report_charts import plotly_js

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


@pytest.fixture
def shop(workspace):
    workspace.generate(600, seed=5)
    return workspace


def test_report_refers_to_nothing_outside_itself(shop, tmp_path):
    html = shop.report(tmp_path / "report.html").read_text(encoding="utf-8")
    found = _References()
    found.feed(html)
    remote = [ref for ref in found.references if ref[2].strip().lower().startswith(("http:", "https:", "//", "ftp:"))]
    assert remote == []
    assert not [ref for ref in found.references if ref[0] in ("script", "link", "img", "iframe")]
    assert not [style for style in found.styles if "url(" in style or "@import" in style]
    assert html.count(plotly_js()[:200]) == 1, "plotly.js must be embedded exactly once"
    own = html.replace(plotly_js(), "").lower()  # the page and its figures, without the library
    assert "mathjax" not in own and "topojson" not in own and "@font-face" not in own
    assert html.count("Plotly.newPlot(") == len(report.TILES) + 4


def test_concentration_curve_and_call_list_come_from_the_stored_scores(shop):
    as_of = shop.ensure_rfm()
    rows = shop.rfm_scores(as_of).to_pylist()
    monetary = sorted((float(r["monetary"]) for r in rows), reverse=True)
    points = report.revenue_concentration(shop.store, as_of)
    assert points[0] == (0.0, 0.0)
    assert points[-1] == pytest.approx((1.0, 1.0))
    assert len(points) <= report.CURVE_POINTS + 1
    for share, revenue in points[1:]:
        top = round(share * len(rows))
        assert revenue == pytest.approx(sum(monetary[:top]) / sum(monetary))
    drifting = sorted((r for r in rows if r["segment"] in report.CALL_SEGMENTS),
                      key=lambda r: (-r["monetary"], r["customer_id"]))[:report.CALL_LIST_SIZE]
    called = report.call_list(shop.store, as_of)
    assert [r["customer_id"] for r in called] == [r["customer_id"] for r in drifting]
    assert all(r["external_id"] for r in called)


def test_empty_store_gets_a_report_that_says_so(workspace, tmp_path):
    html = workspace.report(tmp_path / "empty.html").read_text(encoding="utf-8")
    assert "The store has no purchase orders yet" in html
    assert "retainly import --help" in html
    assert "Plotly.newPlot" not in html
    assert len(html) < 20_000


def test_report_refuses_a_missing_folder(shop, tmp_path):
    from retainly.errors import InputError

    with pytest.raises(InputError, match="does not exist"):
        shop.report(tmp_path / "nowhere" / "report.html")


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
