"""Exports never hold a customer without the consent their target needs, and a later run removes those
who withdrew it, on DuckDB and PostgreSQL. Every expected list and count is worked out by hand from
the customers written in each test (tests/exports/shop.py: each has one order, so all are in the
audience ``buyers``)."""

from __future__ import annotations

from datetime import date

import pytest

from retainly.errors import InputError
from tests.exports.shop import customer_id, load, many, md5, members, person, read_csv, reimport, sha

AS_OF = date(2024, 3, 1)


def export(ws, name, target, folder, incremental=True, **options):
    ws.exports.add(name, target, "audience:buyers", {"folder": str(folder), **options}, incremental=incremental)


def test_an_email_service_gets_only_customers_with_email_consent_and_no_suppression(workspace, tmp_path):
    ws = workspace
    load(ws, tmp_path, [
        person("e1", "e1@example.com"),
        person("e2", "e2@example.com", email_consent="no"),  # no email consent
        person("e3", "e3@example.com"),  # suppressed on email below
        person("e4", "e4@example.com"),  # suppressed on all below
        person("e5", "e5@example.com", ads_consent="no"),  # suppressed on ads below: email still allowed
        person("e6", None),  # consent, but no address: nothing to send
    ])
    ws.playbooks.suppress("e3", "email", "unsubscribed")
    ws.playbooks.suppress("e4", "all", "erased")
    ws.playbooks.suppress("e5", "ads", "manual")
    export(ws, "mail", "mailchimp_csv", tmp_path / "out", default_country="US")
    result = ws.exports.run("mail", AS_OF)
    assert (result.status, result.added, result.removed, result.kept) == ("completed", 2, 0, 0)
    rows = read_csv(tmp_path / "out" / f"mail-{result.run_id}-add.csv")
    assert [row["Email Address"] for row in rows] == ["e1@example.com", "e5@example.com"]
    assert members(ws, "mail") == {"e1", "e5"}


def test_ad_platforms_get_only_customers_whose_consent_covers_advertising(workspace, tmp_path):
    # 2,100 customers, all with ads consent but: b0000-b0049 without it, b0050-b0059 suppressed on ads,
    # b0060-b0069 on all; b0070-b0079 suppressed on email only, which ads ignore. 2,100 - 50 - 10 - 10 = 2,030
    # customers may be sent: above VK's minimum (2,000), Google's (1,000) and Meta's (100).
    ws = workspace
    people = many(2100)
    for row in people[:50]:
        row["ads_consent"] = "no"
    load(ws, tmp_path, people)
    for i, channel in [(i, "ads") for i in range(50, 60)] + [(i, "all") for i in range(60, 70)] + \
            [(i, "email") for i in range(70, 80)]:
        ws.playbooks.suppress(f"b{i:04d}", channel, "manual")
    allowed = {f"user{i}@example.com" for i in range(80, 2100)} | {f"user{i}@example.com" for i in range(70, 80)}
    assert len(allowed) == 2030
    for name, target in (("google", "google_csv"), ("meta", "meta_csv"), ("vk", "vk_csv")):
        export(ws, name, target, tmp_path / "out", default_country="US")
        result = ws.exports.run(name, AS_OF)
        assert (result.status, result.added) == ("completed", 2030), name
        rows = read_csv(tmp_path / "out" / f"{name}-{result.run_id}-add.csv")
        column, digest = {"google": ("Email", sha), "meta": ("email", sha), "vk": ("id", md5)}[name]
        assert {row[column] for row in rows} == {digest(email) for email in allowed}, name
        assert len(members(ws, name)) == 2030


def test_an_incremental_run_after_consent_is_withdrawn_by_reimport_removes_the_customer(workspace, tmp_path):
    ws = workspace
    people = [person("a", "a@example.com"), person("b", "b@example.com"), person("c", "c@example.com")]
    load(ws, tmp_path, people)
    export(ws, "mail", "mailchimp_csv", tmp_path / "out", default_country="US")
    first = ws.exports.run("mail", AS_OF)
    assert (first.added, first.removed) == (3, 0)
    people[1]["email_consent"] = "no"  # b opts out in the shop; a later customer file says so
    reimport(ws, tmp_path, people)
    second = ws.exports.run("mail", AS_OF)
    assert (second.added, second.removed, second.kept) == (0, 1, 2)
    out = tmp_path / "out"
    assert [row["Email Address"] for row in read_csv(out / f"mail-{second.run_id}-remove.csv")] == ["b@example.com"]
    assert not (out / f"mail-{second.run_id}-add.csv").exists()  # nobody joined
    assert members(ws, "mail") == {"a", "c"}
    assert ws.store.fetchall("SELECT customer_id, change FROM export_changes WHERE run_id = ?",
                             (second.run_id,)) == [(customer_id(ws, "b"), "remove")]
    # Nothing changed since: a third run sends nothing and writes no file.
    third = ws.exports.run("mail", AS_OF)
    assert (third.status, third.added, third.removed, third.kept, third.destination) == ("completed", 0, 0, 2, None)
    assert sorted(p.name for p in out.iterdir()) == [f"mail-{first.run_id}-add.csv", f"mail-{second.run_id}-remove.csv"]
    (listed,) = ws.exports.list()
    assert (listed.name, listed.members, listed.last_status) == ("mail", 2, "completed")
    runs = ws.exports.show("mail").runs
    assert [(r.run_id, r.added, r.removed, r.kept) for r in runs] == [
        (third.run_id, 0, 0, 2), (second.run_id, 0, 1, 2), (first.run_id, 3, 0, 0)]


def test_a_suppression_or_an_erasure_removes_the_customer_by_the_identifiers_sent(workspace, tmp_path):
    # 105 customers with ads consent (Meta serves audiences from 100). b0003 is suppressed on ads and b0004
    # erased (their email is gone from the store): the next run removes both by the hashes sent before.
    ws = workspace
    load(ws, tmp_path, many(105))
    export(ws, "meta", "meta_csv", tmp_path / "out", default_country="US")
    assert ws.exports.run("meta", AS_OF).added == 105
    ws.playbooks.suppress("b0003", "ads", "manual")
    ws.customers.erase("b0004")
    second = ws.exports.run("meta", AS_OF)
    assert (second.added, second.removed, second.kept) == (0, 2, 103)
    removed = read_csv(tmp_path / "out" / f"meta-{second.run_id}-remove.csv")
    assert sorted(row["email"] for row in removed) == sorted([sha("user3@example.com"), sha("user4@example.com")])
    held = members(ws, "meta")
    assert len(held) == 103 and "b0003" not in held and not any(name.startswith("erased-") for name in held)


def test_a_full_export_writes_everyone_it_holds_now(workspace, tmp_path):
    ws = workspace
    people = [person("a", "a@example.com", name="Ann Lee"), person("b", "b@example.com", name="Bo Li")]
    load(ws, tmp_path, people)
    export(ws, "list", "csv", tmp_path / "out", incremental=False, fields="customer,email", consent="email")
    first = ws.exports.run("list", AS_OF)
    people[0]["email_consent"] = "no"
    reimport(ws, tmp_path, people)
    second = ws.exports.run("list", AS_OF)
    assert (second.added, second.removed, second.kept) == (0, 1, 1)
    assert read_csv(tmp_path / "out" / f"list-{first.run_id}.csv") == [
        {"customer": "a", "email": "a@example.com"}, {"customer": "b", "email": "b@example.com"}]
    assert read_csv(tmp_path / "out" / f"list-{second.run_id}.csv") == [{"customer": "b", "email": "b@example.com"}]
    assert members(ws, "list") == {"b"}


def test_an_audience_too_small_for_the_platform_is_refused_and_nothing_is_recorded(workspace, tmp_path):
    ws = workspace
    load(ws, tmp_path, [person(f"s{i}", f"s{i}@example.com") for i in range(3)])
    export(ws, "google", "google_csv", tmp_path / "out", default_country="US")
    with pytest.raises(InputError) as error:
        ws.exports.run("google", AS_OF)
    assert str(error.value) == ("export 'google': google needs an audience of at least 1,000 customers and this one "
                                "has 3; widen the audience's rule or export it to another platform; nothing was "
                                "written or sent")
    assert ws.store.fetchall("SELECT COUNT(*) FROM export_runs") == [(0,)]
    assert members(ws, "google") == set()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_phone_that_cannot_be_read_is_reported_per_customer_and_sent_without_it(workspace, tmp_path):
    ws = workspace
    load(ws, tmp_path, [person("p1", "p1@example.com", "(800) 555-0100", "Pat One"),
                        person("p2", "p2@example.com", "abc", "Pam Two")])
    export(ws, "mail", "mailchimp_csv", tmp_path / "out", default_country="US")
    result = ws.exports.run("mail", AS_OF)
    assert [(p.customer, p.phone) for p in result.phone_problems] == [("p2", "abc")]
    assert "is not a phone number" in result.phone_problems[0].reason
    rows = read_csv(tmp_path / "out" / f"mail-{result.run_id}-add.csv")
    assert [(row["Email Address"], row["Phone Number"]) for row in rows] == [
        ("p1@example.com", "+18005550100"), ("p2@example.com", "")]
    message = ws.store.fetchone("SELECT message FROM export_runs WHERE run_id = ?", (result.run_id,))[0]
    assert message.startswith("1 phones could not be read and were sent without them: customer p2: 'abc' is not")


def test_match_keys_count_what_each_customer_can_be_matched_on(workspace, tmp_path):
    # m1: email, phone, first and last name, country and zip; m2: email, a one-word name; m3: email, a phone
    # that cannot be read; m4: a phone, no email (Mailchimp cannot hold them). By hand: 4 rows, 3 emails,
    # 2 phones (m1, m4), 1 full name (m1), 1 full address (m1: names, country, zip), 3 usable (the emails).
    ws = workspace
    load(ws, tmp_path, [person("m1", "m1@example.com", "+1 800 555 0100", "Mia Moe", postal_code="10001"),
                        person("m2", "m2@example.com", None, "Max"),
                        person("m3", "m3@example.com", "12"),
                        person("m4", None, "+1 800 555 0101")])
    export(ws, "mail", "mailchimp_csv", tmp_path / "out", default_country="US")
    result = ws.exports.run("mail", AS_OF)
    assert result.match_keys == {"rows": 4, "email": 3, "phone": 2, "name": 1, "address": 1, "usable": 3}
    assert result.added == 3


def test_a_generic_file_writes_the_chosen_fields_and_no_cell_runs_as_a_formula(workspace, tmp_path):
    ws = workspace
    load(ws, tmp_path, [person("g1", "g1@example.com", name='=HYPERLINK("http://x.example","y")'),
                        person("g2", "g2@example.com", name="Gil", ads_consent="no")])
    export(ws, "ads", "csv", tmp_path / "out", fields="customer,name", consent="ads")
    result = ws.exports.run("ads", AS_OF)
    assert read_csv(tmp_path / "out" / f"ads-{result.run_id}-add.csv") == [
        {"customer": "g1", "name": '\'=HYPERLINK("http://x.example","y")'}]
    export(ws, "mail", "parquet", tmp_path / "out", fields="email,customer", consent="email")
    import pyarrow.parquet as pq

    result = ws.exports.run("mail", AS_OF)
    table = pq.read_table(tmp_path / "out" / f"mail-{result.run_id}-add.parquet")
    assert table.to_pylist() == [{"email": "g1@example.com", "customer": "g1"}, {"email": "g2@example.com",
                                                                                  "customer": "g2"}]
