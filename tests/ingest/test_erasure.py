"""Erasing a customer: personal data gone everywhere, the shop's figures unchanged, and no
import (the same file again, an old file, a different file) brings the data back.

On the native fixture (tests/data/native), customer c1 is Ana Novak, ana@example.com,
+386 40 111 222, born 1990-04-12, in Ljubljana; she has orders 1001 and 1002, return R1
(reason "wrong size"), a call with a note and three site events in session s1. In the
Shopify fixture, the customer emma@example.com is Emma Müller of Berlin, phones
+49 151 0000000 and +49 30 1234567.
"""

from __future__ import annotations

import hashlib

import pytest

from retainly.errors import NotFoundError
from tests.conftest import DATA

NATIVE = DATA / "native"
KINDS = ("customers", "products", "orders", "returns", "interactions", "events")
ANA = ("Ana Novak", "ana@example.com", "+386 40 111 222", "Thanked for the first order")
# The pseudonym: "erased-" and the first 12 hex digits of the SHA-256 of "c1".
C1_HASH = hashlib.sha256(b"c1").hexdigest()
C1_PSEUDONYM = "erased-" + C1_HASH[:12]


def import_native(ws, force: bool = False) -> None:
    for kind in KINDS:
        result = ws.data.import_file(kind, NATIVE / f"{kind}.csv", force=force)
        assert result.rows_rejected == 0, result.rejects


def found_anywhere(store, needles) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every text column of every table holding a needle: inside its text,
    or, for a needle shorter than 5 characters (an id such as "c1"), as its whole value."""
    hits = []
    for table in sorted(store.table_names()):
        schema = store.table(table).schema()
        for column, dtype in schema.items():
            if not dtype.is_string():
                continue
            for needle in needles:
                test = f'STRPOS("{column}", ?) > 0' if len(needle) >= 5 else f'"{column}" = ?'
                count = store.fetchone(f"SELECT COUNT(*) FROM {table} WHERE {test}", (needle,))[0]
                if count:
                    hits.append((table, column, needle))
    return hits


def figures(ws):
    return ws.data.summary(), ws.measures.kpis(by="month"), ws.measures.kpis(by="channel")


def test_erasure_survives_reimports_of_the_same_and_other_files(workspace, tmp_path):
    ws = workspace
    import_native(ws)
    assert found_anywhere(ws.store, ANA)  # the scan finds the data while it is there
    before = figures(ws)
    orders_before = ws.store.fetchall("SELECT order_id, customer_id FROM orders ORDER BY order_id")

    erased = ws.customers.erase("c1")

    assert (erased.customer_id, erased.external_id, erased.already_erased) == (1, C1_PSEUDONYM, False)
    assert erased.fields == ["external_id", "name", "email", "phone", "gender", "birthday", "country", "city",
                             "email_consent", "email_consent_at", "sms_consent", "interactions.note",
                             "returns.reason", "site_events.session_id"]
    assert erased.rows_changed == {"customers": 1, "interactions": 1, "returns": 1, "site_events": 3}
    assert found_anywhere(ws.store, (*ANA, "c1")) == []
    assert figures(ws) == before  # summary and KPIs identical
    assert ws.store.fetchall("SELECT order_id, customer_id FROM orders ORDER BY order_id") == orders_before
    assert ws.store.fetchall("SELECT customer_id, external_id_hash, erased_fields FROM erasures") == [
        (1, C1_HASH, ",".join(erased.fields))]

    import_native(ws, force=True)  # the very same files again
    assert found_anywhere(ws.store, (*ANA, "c1")) == []
    assert figures(ws) == before
    assert ws.store.fetchall("SELECT order_id, customer_id FROM orders ORDER BY order_id") == orders_before
    assert ws.store.fetchone("SELECT COUNT(*) FROM interactions")[0] == 2  # replaced, not doubled

    # A different export: new personal values, a new order, the id with a zero-width space.
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,email,phone,birthday,city\n"
        "c1\u200b,Ana Novak-Kranjc,ana.novak@work.example,+386 41 999 888,1990-04-12,Maribor\n", encoding="utf-8")
    (tmp_path / "orders.csv").write_text(
        "order_id,customer_id,placed_at,status,currency,line_no,sku,quantity,unit_price,kind\n"
        "2001,c1,2024-04-02 10:00:00,completed,EUR,1,MUG-1,1,9.90,merchandise\n", encoding="utf-8")
    (tmp_path / "interactions.csv").write_text(
        "customer_id,occurred_at,kind,note\nc1,2024-04-03 09:00:00,call,Ana asked about her Maribor address\n",
        encoding="utf-8")
    for kind in ("customers", "orders", "interactions"):
        assert ws.data.import_file(kind, tmp_path / f"{kind}.csv").rows_rejected == 0
    new = ("Ana Novak-Kranjc", "ana.novak@work.example", "+386 41 999 888", "Maribor")
    assert found_anywhere(ws.store, (*ANA, *new, "c1")) == []
    assert ws.store.fetchall("SELECT customer_id FROM orders WHERE order_id = '2001'") == [(1,)]
    assert ws.store.fetchone("SELECT COUNT(*) FROM customers")[0] == 3  # no second Ana
    assert ws.store.fetchall(
        "SELECT name, email, phone, gender, birthday, country, city, email_consent, sms_consent, acquisition_channel "
        "FROM customers WHERE customer_id = 1") == [(None,) * 9 + ("paid_search",)]
    assert ws.data.summary().orders == before[0].orders + 1


def test_a_shopify_customer_whose_id_is_their_email(workspace):
    ws = workspace
    shopify = DATA / "shopify_orders.csv"
    assert ws.data.import_file("orders", shopify).rows_rejected == 0
    emma = ("emma@example.com", "Emma Müller", "+49 151 0000000", "+49 30 1234567")
    assert found_anywhere(ws.store, emma[:2])
    before = figures(ws)

    erased = ws.customers.erase("emma@example.com")
    assert erased.external_id == "erased-" + hashlib.sha256(b"emma@example.com").hexdigest()[:12]
    assert found_anywhere(ws.store, emma) == []
    assert figures(ws) == before

    ws.data.import_file("orders", shopify, force=True)
    assert found_anywhere(ws.store, emma) == []
    assert figures(ws) == before
    # The erased customer is found by the old id, and by the pseudonym.
    assert ws.customers.erase("emma@example.com").already_erased
    assert ws.customers.erase(erased.external_id).customer_id == erased.customer_id


def test_erasing_twice_keeps_the_first_record(workspace):
    import_native(workspace)
    first = workspace.customers.erase("c1")
    again = workspace.customers.erase("c1")
    assert again.already_erased and again.erased_at == first.erased_at
    assert again.fields == [] and again.external_id == first.external_id
    assert workspace.store.fetchone("SELECT COUNT(*) FROM erasures")[0] == 1


def test_a_dry_run_erases_nothing(workspace):
    import_native(workspace)
    preview = workspace.customers.erase("c1", dry_run=True)
    assert preview.dry_run and "email" in preview.fields
    assert workspace.store.fetchall("SELECT external_id, email FROM customers WHERE customer_id = 1") == [
        ("c1", "ana@example.com")]
    assert workspace.store.fetchone("SELECT COUNT(*) FROM erasures")[0] == 0


def test_an_unknown_customer_is_named_and_nothing_changes(workspace):
    import_native(workspace)
    with pytest.raises(NotFoundError, match="no customer with id 'c9'; .*nothing was erased"):
        workspace.customers.erase("c9")
    assert workspace.store.fetchone("SELECT COUNT(*) FROM erasures")[0] == 0


def test_rejected_rows_holding_the_customer_are_cleared(workspace, tmp_path):
    # The second row has a field too many: it is rejected with the whole line as its value.
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,email,birthday\nc1,Ana Novak,ana@example.com,1990-04-12\n"
        "c1,Ana Novak,ana@example.com,1990-04-12,extra\nc2,Bo,bo@example.com,\n", encoding="utf-8")
    assert workspace.data.import_file("customers", tmp_path / "customers.csv").rows_rejected == 1
    assert found_anywhere(workspace.store, ANA[:2]) != []
    rejects = workspace.store.fetchone("SELECT COUNT(*) FROM import_rejects")[0]
    erased = workspace.customers.erase("c1")
    assert erased.rows_changed["import_rejects"] == 1
    assert found_anywhere(workspace.store, (*ANA[:2], "c1")) == []
    assert workspace.store.fetchone("SELECT COUNT(*) FROM import_rejects")[0] == rejects  # cleared, not deleted
    assert found_anywhere(workspace.store, ("bo@example.com",)) != []  # another customer is untouched


def test_a_deleted_erased_customer_stays_erased(workspace):
    import_native(workspace)
    workspace.customers.erase("c1")
    workspace.data.delete("customers", [C1_PSEUDONYM])
    assert workspace.store.fetchone("SELECT COUNT(*) FROM erasures")[0] == 1  # the record stays
    import_native(workspace, force=True)
    assert found_anywhere(workspace.store, (*ANA, "c1")) == []
    back = workspace.store.fetchone("SELECT customer_id FROM customers WHERE external_id = ?", (C1_PSEUDONYM,))[0]
    assert workspace.store.fetchall("SELECT customer_id FROM erasures") == [(back,)]
