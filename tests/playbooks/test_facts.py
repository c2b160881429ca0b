"""A run's facts choose channels and refuse them exactly as the consent rules do for one customer.

``Facts`` works once per reach profile over whole columns; the expected answers come from
retainly.messaging.consent's own row-by-row functions (``reachability``, ``choose_channel``,
``refusal``) on the same customers: the hand-checked KPI shop (tests/features/kpi_shop.py), with
suppressions and preferred channels added, on DuckDB and PostgreSQL.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from retainly.messaging.consent import choose_channel, reachability, refusal, suppress
from retainly.playbooks.facts import CONTEXT, Facts
from tests.features.kpi_shop import load_kpi_shop

CHANNEL_LISTS = [("email",), ("email", "sms"), ("sms", "email", "task"), ("task",), ("webhook", "email")]
MISSING = 987_654_321  # no such customer


@pytest.fixture
def shop(workspace):
    ws = load_kpi_shop(workspace)
    who = dict(ws.store.fetchall("SELECT external_id, customer_id FROM customers"))
    suppress(ws.store, who["A"], "email", "unsubscribed")
    suppress(ws.store, who["B"], "all", "manual")
    for customer, preferred in (("A", "Task"), ("C", " SMS "), ("D", "")):
        ws.store.execute("INSERT INTO customer_attributes VALUES (?, 'preferred_channel', ?, CURRENT_TIMESTAMP)",
                         (who[customer], preferred))
    return ws, who


def test_channels_and_refusals_equal_the_consent_rules_for_each_customer(shop):
    ws, who = shop
    ids = np.array([*sorted(who.values()), MISSING, who["A"]], np.int64)  # a repeat and a stranger too
    facts = Facts.load(ws.store, ids)
    reach = reachability(ws.store, ids.tolist())
    positions = facts.positions(ids)
    assert positions.null_count == 1
    for marketing in (True, False):
        for channels in CHANNEL_LISTS:
            chosen, reasons = facts.choose(positions, channels, marketing)
            assert list(zip(chosen, reasons)) == [choose_channel(reach.get(c), channels, marketing) for c in ids]
        for channel in ("email", "sms", "task"):
            assert facts.refusals(positions, channel, marketing).tolist() == \
                [refusal(reach.get(c), channel, marketing) for c in ids]


def test_what_messages_say_of_known_and_unknown_customers(shop):
    ws, who = shop
    ids = np.array([who["A"], MISSING], np.int64)
    facts = Facts.load(ws.store, ids, date(2025, 12, 31))
    context = facts.context(facts.positions(ids))
    assert context.column_names == list(CONTEXT)
    known, unknown = context.to_pylist()
    name = ws.store.fetchone("SELECT name FROM customers WHERE customer_id = ?", (who["A"],))[0]
    assert known["customer"] == "A" and known["name"] == (name or "")
    assert known["first_name"] == ((name or "").split(" ")[0] or "there")
    assert unknown == dict.fromkeys(CONTEXT)


def test_the_product_to_offer_and_the_first_due_come_with_their_page_picture_and_price(shop):
    """Hand-made: A is offered `OFFER`; two products are due, the first by name is "Beans" (its
    sku sorts last, so the name decides); one without a page or picture says nothing of them."""
    ws, who = shop
    day = date(2025, 12, 31)
    ws.store.execute("DELETE FROM products")
    for sku, name, price, url, image in (("OFFER", "Mug", "12.5", "https://shop.example/mug", None),
                                         ("ZZ", "Beans", "7.999", "https://shop.example/beans",
                                          "https://cdn.example/beans.jpg"),
                                         ("AA", "Filters", None, None, None)):
        ws.store.execute("INSERT INTO products (sku, name, price, url, image_url) VALUES (?, ?, ?, ?, ?)",
                         (sku, name, price, url, image))
    ws.store.execute("INSERT INTO next_products VALUES (?, ?, 1, 'OFFER', 0.5, 2.0, 'X', 'cross_sell', "
                     "CURRENT_TIMESTAMP)", (day, who["A"]))
    for sku in ("AA", "ZZ"):
        ws.store.execute("INSERT INTO reorders_due VALUES (?, ?, ?, ?, 30, ?, 1, CURRENT_TIMESTAMP)",
                         (day, who["A"], sku, date(2025, 11, 30), date(2025, 12, 30)))
    ids = np.array([who["A"], who["B"]], np.int64)
    facts = Facts.load(ws.store, ids, day)
    a, b = facts.context(facts.positions(ids)).to_pylist()
    assert (a["next_product"], a["next_product_url"], a["next_product_image"], a["next_product_price"]) == \
        ("Mug", "https://shop.example/mug", None, "12.50")
    assert (a["due_product"], a["due_product_url"], a["due_product_image"], a["due_product_price"]) == \
        ("Beans", "https://shop.example/beans", "https://cdn.example/beans.jpg", "8.00")  # 7.999 rounds up
    assert all(b[value] is None for value in ("next_product", "next_product_url", "due_product", "due_product_price"))
