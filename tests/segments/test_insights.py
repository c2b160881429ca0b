"""Buyer types, intervals, reorders due and offers, stored per date and read back everywhere.

The analyses themselves are tested by hand and against the truth elsewhere
(test_buyer_types*.py, tests/features/test_replenishment*.py, test_associations.py); these
tests check that what is stored is exactly what they return, and that the Workspace, the
CLI, `customer show` and the report read it back. A generated shop of 3,000 customers
(seed 42) gives every table some rows.
"""

from __future__ import annotations

import json

import pytest

from retainly import Workspace
from retainly.cli.app import main
from retainly.features import customer_view
from retainly.features.associations import next_products
from retainly.features.replenishment import product_intervals, reorders_due
from retainly.views.report import write_report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    path = tmp_path_factory.mktemp("insights") / "shop.duckdb"
    with Workspace.open(f"duckdb:///{path}") as ws:
        ws.data.generate(3000, 42)
        as_of = ws.data.last_order_date()
        counts = ws.insights.compute(as_of)
        yield ws, as_of, counts, path


def test_stored_rows_are_what_the_analyses_return(shop):
    ws, as_of, counts, _ = shop
    intervals = product_intervals(ws.store, as_of)
    assert counts.product_intervals == len(intervals) > 0
    assert counts.reorders_due == len(reorders_due(ws.store, as_of, intervals)) > 0
    assert counts.next_products == len(next_products(ws.store, as_of)) > 0
    stored = {row[0] for row in ws.store.fetchall(
        "SELECT sku FROM product_intervals WHERE as_of = ? AND consumable", (as_of,))}
    assert stored == set(intervals.loc[intervals["consumable"], "sku"])
    # Every customer who bought gets at most one buyer type; rule labels carry no probability.
    assert ws.store.fetchone("SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM buyer_types WHERE as_of = ?",
                             (as_of,)) == (counts.buyer_types, counts.buyer_types)
    assert ws.store.fetchone("SELECT COUNT(*) FROM buyer_types WHERE as_of = ? AND source = 'rule' "
                             "AND probability IS NOT NULL", (as_of,))[0] == 0
    assert ws.store.fetchone("SELECT MIN(probability), MAX(probability) FROM buyer_types WHERE as_of = ? "
                             "AND source <> 'rule'", (as_of,))[0] >= 1 / 3  # the most likely of three types


def test_computing_again_replaces_the_rows(shop):
    ws, as_of, counts, _ = shop
    again = ws.insights.compute(as_of)
    assert again == counts
    assert ws.store.fetchone("SELECT COUNT(*) FROM reorders_due WHERE as_of = ?", (as_of,))[0] == counts.reorders_due


def test_mix_reorders_and_the_customer_view(shop):
    ws, as_of, counts, _ = shop
    mix = ws.insights.buyer_type_mix(as_of)
    assert sum(row.customers for row in mix.types) == counts.buyer_types
    assert "promo codes" in mix.promotion_note  # the generated shop has all three sources
    due = ws.insights.reorders(as_of, limit=None).due
    assert due and all(0 <= row.days_overdue for row in due)
    assert all(row.p_alive is None or row.p_alive >= 0.5 for row in due)
    customer = due[0].customer
    view = ws.customers.view(customer, as_of).lifecycle
    assert due[0].sku in {row.sku for row in view.reorders_due}
    owned = {sku for (sku,) in ws.store.fetchall(
        "SELECT DISTINCT l.sku FROM order_lines l JOIN purchases p ON p.order_id = l.order_id "
        "JOIN customers c ON c.customer_id = p.customer_id WHERE c.external_id = ?", (customer,))}
    assert not owned & {row.sku for row in view.next_products}  # offers exclude what they have


def test_one_customers_offers_mined_alone_are_the_stored_ones(shop):
    # `customer show` mines only the shown customer's rules while the shop's offers are missing;
    # the rows must be exactly the stored ones (every customer with an offer, and one without).
    ws, as_of, _, _ = shop
    stored = next_products(ws.store, as_of)
    with_offers = sorted(set(stored["customer_id"]))
    without = ws.store.fetchone("SELECT MIN(customer_id) FROM customers WHERE customer_id NOT IN "
                                "(SELECT customer_id FROM next_products WHERE as_of = ?)", (as_of,))[0]
    for customer_id in [*with_offers[:: max(1, len(with_offers) // 40)], without]:
        alone = next_products(ws.store, as_of, customer_id=customer_id)
        assert alone.equals(stored[stored.customer_id == customer_id].reset_index(drop=True))
        assert (ws.insights.customer_offers(customer_id, as_of)
                == customer_view.stored_offers(ws.store, customer_id, as_of))
    heard, quiet = [], ws.progress
    ws.store.execute("DELETE FROM next_products WHERE as_of = ?", (as_of,))
    try:
        ws.progress = heard.append
        customer_id = with_offers[0]
        offers = ws.insights.customer_offers(customer_id, as_of)
        assert heard == [f"finding products to offer this customer as of {as_of}"]
        assert [offer["sku"] for offer in offers] == stored.loc[stored.customer_id == customer_id, "sku"].tolist()
        assert offers[0]["name"] is not None  # names come from the catalogue either way
        assert ws.store.fetchone("SELECT COUNT(*) FROM next_products")[0] == 0  # nothing stored
    finally:
        ws.progress = quiet
        ws.insights.compute_offers(as_of)


def test_commands_print_them(shop, capsys):
    *_, path = shop
    capsys.readouterr()
    main(["--db", str(path), "buyer-types", "--json"])  # returns normally on success (exit code 0)
    mix = json.loads(capsys.readouterr().out)
    assert {row["buyer_type"] for row in mix["types"]} == {"hit_and_run", "discount_only", "active"}
    main(["--db", str(path), "reorders", "--json", "--limit", "5"])
    assert len(json.loads(capsys.readouterr().out)["due"]) == 5


def test_the_report_shows_them(shop, tmp_path):
    ws, as_of, _, _ = shop
    html = write_report(ws, tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="buyer-types"' in html and 'id="reorders-due"' in html
    assert 'data-buyer-type="hit_and_run"' in html
