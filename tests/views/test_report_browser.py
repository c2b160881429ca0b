"""The HTML report in a real browser: Debian's Chromium through Playwright, fully offline.

scripts/test installs /usr/bin/chromium when it is missing; Playwright's own browser
downloads are never used. Elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from retainly.views.report import TILES, format_count, format_percent, format_value, write_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
CHARTS = ("chart-segments", "chart-retention", "chart-ltv", "chart-concentration",
          "chart-chance", "chart-tracking",  # predictions
          "chart-stage-flow")  # lifecycle

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}: scripts/test installs Debian's chromium"),
]


def test_report_renders_offline_in_chromium(workspace, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright comes with the test extra")
    workspace.data.generate(2000, seed=3)
    path = write_report(workspace, tmp_path / "report.html")
    url = path.resolve().as_uri()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            requests, errors = [], []
            context.on("request", lambda request: requests.append(request.url))
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(url, wait_until="load")
            expected = len(TILES) + len(CHARTS)
            page.wait_for_function(
                f"document.querySelectorAll('.plotly-graph-div.js-plotly-plot .main-svg').length >= {expected}",
                timeout=30_000)
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            shown = _read_page(page)
        finally:
            browser.close()

    assert requests == [url], "the report must not request anything but itself"
    assert errors == []
    assert (tmp_path / "report.png").stat().st_size > 100_000

    # Every chart rendered, with marks drawn.
    assert shown["plots"] == expected
    assert all(count >= 1 for count in shown["svgs"].values()), shown["svgs"]
    assert all(shown["lines"][f"spark-{key}"] >= 1 for key, *_ in TILES)
    segments = workspace.rfm.segments()
    assert shown["bars"] == 2 * len(segments)
    assert shown["heatmap_images"] == 1
    ltv = workspace.measures.cohorts("quarter", "revenue")
    assert shown["ltv_traces"] == len(ltv)
    assert shown["ltv_lines"] == sum(len(row.values) > 1 for row in ltv)  # a one-period cohort is a dot
    assert shown["concentration_lines"] == 2

    # The tiles show ws.measures.kpis() for the period in the header: the 12 months to the last order.
    first, last = (date.fromisoformat(day) for day in shown["period"].split(" to "))
    assert (first, last) == (date(2025, 1, 1), workspace.data.last_order_date())
    kpis = workspace.measures.kpis(first, last)[0].to_dict()
    currency = "EUR"
    for key, _label, kind, _hint in TILES:
        assert shown["tiles"][key]["text"] == format_value(kpis[key], kind, currency), key
        assert shown["tiles"][key]["value"] == ("" if kpis[key] is None else str(kpis[key])), key

    # The call list is ws.lifecycle.call_list(), in its order (its rule is tested in tests/views/test_report.py).
    called = workspace.lifecycle.call_list(limit=25)
    assert called and shown["call_list"] == [row.external_id for row in called]

    # Predictions: a bar per tenth of the chance to order (an empty tenth draws a flat one; the
    # counts are checked in tests/views/test_report.py), the actual curve and one line
    # per fitted model in the backtest that chose the model, and the tiles from the stored scores.
    predicted = workspace.predictions.scores().to_pandas()
    assert shown["chance_bars"] == 10
    fit = workspace.predictions.latest_fit(workspace.data.last_order_date())
    assert shown["predictions_model"] == fit.model
    fitted = [result for result in fit.backtest if "error" not in result]
    assert shown["tracking_lines"] == 1 + len(fitted)
    assert shown["prediction_tiles"] == {
        "expected_orders": format_count(round(predicted["expected_orders"].sum())),
        "expected_value": format_value(predicted["clv"].sum(), "money", currency),
        "likely_share": format_percent((predicted["order_chance"] >= 0.5).mean()),
    }
    # The call list's chance column is each customer's stored chance to order.
    by_customer = dict(zip(predicted["customer_id"], predicted["order_chance"]))
    external = dict(workspace.store.fetchall("SELECT external_id, customer_id FROM customers"))
    assert shown["call_chance"] == [format_percent(by_customer[external[key]]) for key in shown["call_list"]]


def _read_page(page) -> dict:
    """What the browser shows, collected in one go."""
    return page.evaluate("""() => {
        const all = (selector, root = document) => Array.from(root.querySelectorAll(selector));
        const plots = all('.plotly-graph-div');
        const drawn = (root) => all('.scatterlayer .trace path.js-line', root).filter(p => (p.getAttribute('d') || '').length > 10).length;
        const tiles = {};
        for (const tile of all('.tile')) {
            tiles[tile.dataset.kpi] = {text: tile.querySelector('.tile-value').textContent.trim(), value: tile.dataset.value};
        }
        const lines = {};
        for (const plot of plots) lines[plot.id] = drawn(plot);
        return {
            plots: plots.filter(p => p.classList.contains('js-plotly-plot')).length,
            svgs: Object.fromEntries(plots.map(p => [p.id, all('.main-svg', p).length])),
            lines,
            bars: all('#chart-segments .barlayer .point path').filter(p => (p.getAttribute('d') || '') !== 'M0,0Z').length,
            heatmap_images: all('#chart-retention .heatmaplayer image').length,
            ltv_traces: all('#chart-ltv .scatterlayer .trace').length,
            ltv_lines: drawn(document.getElementById('chart-ltv')),
            concentration_lines: drawn(document.getElementById('chart-concentration')),
            period: document.getElementById('period').textContent.trim(),
            tiles,
            call_list: all('#call-list tbody tr').map(row => row.dataset.customer),
            call_chance: all('#call-list tbody tr').map(row => row.querySelectorAll('td')[7].textContent.trim()),
            chance_bars: all('#chart-chance .barlayer .point path').filter(p => (p.getAttribute('d') || '') !== 'M0,0Z').length,
            tracking_lines: drawn(document.getElementById('chart-tracking')),
            predictions_model: document.getElementById('predictions').dataset.model,
            prediction_tiles: Object.fromEntries(all('#predictions .tile').map(
                tile => [tile.dataset.kpi, tile.querySelector('.tile-value').textContent.trim()])),
        };
    }""")
