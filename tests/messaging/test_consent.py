"""Consent and suppressions on the hand-checked KPI shop (tests/features/kpi_shop.py), on DuckDB
and PostgreSQL. A has an email and email consent; B an email without consent; C-E no email."""

from __future__ import annotations

import pytest

from retainly.errors import InputError
from retainly.messaging.consent import choose_channel, reachability, refusal, suppress
from tests.features.kpi_shop import KPI_SHOP, load_kpi_shop


@pytest.fixture
def shop(workspace):
    return load_kpi_shop(workspace)


def ids(ws):
    return dict(ws.store.fetchall("SELECT external_id, customer_id FROM customers"))


def test_consent_addresses_and_the_preferred_channel(shop):
    who = ids(shop)
    reach = reachability(shop.store, list(who.values()))
    assert refusal(reach[who["A"]], "email", marketing=True) is None
    assert refusal(reach[who["B"]], "email", marketing=True) == "no email consent"
    assert refusal(reach[who["B"]], "email", marketing=False) is None  # service contact needs no marketing consent
    assert refusal(reach[who["C"]], "email", marketing=False) == "no email address"
    assert refusal(reach[who["A"]], "sms", marketing=True) == "no phone number"
    assert choose_channel(reach[who["B"]], ("email", "sms"), True) == (None, "no email consent")
    assert choose_channel(reach[who["C"]], ("email", "task"), True) == ("task", None)
    shop.store.execute("INSERT INTO customer_attributes VALUES (?, 'preferred_channel', 'Task', CURRENT_TIMESTAMP)",
                       (who["A"],))
    preferred = reachability(shop.store, [who["A"]])[who["A"]]
    assert choose_channel(preferred, ("email", "task"), True) == ("task", None)


def test_a_suppression_wins_over_consent_and_survives_a_reimport(shop):
    who = ids(shop)
    suppress(shop.store, who["A"], "email", "unsubscribed", source="test")
    assert refusal(reachability(shop.store, [who["A"]])[who["A"]], "email", True) == "suppressed (unsubscribed)"
    shop.data.import_file("customers", KPI_SHOP / "customers.csv")  # A's file still says email consent yes
    reach = reachability(shop.store, [who["A"]])[who["A"]]
    assert reach.email_consent and refusal(reach, "email", True) == "suppressed (unsubscribed)"
    suppress(shop.store, who["B"], "all", "manual")
    assert refusal(reachability(shop.store, [who["B"]])[who["B"]], "task", False) == "suppressed (manual)"
    with pytest.raises(InputError, match="suppression reason 'bored' is unknown"):
        suppress(shop.store, who["A"], "email", "bored")
    with pytest.raises(InputError, match="channel 'task' cannot be suppressed"):
        suppress(shop.store, who["A"], "task", "manual")


def test_erasing_a_customer_scrubs_their_messages_and_suppresses_them(shop):
    who = ids(shop)
    shop.store.execute("INSERT INTO customer_attributes VALUES (?, 'likes', 'green', CURRENT_TIMESTAMP)",
                       (who["A"],))
    shop.store.execute(
        "INSERT INTO outbox (key, playbook, step, customer_id, occurrence, channel, priority, due_at, status, payload, "
        "attempts, created_at) VALUES ('p/1/x/once', 'p', 1, ?, 'once', 'email', 50, CURRENT_TIMESTAMP, 'sent', "
        "'{\"email\": \"ada@example.com\"}', 1, CURRENT_TIMESTAMP)", (who["A"],))
    erased = shop.customers.erase("A")
    assert erased.rows_changed["customer_attributes"] == 1 and erased.rows_changed["outbox"] == 1
    assert shop.store.fetchall("SELECT payload, status FROM outbox") == [('{"erased": true}', "sent")]
    assert shop.store.fetchall("SELECT channel, reason FROM suppressions WHERE customer_id = ?",
                               (who["A"],)) == [("all", "erased")]
    assert shop.store.fetchall("SELECT COUNT(*) FROM customer_attributes") == [(0,)]
