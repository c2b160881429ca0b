"""What ``/experiments`` shows beyond the playbooks, on both engines: the whole programme against
the global control group (above them) and the offers' decisions (below them).

The shop is tests/experiments/test_programme.py's, with its worked figures: 160 existing customers
outside a 20 % group and 40 in it, who spent 2.90 more each from 2025-01-01 to 2025-06-30, 464.00
added in all, "added"; the 95 % range is Welch's on the CUPED-adjusted outcomes, recomputed with
SciPy as there. Its orders carry no currency, so amounts show bare. The offers' decisions are
written by hand below and summed by hand. With the default settings neither shows
(tests/web/test_pages_experiments.py checks the page is as before).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from scipy import stats as scipy_stats

from retainly import Workspace
from retainly.experiments.stats import cuped
from retainly.web.app import create_app
from tests.conftest import fresh_store_url
from tests.experiments.test_programme import SETTINGS, ids, shop
from tests.web.conftest import serving
from tests.web.experiment_lab import ANALYST, Lab
from tests.web.test_login import PASSWORD
from tests.web.test_pages_experiments import text

MODEL = "learned: gradient boosting on 120 ended units"
# (playbook, decided on, model, offered, expected gain): birthday's are targeted by the settings below.
DECISIONS = (
    ("birthday", date(2025, 6, 1), MODEL, True, 3.0),
    ("birthday", date(2025, 6, 1), MODEL, True, 1.5),
    ("birthday", date(2025, 6, 1), MODEL, False, -2.0),
    ("birthday", date(2025, 6, 1), MODEL, False, -0.5),
    ("birthday", date(2025, 6, 15), "offer test: offered at random", True, None),
    ("birthday", date(2025, 6, 15), "offer test: not offered, at random", False, None),
    ("birthday", date(2025, 7, 1), MODEL, True, 100.0),  # after the day shown: not counted
)
# By hand, as of 2025-06-30: 6 decisions, 3 offered (3.0, 1.5 and the test's), 3 withheld; the expected
# gain of the offers given 3.0 + 1.5 = 4.50, had everyone been offered 4.5 - 2.0 - 0.5 = 2.00, saving 2.50.


@pytest.fixture(scope="module", params=["duckdb", "postgres"], name="extras")
def extras_fixture(request, tmp_path_factory) -> Iterator[Lab]:
    folder = tmp_path_factory.mktemp(f"experiment-extras-{request.param}")
    with fresh_store_url(request.param, folder) as url:
        settings = folder / "retainly.toml"
        settings.write_text(SETTINGS + 'target_offers = ["birthday"]\n', encoding="utf-8")
        with Workspace.open(url, settings=settings) as ws:
            figures = shop(ws)  # (outside the group, outcome, covariate) per customer
            customers = ids()[1]
            for k, (playbook, day, model, offered, gain) in enumerate(DECISIONS):
                ws.store.execute("INSERT INTO offer_decisions (playbook, customer_id, occurrence, step, "
                                 "decided_on, model, offered, expected_gain, expected_cost) "
                                 "VALUES (?, ?, 'once', 1, ?, ?, ?, ?, ?)",
                                 (playbook, customers[k], day, model, offered, gain, None if gain is None else 1.0))
            ws.users.add(ANALYST, "analyst", PASSWORD)
            _, token = ws.keys.create("analyst")
        app = create_app(url, settings_path=settings)
        with serving(app) as base, httpx.Client(base_url=base, timeout=60) as client:
            lab = Lab(app, client, token)
            lab.figures = figures
            yield lab


def hand_range(extras) -> tuple[float, float]:
    """Welch's 95 % interval of the CUPED-adjusted outcomes, outside the group against in it."""
    outside, outcome, covariate = extras.figures
    adjusted, _, _ = cuped(outcome, covariate)
    interval = scipy_stats.ttest_ind(adjusted[outside], adjusted[~outside], equal_var=False).confidence_interval()
    return interval.low, interval.high


def test_the_whole_programme_above_the_playbooks(extras):
    with extras.visitor() as analyst:
        page = analyst.client.get("/experiments?as_of=2025-06-30")
    assert page.status_code == 200, page.text
    low, high = hand_range(extras)
    shown = text(page.text)
    assert (f"The whole programme Existing customers outside the global control group spent 2.90 more each from "
            f"2025-01-01 to 2025-06-30 than those in it (95 % range {low:.2f} to {high:.2f}): about 464.00 added "
            f"in all ({low * 160:,.2f} to {high * 160:,.2f}).") in shown
    assert ("Verdict: added . 160 existing customers outside the group and 40 in it (20 % set): customers who bought "
            "before 2025-01-01") in shown
    assert 'data-warning="programme"' not in page.text  # the split is exactly 20 %
    assert page.text.index('id="programme"') < page.text.index("No playbook has a customer whose window ended")
    twin = extras.api("/experiments/programme", as_of="2025-06-30").json()
    assert (round(twin["difference"], 2), twin["incremental_revenue"], twin["verdict"]) == (2.9, 464.0, "added")


def test_the_offers_table_sums_the_decisions(extras):
    with extras.visitor() as analyst:
        page = analyst.client.get("/experiments?as_of=2025-06-30")
    table = page.text[page.text.index('<section id="offers">'):]
    rows = table.split("<tr data-offers=")[1:]
    assert [row.split('"')[1] for row in rows] == ["birthday"]  # the only one targeted or with decisions
    assert text("<tr data-offers=" + rows[0].split("</tr>")[0]).endswith(
        f"Birthday offer yes 6 3 3 4.50 2.00 2.50 {MODEL}")  # the hand sums above
    assert page.text.index('id="programme"') < page.text.index("No playbook has") < page.text.index('id="offers"')
    # A day later the decision of 2025-07-01 counts too: 7 decisions, 4 offered, gain 104.50, saving 2.50.
    with extras.visitor() as analyst:
        later = text(analyst.client.get("/experiments?as_of=2025-07-01").text)
    assert f"Birthday offer yes 7 4 3 104.50 102.00 2.50 {MODEL}" in later
