"""The graph of derived results: declared once, walked needs first, computed only when stale.

On the hand-checked KPI shop (tests/features/kpi_shop.py) through the public core, with the
workspace's progress hook recording what the walker computes.
"""

from __future__ import annotations

from datetime import date

import pytest

from retainly import Workspace
from retainly.services.derived import DECLARED, Derived, DerivedResults
from tests.conftest import kpi_shop_url

AS_OF = date(2024, 3, 31)
# What scoring says within "computing predictions" on this small shop (too few repeat buyers for a model).
SCORING_STEPS = [f"fitting heuristic rules on all the history to {AS_OF}",
                 "checking the chance to order within 90 days against the last year"]


@pytest.fixture(params=["duckdb", "postgres"])
def shop(request, tmp_path, store_templates):
    """On each engine, the KPI shop alone in a fresh store of its own (loaded once per session and copied,
    tests/conftest.py), opened to hear its progress (loading the shop says nothing)."""
    heard: list[str] = []
    with kpi_shop_url(store_templates, request.param, tmp_path) as url:
        ws = Workspace.open(url, progress=heard.append)
        ws.heard = heard
        yield ws
        ws.close()


def test_needs_come_first_each_once():
    graph = DerivedResults(None)
    assert [r.name for r in graph.in_order("lifecycle")] == ["predictions", "lifecycle"]
    assert [r.name for r in graph.in_order("rfm")] == ["rfm"]
    diamond = (Derived("a", "a", "t", print), Derived("b", "b", "t", print, needs=("a",)),
               Derived("c", "c", "t", print, needs=("a",)), Derived("d", "d", "t", print, needs=("b", "c")))
    assert [r.name for r in DerivedResults(None, diamond).in_order("d")] == ["a", "b", "c", "d"]


def test_a_circle_of_needs_is_refused():
    circle = (Derived("a", "a", "t", print, needs=("b",)), Derived("b", "b", "t", print, needs=("a",)))
    with pytest.raises(RuntimeError, match="circle: a -> b"):
        DerivedResults(None, circle).in_order("a")


def test_every_declared_need_is_declared():
    names = {result.name for result in DECLARED}
    assert all(set(result.needs) <= names for result in DECLARED)


def test_the_walker_computes_what_is_missing_in_order_and_says_so(shop):
    assert shop.lifecycle.ensure(AS_OF) == AS_OF
    assert shop.heard == [f"computing predictions as of {AS_OF}",
                          *SCORING_STEPS,
                          f"computing lifecycle stages and warning signs as of {AS_OF}"]
    shop.heard.clear()
    shop.lifecycle.counts(AS_OF)
    shop.predictions.scores(AS_OF)
    assert shop.heard == []  # both fresh: nothing computed again


def test_an_import_makes_every_result_stale(shop, tmp_path):
    shop.rfm.ensure(AS_OF)
    shop.lifecycle.ensure(AS_OF)
    shop.heard.clear()
    extra = tmp_path / "more_spend.csv"
    extra.write_text("spend_date,channel,campaign,amount\n2024-03-01,search,late,10.00\n", encoding="utf-8")
    assert shop.data.import_file("spend", extra).rows_rejected == 0
    shop.lifecycle.ensure(AS_OF)
    shop.rfm.ensure(AS_OF)
    assert shop.heard == [f"computing predictions as of {AS_OF}",
                          *SCORING_STEPS,
                          f"computing lifecycle stages and warning signs as of {AS_OF}",
                          f"computing RFM scores as of {AS_OF}"]


def test_recomputing_a_date_replaces_its_rows(shop):
    first = shop.rfm.compute(AS_OF)
    again = shop.rfm.compute(AS_OF, bins=3)
    assert first.customers == again.customers == 5
    stored = shop.store.fetchall("SELECT bins, COUNT(*) FROM rfm_scores WHERE as_of = ? GROUP BY bins", (AS_OF,))
    assert stored == [(3, 5)]


def test_the_products_to_offer_are_computed_only_when_asked_for(shop):
    # The report reads buyer types and reorders, never the offers (the slow association rules).
    shop.insights.ensure(AS_OF)
    assert shop.heard == [f"computing buyer types and reorders due as of {AS_OF}"]
    assert shop.store.fetchone("SELECT COUNT(*) FROM next_products")[0] == 0
    shop.heard.clear()
    shop.insights.ensure_offers(AS_OF)
    assert shop.heard == [f"computing products to offer (association rules) as of {AS_OF}"]
