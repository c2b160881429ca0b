"""The Experiments pages on a running server (tests/web/experiment_lab.py: a shop whose playbooks'
effects are worked out by hand there; both engines): the table and its forest chart, one playbook
in words with both ranges drawn, the small shop's message, the split's warning, the playbook
page's line, the query parameters and their errors, the roles, and the chart drawn in Chromium.

Every figure marked on a page is checked against its JSON twin (GET /api/v1/experiments with the
page's parameters); the figures asserted beside them are the hand-worked ones of experiment_lab.
"""

from __future__ import annotations

import inspect
import json
import re
from html import unescape
from types import SimpleNamespace

import pytest

from retainly.experiments.measure import MIN_PER_ARM
from retainly.services.experiments import ExperimentService
from retainly.views import experiments as words
from tests.web.conftest import watched_page
from tests.web.experiment_lab import MANAGER, lab_fixture  # noqa: F401 (`lab`)
from tests.web.test_pages_browser import CHROMIUM, check_against_twins

chromium_only = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}: scripts/test installs chromium")
ADDED = ("Treated customers spent €10.00 more each in the 30 days after entering than held-out customers "
         "(95 % range €4.74 to €15.26): about €300.00 added in all (€142.30 to €457.70).")
BIRTHDAY_NEEDS = ("4 treated and 1 held out so far; telling needs at least 30 in each group: about 300 customers "
                  "in all with 10 % held out, 295 more.")
CROSS_SELL_NEEDS = "needs about 2,256 customers in all, 2,196 more: about 293 weeks at the pace of the last 8 weeks."


def twins(lab) -> SimpleNamespace:
    """``check_against_twins``'s API: GET a path under /api/v1 with an analyst's key."""
    return SimpleNamespace(get=lambda path: lab.api(path))


def figure(html: str, target: str) -> dict:
    block = re.search(rf'<script type="application/json" class="chart-figure" data-target="{target}">(.*?)</script>',
                      html, re.S)
    return json.loads(block.group(1))


def bars(trace: dict) -> list[tuple[float, float]]:
    """The (start, end) of each horizontal bar of a trace whose bars are separated by None."""
    xs = trace["x"]
    return [(xs[i], xs[i + 1]) for i in range(0, len(xs), 3)]


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_shown_minimum_and_target_are_the_services():
    assert words.MIN_PER_ARM == MIN_PER_ARM
    assert inspect.signature(ExperimentService.effects).parameters["target_share"].default == words.TARGET_SHARE


def test_every_playbook_in_one_table(lab):
    with lab.visitor() as analyst:
        page = analyst.client.get("/experiments")
    assert page.status_code == 200, page.text
    assert '<a href="/experiments" aria-current="page">Experiments</a>' in page.text
    twin = lab.api("/experiments", playbook="all", as_of="2024-03-01").json()
    assert 'data-twin="/api/v1/experiments?playbook=all&amp;as_of=2024-03-01"' in page.text
    # playbook, verdict, treated and held out of the 15 playbooks; the revenue added and its range of the one told
    assert check_against_twins(twins(lab), page.text) == 4 * 15 + 3
    shown = text(page.text)
    # By hand (experiment_lab): win-back-180 added 300.00 (142.30 to 457.70) from 30 treated and 30 held out.
    assert "Win back after 180 days of silence added 30 30 €300.00 €142.30 to €457.70" in shown
    assert f"Birthday offer not enough customers yet to tell {BIRTHDAY_NEEDS} 4 1 – –" in shown
    assert CROSS_SELL_NEEDS in shown
    warning = re.search(r'<p class="problem warning" role="alert" data-warning="([^"]+)">(.*?)</p>', page.text, re.S)
    assert warning.group(1) == "cross-sell" and page.text.count('role="alert"') == 1
    assert ("30 of 60 customers are held out (50 %) where 10 % was set" in text(warning.group(2))
            and "do not trust these figures" in warning.group(2))
    by_name = {effect["playbook"]: effect for effect in twin}
    assert (by_name["win-back-180"]["verdict"], by_name["cross-sell"]["sample_ratio_warning"]) == ("added", True)
    assert 'href="/experiments/win-back-180"' in page.text
    # The default settings: no global control group and no offer decided, so neither panel shows
    # (tests/web/test_pages_experiment_extras.py has both).
    assert 'id="programme"' not in page.text and 'id="offers"' not in page.text
    assert "The whole programme" not in page.text and "Offers" not in page.text


def test_the_forest_chart_draws_each_range_and_a_zero_line(lab):
    with lab.visitor() as analyst:
        page = analyst.client.get("/experiments").text
    drawn = figure(page, "chart-experiments")
    ranges, points = drawn["data"]
    [effect] = lab.api("/experiments", playbook="win-back-180").json()
    # Only the playbook with a verdict gets a point: cross-sell and birthday have not enough customers yet.
    assert points["customdata"] == [["win-back-180"]] and points["x"] == [effect["difference"]] == [10.0]
    assert bars(ranges) == [(effect["low"], effect["high"])] == [(4.7432, 15.2568)]  # by hand: 10 ± 5.256768
    assert drawn["layout"]["yaxis"]["ticktext"] == ["Win back after 180 days of silence"]
    assert [(shape["x0"], shape["x1"]) for shape in drawn["layout"]["shapes"]] == [(0, 0)]
    low, high = drawn["layout"]["xaxis"]["range"]
    assert low < 0 < effect["high"] < high  # zero and the whole range are in sight


def test_one_playbook_in_words_with_both_ranges(lab):
    with lab.visitor() as analyst:
        page = analyst.client.get("/experiments/win-back-180")
    assert page.status_code == 200, page.text
    # playbook, verdict, window, as of, both arms' sizes and means, the difference, both ranges, the revenue
    # added and its range, the detectable effect, orders, who ordered, noise removed, holdout share and the
    # split's p
    assert check_against_twins(twins(lab), page.text) == 22
    # Who ordered in the window, by hand: every treated customer spent; 15 of the 30 held out did not.
    assert "100.0 % treated, 50.0 % held out" in text(page.text)
    shown = text(page.text)
    assert ADDED in shown and "The whole range lies above zero: the playbook added revenue." in shown
    assert "Treated 30 €20.00 Held out 30 €10.00" in shown  # by hand: means 20 and 10
    assert "Smallest difference it finds €7.36 per customer" in shown  # 2.801585 * sqrt(3000/29) * sqrt(2/30)
    [effect] = lab.api("/experiments", playbook="win-back-180").json()
    welch, bootstrap, points = figure(page.text, "chart-experiment")["data"]
    assert bars(welch) == [(effect["low"], effect["high"])]
    assert bars(bootstrap) == [(effect["bootstrap_low"], effect["bootstrap_high"])]
    assert points["x"] == [effect["difference"]]
    assert 'href="/playbooks/win-back-180"' in page.text and "role=\"alert\"" not in page.text


def test_a_small_shop_is_told_what_it_still_needs(lab):
    with lab.visitor() as analyst:
        small = analyst.client.get("/experiments/birthday")
        noisy = analyst.client.get("/experiments/cross-sell")
    for page in (small, noisy):
        assert page.status_code == 200 and "chart-figure" not in page.text and "plotly" not in page.text
        assert check_against_twins(twins(lab), page.text) >= 15
    assert f"Not enough customers yet to tell. {BIRTHDAY_NEEDS}" in text(small.text)
    shown = text(noisy.text)
    assert "Not enough customers yet to tell. 30 treated and 30 held out so far" in shown
    assert "finding a difference of €1.00 per customer (a tenth of what held-out customers spend)" in shown
    assert CROSS_SELL_NEEDS in shown
    assert 'role="alert" data-warning="cross-sell"' in noisy.text


def test_the_playbook_page_says_what_it_added(lab):
    with lab.visitor() as analyst:
        told = analyst.client.get("/playbooks/win-back-180").text
        small = analyst.client.get("/playbooks/birthday").text
    assert f"What it added: {ADDED} Its experiment" in text(told)
    assert '<a href="/experiments/win-back-180">Its experiment</a>' in told
    assert f"What it added: Not enough customers yet to tell: {BIRTHDAY_NEEDS}" in text(small)


@pytest.mark.parametrize("query, twin, told, enrolled", [
    # A week: win-back-180's customers bought on day 9, so nobody did within 7 days: nothing to tell.
    ("window_days=7", "as_of=2024-03-01&amp;window_days=7", set(), 3),
    ("as_of=2024-01-31", "as_of=2024-01-31", {"win-back-180"}, 1),  # only its windows had ended
    ("as_of=2024-01-15", "as_of=2024-01-15", set(), 0),
])
def test_as_of_and_window_days_as_the_api_takes_them(lab, query, twin, told, enrolled):
    with lab.visitor() as analyst:
        page = analyst.client.get(f"/experiments?{query}")
    assert page.status_code == 200, page.text
    assert f'data-twin="/api/v1/experiments?playbook=all&amp;{twin}"' in page.text
    effects = lab.api(f"/experiments?{query}").json()
    assert sum(1 for effect in effects if effect["treated"] + effect["held_out"]) == enrolled
    assert {effect["playbook"] for effect in effects if effect["verdict"] != words.NOT_ENOUGH} == told
    if not enrolled:
        assert "No playbook has a customer whose window ended by 2024-01-15 yet" in page.text
        assert "<table" not in page.text
    else:
        assert check_against_twins(twins(lab), page.text) == 4 * 15 + 3 * len(told)
        assert f'href="/experiments/win-back-180?{query}"' in page.text  # the links keep what was chosen


@pytest.mark.parametrize("path, status, message", [
    ("/experiments?as_of=2024-13-01", 422, "`as_of` &#39;2024-13-01&#39; is not a date: give it as YYYY-MM-DD"),
    ("/experiments?window_days=0", 422, "`window_days` &#39;0&#39; is not a number of days: give a whole number"),
    ("/experiments?window_days=a", 422, "`window_days` &#39;a&#39; is not a number of days"),
    ("/experiments/win-back-180?window_days=9999", 422, "a whole number from 1 to 3650"),
    ("/experiments?as_of=1800-01-01", 422, "`as_of` 1800-01-01 is outside the days retainly can analyse"),
    ("/experiments/no-such-playbook", 404, "no playbook named &#39;no-such-playbook&#39;"),
])
def test_bad_input_gets_the_usual_error_page(lab, path, status, message):
    with lab.visitor() as analyst:
        answer = analyst.client.get(path)
    assert answer.status_code == status and answer.headers["content-type"].startswith("text/html")
    assert message in answer.text and "Traceback" not in answer.text


def test_all_is_the_table(lab):
    with lab.visitor() as analyst:
        answer = analyst.client.get("/experiments/all?window_days=7")
    assert (answer.status_code, answer.headers["location"]) == (303, "/experiments?window_days=7")


def test_the_pages_are_for_the_roles_of_their_twin(lab):
    with lab.visitor(MANAGER) as manager:
        for path in ("/experiments", "/experiments/win-back-180"):
            refused = manager.client.get(path)
            assert refused.status_code == 403 and "this page is not for the role manager; it needs admin or analyst" \
                in refused.text
        assert 'href="/experiments"' not in manager.client.get("/customers").text
    anonymous = lab.client.get("/experiments/win-back-180")
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/login?next=/experiments/win-back-180")


@pytest.mark.slow
@chromium_only
def test_the_chart_is_drawn_where_the_range_says_in_chromium(lab, chromium):
    """Drawn by the server's plotly.js under the page's policy: the bar's ends sit at the pixels of the
    twin's low and high on the chart's own axis, the point at the difference's, the dashed line at zero's."""
    [effect] = lab.api("/experiments", playbook="win-back-180").json()
    with lab.visitor() as analyst, watched_page(chromium) as (page, requests, errors):
        page.context.add_cookies([{"name": "retainly_session", "value": analyst.client.cookies["retainly_session"],
                                   "url": lab.base}])
        page.goto(f"{lab.base}/experiments")
        page.wait_for_selector("#chart-experiments .main-svg", timeout=30_000)
        drawn = page.evaluate("""() => {
            const chart = document.getElementById('chart-experiments');
            const axis = chart._fullLayout.xaxis;
            const line = chart.querySelector('.scatterlayer .trace path.js-line').getAttribute('d');
            const point = chart.querySelector('.scatterlayer .trace:last-child path.point').getAttribute('transform');
            const zero = chart.querySelector('.shapelayer path').getAttribute('d');
            return {line, point, zero, pixels: [effect.low, effect.high, effect.difference, 0].map(v => axis.l2p(v)),
                    offset: axis._offset};
        }""".replace("effect.low", str(effect["low"])).replace("effect.high", str(effect["high"]))
                               .replace("effect.difference", str(effect["difference"])))
    assert errors == [] and all(url.startswith(lab.base + "/") for url in requests)
    low, high, difference, zero = drawn["pixels"]
    ends = [float(x) for x in re.findall(r"[ML]([-\d.]+),", drawn["line"])]
    assert ends == [pytest.approx(low, abs=1), pytest.approx(high, abs=1)]
    assert float(re.search(r"translate\(([-\d.]+),", drawn["point"]).group(1)) == pytest.approx(difference, abs=1)
    # The shapes layer draws in the whole figure's pixels: the plot area's offset comes first.
    assert float(re.match(r"M([-\d.]+),", drawn["zero"]).group(1)) == pytest.approx(drawn["offset"] + zero, abs=1)
