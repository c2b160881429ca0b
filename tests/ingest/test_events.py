"""Events sent item by item (ws.events.ingest), on both engines: what lands, once per idempotency key,
and what each invalid item is told, with the path of the field at fault.

Every expected figure is worked out by hand next to the test: an order of 2 x 6.95 and 1 x 10.00
is 13.90 + 10.00 = 23.90.
"""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest

from retainly import Workspace
from retainly.errors import InputError
from tests.conftest import fresh_store_url

TODAY = date(2024, 3, 31)  # the plausible dates end the day after: 2024-04-01


def order(key: str, order_id: str, customer: str | None = "C1", **fields) -> dict:
    item = {"idempotency_key": key, "order_id": order_id, "placed_at": "2024-03-01T10:00:00",
            "lines": [{"sku": "A", "quantity": 2, "unit_price": 6.95}, {"sku": "B", "quantity": 1, "amount": "10"}]}
    if customer is not None:
        item["customer_id"] = customer
    return {**item, **fields}


def ingest(ws: Workspace, kind: str, items: list) -> dict:
    return ws.events.ingest(kind, items, today=TODAY).to_dict()


def count(ws: Workspace, table: str) -> int:
    return int(ws.store.fetchone(f"SELECT COUNT(*) FROM {table}")[0])


def errors(answer: dict, index: int) -> list[tuple[str, str]]:
    return [(e["path"], e["message"]) for e in answer["items"][index]["errors"]]


def test_an_order_lands_with_its_lines_and_creates_its_customer(workspace):
    answer = ingest(workspace, "orders", [order("k1", "O1", channel="offline")])
    item = answer["items"][0]
    assert (answer["accepted"], answer["duplicates"], answer["invalid"]) == (1, 0, 0)
    assert (item["index"], item["idempotency_key"], item["status"], item["id"]) == (0, "k1", "accepted", "O1")
    assert item["errors"] == []
    row = workspace.store.fetchone("SELECT o.gross, o.net, o.channel, c.external_id FROM orders o "
                                   "JOIN customers c ON c.customer_id = o.customer_id")
    assert (float(row[0]), float(row[1]), row[2], row[3]) == (23.90, 23.90, "offline", "C1")
    assert count(workspace, "order_lines") == 2 and count(workspace, "purchases") == 1
    ledger = workspace.store.fetchone("SELECT import_id, kind, source, rows_read, rows_accepted FROM imports")
    assert ledger == (item["import_id"], "orders", "api events/orders", 1, 1)


def test_the_same_batch_twice_lands_once(workspace):
    batch = [order("k1", "O1"), order("k2", "O2", customer="C2")]
    first = ingest(workspace, "orders", batch)
    again = ingest(workspace, "orders", batch)
    assert [i["status"] for i in first["items"]] == ["accepted", "accepted"]
    assert [i["status"] for i in again["items"]] == ["duplicate", "duplicate"]
    # The duplicates answer with the first result: same record, import and time.
    for one, two in zip(first["items"], again["items"]):
        assert (two["id"], two["import_id"], two["received_at"]) == (one["id"], one["import_id"], one["received_at"])
    assert (count(workspace, "orders"), count(workspace, "order_lines"), count(workspace, "customers")) == (2, 4, 2)
    assert count(workspace, "imports") == 1  # the second batch wrote nothing, not even a ledger row
    assert count(workspace, "event_keys") == 2


def test_undoing_an_api_import_forgets_its_keys_so_the_events_can_be_sent_again(workspace):
    first = ingest(workspace, "orders", [order("k1", "O1")])
    import_id = first["items"][0]["import_id"]
    undone = workspace.data.delete(import_id=import_id)
    assert undone.rows_removed["event_keys"] == 1 and count(workspace, "orders") == 0
    again = ingest(workspace, "orders", [order("k1", "O1")])
    assert again["items"][0]["status"] == "accepted" and again["items"][0]["import_id"] != import_id
    assert count(workspace, "orders") == 1


def test_a_key_repeated_in_one_batch_lands_once(workspace):
    answer = ingest(workspace, "orders", [order("k1", "O1"), order("k1", "O2")])
    assert [i["status"] for i in answer["items"]] == ["accepted", "duplicate"]
    assert answer["items"][1]["id"] == "O1"  # answered as the first item with that key
    assert count(workspace, "orders") == 1


def test_a_changed_item_under_a_used_key_is_not_written(workspace):
    ingest(workspace, "orders", [order("k1", "O1")])
    answer = ingest(workspace, "orders", [order("k1", "O1", channel="phone")])
    assert answer["items"][0]["status"] == "duplicate"
    assert workspace.store.fetchone("SELECT channel FROM orders")[0] == "online"  # the default, as first sent


def test_a_new_key_for_the_same_order_replaces_it_as_a_file_would(workspace):
    ingest(workspace, "orders", [order("k1", "O1")])
    ingest(workspace, "orders", [order("k2", "O1", lines=[{"sku": "C", "quantity": 1, "unit_price": 5}])])
    assert workspace.store.fetchall("SELECT order_id, sku FROM order_lines") == [("O1", "C")]


def test_invalid_items_are_answered_with_paths_and_the_valid_ones_land(workspace):
    bad_lines = {"lines": [{"sku": "A", "quantity": "two", "unit_price": 6.95}, {"sku": "B", "quantity": 1}]}
    items = [
        order("k0", "O0"),
        order("k1", "O1", placed_at="31/02/2024"),
        order("k2", "O2", **bad_lines),
        order("k3", "O3", colour="red"),
        {"order_id": "O4"},
        order("k5", "O0"),
        order("k6", "O6", lines=[]),
        order("k7", "O7", status={"a": 1}),
        "not an object",
        order("k9", "O9", placed_at="2024-04-02"),
    ]
    answer = ingest(workspace, "orders", items)
    assert [i["status"] for i in answer["items"]] == ["accepted"] + ["invalid"] * 9
    assert errors(answer, 1) == [("items[1].placed_at", "not a date; send ISO 8601, e.g. 2024-03-31 or "
                                                        "2024-03-31T14:05:00")]
    assert errors(answer, 2) == [("items[2].lines[0].quantity", "not a whole number"),
                                 ("items[2].lines[1].unit_price", "give unit_price or amount")]
    assert errors(answer, 3)[0][0] == "items[3].colour"
    assert errors(answer, 3)[0][1].startswith("unknown field; an order has the fields idempotency_key, order_id, ")
    assert errors(answer, 4) == [("items[4].idempotency_key", "required value is missing; give every item a key of "
                                                              "your own (such as a UUID), unique per event")]
    assert errors(answer, 5) == [("items[5].order_id", "the same order as items[0]; send one item per order in a "
                                                       "batch (a later batch may replace it)")]
    assert errors(answer, 6)[0][0] == "items[6].lines"
    assert errors(answer, 7) == [("items[7].status", "an object; send a string, a number, true/false or null")]
    assert errors(answer, 8)[0][0] == "items[8].idempotency_key"
    # TODAY + 1 day is the last plausible date: 2024-04-02 is past it.
    assert errors(answer, 9)[0][0] == "items[9].placed_at"
    assert errors(answer, 9)[0][1].startswith("outside the plausible dates 1990-01-01 to 2024-04-01")
    assert workspace.store.fetchall("SELECT order_id FROM orders") == [("O0",)]
    assert count(workspace, "event_keys") == 1  # invalid items leave no key: fixed, they may come again
    # The problems are recorded with the import, as a file's rejects are.
    assert count(workspace, "import_rejects") == 10
    fixed = ingest(workspace, "orders", [order("k1", "O1")])
    assert fixed["items"][0]["status"] == "accepted"


@pytest.mark.parametrize(("key", "message"), [
    ("", "must be a non-empty string (such as a UUID)"),
    (17, "must be a non-empty string (such as a UUID)"),
    ("k" * 201, "201 characters; a key may have at most 200"),
    ("a\x00b", "must be text without NUL bytes or lone surrogates (such as a UUID)"),
    ("\ud800", "must be text without NUL bytes or lone surrogates (such as a UUID)"),
])
def test_a_bad_key_is_refused(workspace, key, message):
    answer = ingest(workspace, "site_events", [{"idempotency_key": key, "occurred_at": "2024-03-01", "kind": "visit"}])
    assert errors(answer, 0) == [("items[0].idempotency_key", message)]


def test_text_no_store_can_hold_is_refused_by_path(workspace):
    answer = ingest(workspace, "site_events", [
        {"idempotency_key": "e1", "occurred_at": "2024-03-01", "kind": "vi\x00sit"},
        {"idempotency_key": "e2", "occurred_at": "2024-03-01", "kind": "visit", "sku": "\ud800"}])
    assert errors(answer, 0) == [("items[0].kind", "contains a NUL byte (\\x00), which the store cannot hold; "
                                                   "remove it")]
    assert errors(answer, 1) == [("items[1].sku", "not valid Unicode text (a lone surrogate such as \\ud800); "
                                                  "send the text as UTF-8")]
    assert count(workspace, "site_events") == 0


def test_a_refused_nul_beside_a_valid_item_is_recorded_with_the_import(workspace):
    # The valid item lands, so the batch is an import with rejects, recorded by path: a field's name
    # with a NUL in it is written out (PostgreSQL text takes no NUL byte; the schemathesis run found it).
    answer = ingest(workspace, "customers", [{"idempotency_key": "n1", "customer_id": "N1"},
                                             {"idempotency_key": "n2", "customer_id": "N2", "ci\x00ty": "Berlin"}])
    assert [item["status"] for item in answer["items"]] == ["accepted", "invalid"]
    assert errors(answer, 1)[0][0] == "items[1].ci\x00ty"
    (recorded,) = workspace.store.fetchall("SELECT column_name, reason FROM import_rejects")
    assert recorded[0] == "items[1].ci\\x00ty" and recorded[1].startswith("unknown field")


def test_a_batch_too_big_or_of_an_unknown_kind_is_refused_whole(workspace):
    with pytest.raises(InputError, match="1,001 items in one batch; send at most 1,000 a batch"):
        workspace.events.ingest("site_events", [{}] * 1001)
    with pytest.raises(InputError, match="unknown kind of event 'visits'"):
        workspace.events.ingest("visits", [])
    assert count(workspace, "imports") == 0


def test_returns_interactions_and_site_events_create_unknown_customers(workspace):
    ingest(workspace, "orders", [order("o1", "O1")])
    returned = ingest(workspace, "returns", [{
        "idempotency_key": "r1", "return_id": "R1", "order_id": "O1", "returned_at": "2024-03-04", "reason": "broken",
        "lines": [{"sku": "A", "quantity": 1, "unit_price": 6.95}, {"sku": "B", "quantity": 1, "amount": 10,
                                                                      "reason": "late"}]}])
    contact = ingest(workspace, "interactions", [
        {"idempotency_key": "i1", "customer_id": "C9", "occurred_at": "2024-03-04T12:00:00", "kind": "phone"},
        {"idempotency_key": "i2", "customer_id": "C9", "occurred_at": "2024-03-04", "kind": "dance"}])
    visits = ingest(workspace, "site_events", [
        {"idempotency_key": "e1", "customer_id": "C10", "occurred_at": "2024-03-04T12:00:00Z", "kind": "add_to_cart",
         "sku": "A"},
        {"idempotency_key": "e2", "event_id": "visit-1", "occurred_at": "2024-03-04", "kind": "visit"}])
    assert returned["accepted"] == 1 and visits["accepted"] == 2
    assert errors(contact, 1) == [("items[1].kind", "not one of call, email, sms, meeting, feedback, support")]
    # A return without a customer is its order's customer's; a line's reason overrides its return's.
    assert workspace.store.fetchall(
        "SELECT r.line_no, c.external_id, r.amount, r.reason FROM returns r JOIN customers c USING (customer_id) "
        "ORDER BY r.line_no") == [(1, "C1", Decimal("6.95"), "broken"), (2, "C1", Decimal("10"), "late")]
    # "phone" is a call, as in a file; ids default to the idempotency key; the zone offset is dropped.
    assert workspace.store.fetchall("SELECT interaction_id, kind FROM interactions") == [("i1", "call")]
    assert workspace.store.fetchall("SELECT event_id, kind, CAST(occurred_at AS VARCHAR) FROM site_events "
                                    "ORDER BY event_id")[0] == ("e1", "add_to_cart", "2024-03-04 12:00:00")
    assert sorted(r[0] for r in workspace.store.fetchall("SELECT external_id FROM customers")) == ["C1", "C10", "C9"]


def test_consent_changes_only_known_customers(workspace):
    ingest(workspace, "customers", [{"idempotency_key": "c1", "customer_id": "C1", "name": "Ann", "email": "a@x.org",
                                     "email_consent": False}])
    answer = ingest(workspace, "consent", [
        {"idempotency_key": "k1", "customer_id": "C1", "channel": "email", "granted": True, "at": "2024-03-05T09:00"},
        {"idempotency_key": "k2", "customer_id": "C1", "channel": "SMS", "granted": "no", "at": "2024-03-06"},
        {"idempotency_key": "k3", "customer_id": "C2", "channel": "email", "granted": True, "at": "2024-03-07"},
        {"idempotency_key": "k4", "customer_id": "C1", "channel": "fax"},
        {"idempotency_key": "k5", "customer_id": "C1", "channel": "email", "granted": False, "at": "2024-03-08"},
    ])
    assert [i["status"] for i in answer["items"]] == ["accepted", "accepted", "invalid", "invalid", "invalid"]
    assert errors(answer, 2) == [("items[2].customer_id", "no customer with this id; send the customer first "
                                                          "(POST /api/v1/events/customers) or check the id")]
    assert [path for path, _ in errors(answer, 3)] == ["items[3].channel", "items[3].granted"]
    assert errors(answer, 4) == [("items[4].customer_id", "the same customer and channel as items[0]; send one "
                                                          "consent change per customer and channel in a batch")]
    row = workspace.store.fetchone("SELECT name, email_consent, CAST(email_consent_at AS VARCHAR), sms_consent, "
                                   "CAST(sms_consent_at AS VARCHAR) FROM customers")
    assert row == ("Ann", True, "2024-03-05 09:00:00", False, "2024-03-06 00:00:00")
    assert count(workspace, "customers") == 1


def _race(urls: list[str], batch: list[dict]) -> list[dict]:
    """Each URL's workspace sends ``batch`` at the same moment, from its own thread and connection."""
    spaces = [Workspace.open(url) for url in urls]
    start = threading.Barrier(len(spaces))
    answers: list[dict] = [{}] * len(spaces)

    def send(number: int) -> None:
        start.wait()
        answers[number] = ingest(spaces[number], "orders", batch)

    threads = [threading.Thread(target=send, args=(number,)) for number in range(len(spaces))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for ws in spaces:
        ws.close()
    return answers


def test_writers_racing_the_same_keys_land_once_on_postgresql(tmp_path):
    """Two connections (as two server processes would have) send the same 50 orders at once."""
    with fresh_store_url("postgres", tmp_path) as url:
        Workspace.open(url).close()
        batch = [order(f"k{n}", f"O{n}", customer=f"C{n % 7}") for n in range(50)]
        for _round in range(3):
            answers = _race([url, url, url], batch)
            statuses = [[i["status"] for i in answer["items"]] for answer in answers]
            # Each key is accepted by exactly one writer (in the first round) and answered as duplicate by the others.
            for n in range(50):
                assert sorted(s[n] for s in statuses) in (["accepted", "duplicate", "duplicate"],
                                                          ["duplicate"] * 3)
            with Workspace.open(url) as ws:
                assert (count(ws, "orders"), count(ws, "order_lines"), count(ws, "event_keys")) == (50, 100, 50)
                assert count(ws, "customers") == 7
                assert count(ws, "imports") == 1  # the writers that lost the race rolled back, ledger row and all


def test_batches_that_arrive_together_are_written_together_and_answered_apart(workspace):
    first = [order("a0", "A0"), order("a1", "A1", placed_at="not a date")]
    second = [order("b0", "B0", lines=[{"quantity": "x", "unit_price": 1}]), order("b1", "B1")]
    one, two = [answer.to_dict() for answer in workspace.events.ingest_together("orders", [first, second], today=TODAY)]
    assert [(i["index"], i["status"]) for i in one["items"]] == [(0, "accepted"), (1, "invalid")]
    assert [(i["index"], i["status"]) for i in two["items"]] == [(0, "invalid"), (1, "accepted")]
    # Each batch names its own items: the second batch's first item is its items[0].
    assert errors(one, 1)[0][0] == "items[1].placed_at"
    assert errors(two, 0) == [("items[0].lines[0].quantity", "not a whole number")]
    assert (one["accepted"], two["accepted"]) == (1, 1)
    assert count(workspace, "imports") == 1 and count(workspace, "orders") == 2  # one merge for both


def test_batches_that_share_a_key_or_an_order_are_written_one_after_the_other(workspace):
    first = [order("k1", "O1"), order("k2", "O2")]
    same_key = [order("k1", "O9")]
    same_order = [order("k3", "O2", lines=[{"sku": "C", "quantity": 1, "unit_price": 5}])]
    answers = [answer.to_dict() for answer in
               workspace.events.ingest_together("orders", [first, same_key, same_order], today=TODAY)]
    assert [[i["status"] for i in answer["items"]] for answer in answers] == [
        ["accepted", "accepted"], ["duplicate"], ["accepted"]]
    assert answers[1]["items"][0]["id"] == "O1"  # the first answer of key k1
    # The later batch's O2 replaced the earlier one, as it would have coming alone, later.
    assert workspace.store.fetchall("SELECT sku FROM order_lines WHERE order_id = 'O2'") == [("C",)]
    # Runs: [first], then [same_key, same_order] (they share nothing); same_key writes nothing.
    assert count(workspace, "imports") == 2
