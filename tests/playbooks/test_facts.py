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
