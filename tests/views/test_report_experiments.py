"""The report's section "What the playbooks added", on both engines: the table and the forest chart
on the shop of tests/web/experiment_lab.py (its figures worked out by hand there), and one sentence
instead of an empty table where no playbook has customers to compare; and the words of
retainly.views.experiments (shared with the web pages) for the cases that shop does not have.
"""

from __future__ import annotations

import json
import re
from datetime import date
from html import unescape

import pytest

from retainly.results.experiments import PlaybookEffect
from retainly.views import experiments, report
from tests.features.kpi_shop import load_kpi_shop
from tests.web.experiment_lab import load_experiment_shop


def section(html: str) -> str:
    start = html.index('<section class="card" id="experiments"')
    return html[start:html.index("</section>", start)]


def plotted(html: str, div_id: str) -> tuple[list[dict], dict]:
    """The traces and layout of the page's ``Plotly.newPlot("div_id", [traces], {layout}, ...)``."""
    call = re.search(rf'Plotly\.newPlot\(\s*"{div_id}",\s*', html)
    traces, end = json.JSONDecoder().raw_decode(html, call.end())
    layout, _ = json.JSONDecoder().raw_decode(html, re.compile(r",\s*").match(html, end).end())
    return traces, layout


def words(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_section_has_every_playbook_and_draws_the_ranges(workspace, tmp_path):
    load_experiment_shop(workspace, tmp_path)
    html = report.write_report(workspace, tmp_path / "report.html").read_text(encoding="utf-8")
    shown = section(html)
    effects = {effect.playbook: effect for effect in workspace.experiments.effects()}
    assert shown.count("<tr data-playbook=") == len(effects) == 15
    text = words(shown)
    # By hand (experiment_lab): win-back-180 added 300.00, 95 % range 142.30 to 457.70, from 30 and 30 customers.
    assert "Win back after 180 days of silence added 30 30 €300.00 €142.30 to €457.70" in text
    assert ("Birthday offer not enough customers yet to tell 4 treated and 1 held out so far; telling needs at "
            "least 30 in each group: about 300 customers in all with 10 % held out, 295 more. 4 1 – –") in text
    assert "about 2,256 customers in all, 2,196 more: about 293 weeks" in text  # cross-sell
    warning = re.findall(r'<p class="warning" data-warning="([^"]+)">', shown)
    assert warning == ["cross-sell"] and "30 of 60 customers are held out (50 %) where 10 % was set" in text
    # The chart: one point (the only playbook with a verdict) with its range as a bar, and the zero line.
    (ranges, points), layout = plotted(shown, "chart-experiments")
    told = effects["win-back-180"]
    assert ranges["x"] == [told.low, told.high, None] == [4.7432, 15.2568, None]
    assert points["x"] == [told.difference] == [10.0] and points["customdata"] == [["win-back-180"]]
    assert [(shape["x0"], shape["x1"]) for shape in layout["shapes"]] == [(0, 0)]
    assert html.count("Plotly.newPlot(") == len(re.findall(r'class="plotly-graph-div', html))
    assert "experiments-programme" not in shown and "whole programme" not in text  # no global control group


def test_the_whole_programme_in_one_sentence_with_a_global_control_group(store_url, tmp_path):
    """tests/experiments/test_programme.py's shop and worked figures: 160 existing customers outside a
    20 % group spent 2.90 more each than the 40 in it from 2025-01-01 to 2025-06-30, 464.00 added;
    the range is Welch's on the CUPED-adjusted outcomes, recomputed with SciPy as there. That shop
    has purchases only (no orders for the report's other sections, and no currency), so its
    programme is shown in the report of the KPI shop, opened with the same settings in a store of
    its own: there ``write_report`` asks for the programme itself."""
    from scipy import stats as scipy_stats

    from retainly import Workspace
    from retainly.experiments.stats import cuped
    from tests.conftest import fresh_store_url
    from tests.experiments.test_programme import AS_OF, SETTINGS, shop

    settings = tmp_path / "retainly.toml"
    settings.write_text(SETTINGS, encoding="utf-8")
    with Workspace.open(store_url, settings=settings) as ws:
        outside, outcome, covariate = shop(ws)
        whole = ws.experiments.programme(AS_OF)
    (tmp_path / "kpi").mkdir()
    with fresh_store_url("duckdb" if store_url.startswith("duckdb") else "postgres", tmp_path / "kpi") as url:
        with Workspace.open(url, settings=settings) as kpi:
            load_kpi_shop(kpi)
            data = kpi.reports.data()
            html = report.render_report(data, kpi.experiments.effects(as_of=data.shop.as_of), kpi.playbooks.list(),
                                        whole)
            written = section(report.write_report(kpi, tmp_path / "report.html").read_text(encoding="utf-8"))
            mine = kpi.experiments.programme(data.shop.as_of)
    adjusted, _, _ = cuped(outcome, covariate)
    interval = scipy_stats.ttest_ind(adjusted[outside], adjusted[~outside], equal_var=False).confidence_interval()
    low, high = interval.low, interval.high
    shown = section(html)
    said = re.search(r'<p class="note" id="experiments-programme">(.*?)</p>', shown, re.S)
    assert words(said.group(1)) == (
        f"The whole programme (added): Existing customers outside the global control group spent €2.90 more each "
        f"from 2025-01-01 to 2025-06-30 than those in it (95 % range €{low:.2f} to €{high:.2f}): about €464.00 added "
        f"in all (€{low * 160:,.2f} to €{high * 160:,.2f}). 160 existing customers outside the group and 40 in it "
        "(20 % set); the global control group gets no playbook at all (docs/experiments.md).")
    assert 'data-warning="programme"' not in shown  # the split is exactly 20 %
    # write_report measures the KPI shop's own programme as of its day, in the same words.
    assert f"The whole programme ({mine.verdict}):" in words(written) and mine.control_share == 0.2


def test_without_enrolments_the_section_says_so_in_one_sentence(workspace, tmp_path):
    load_kpi_shop(workspace)
    html = report.write_report(workspace, tmp_path / "report.html").read_text(encoding="utf-8")
    shown = section(html)
    assert "<table" not in shown and "chart-experiments" not in shown and "warning" not in shown
    assert re.findall(r'<p class="note" id="experiments-none">([^<]*)<', shown) == [
        "No playbook has a customer whose window has ended yet, so there is nothing to compare: run the playbooks ("]
    assert words(shown) == ("What the playbooks added No playbook has a customer whose window has ended yet, so there "
                            "is nothing to compare: run the playbooks ( retainly run ) and their goal's days must "
                            "pass first.")


def test_render_report_without_effects_says_the_same(workspace):
    load_kpi_shop(workspace)
    assert "No playbook has a customer whose window has ended yet" in report.render_report(workspace.reports.data())


def effect(**changes) -> PlaybookEffect:
    """A playbook's effect with 40 treated and 40 held out (50 %), changed where a test says."""
    fields = dict(playbook="p", as_of=date(2024, 3, 1), window_days=30, treated=40, held_out=40, holdout_share=0.5,
                  sample_ratio_p=1.0, sample_ratio_warning=False, treated_revenue=6.0, held_out_revenue=10.0,
                  difference=-4.0, low=-7.0, high=-1.0, bootstrap_low=-6.5, bootstrap_high=-1.5,
                  incremental_revenue=-160.0, incremental_low=-280.0, incremental_high=-40.0, orders_difference=-0.1,
                  treated_repeat_rate=0.3, held_out_repeat_rate=0.4, variance_removed=0.2, detectable_effect=2.5, verdict="lost", customers_needed=900, weeks_needed=None)
    return PlaybookEffect(**(fields | changes))


def described(found: PlaybookEffect, share: float | None = None) -> dict:
    return experiments.described(found, lambda value: report.format_money(value, "EUR"), "P", share)


def test_a_playbook_that_lost_says_less_and_lost():
    shown = described(effect())
    assert shown["sentence"] == ("Treated customers spent €4.00 less each in the 30 days after entering than held-out "
                                 "customers (95 % range -€7.00 to -€1.00): about €160.00 lost in all (-€280.00 to "
                                 "-€40.00).")
    assert shown["verdict_sentence"] == "The whole range lies below zero: the playbook cost revenue."
    assert (shown["needed"], shown["warning"], shown["verdict_class"]) == (None, None, "lost")


def test_no_clear_effect_says_what_the_test_could_find():
    shown = described(effect(verdict="no clear effect", difference=0.5, low=-1.0, high=2.0))
    assert shown["has_point"]
    assert shown["verdict_sentence"] == ("The range takes in zero: no clear effect, though the test was large enough "
                                         "to find a difference of €2.50 per customer 8 times in 10.")


@pytest.mark.parametrize("changes, share, needed", [
    ({"treated": 0, "held_out": 0, "holdout_share": None}, 0.0,
     "Nobody's window has ended yet: it holds nobody out, so what it adds cannot be measured; give it a holdout "
     "share."),
    ({"treated": 0, "held_out": 0, "holdout_share": None}, 0.25,  # 30 held out at a quarter: 120 in all
     "Nobody's window has ended yet; telling needs at least 30 in each group: about 120 customers in all with 25 % "
     "held out, 120 more."),
    ({"customers_needed": None}, None, "40 treated and 40 held out so far, but the held-out customers spent nothing "
                                       "in the window, so there is no tenth of it to look for yet."),
    ({}, None, "40 treated and 40 held out so far, too few for the spread of what customers spend: finding a "
               "difference of €1.00 per customer (a tenth of what held-out customers spend) needs about 900 customers "
               "in all, 820 more; nobody entered it in the last 8 weeks, so when cannot be said."),
])
def test_the_customers_still_needed(changes, share, needed):
    shown = described(effect(verdict=experiments.NOT_ENOUGH, **changes), share)
    assert (shown["has_point"], shown["sentence"], shown["needed"]) == (False, None, needed)
