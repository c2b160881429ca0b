"""API exports against a real local HTTP server (tests/exports/platform.py) that records each request:
method, path, authorisation and body are checked exactly, as the platforms document them
(../shared/ACTIONS.md, "Audience exports"). Hashes are recomputed here with hashlib from values
normalised by hand; counts are worked out by hand from the customers each test writes."""

from __future__ import annotations

import base64
import json
from datetime import date

import pytest

from retainly.errors import InputError
from retainly.exports.clients import CallFailed, MetaClient
from tests.exports.platform import Platform
from tests.exports.shop import load, many, md5, members, person, reimport, sha

AS_OF = date(2024, 3, 1)
SCHEMA = ["EMAIL", "PHONE", "FN", "LN", "COUNTRY", "ZIP"]


def meta_row(email: str) -> list[str]:
    # many() writes no name, phone or zip; the country US is hashed as Meta wants it: "us".
    return [sha(email), "", "", "", sha("us"), ""]


def add_meta(ws, platform):
    ws.exports.add("meta", "meta_api", "audience:buyers", {"audience_id": "6012345678", "base_url": platform.url,
                                                           "default_country": "US"})


def test_meta_gets_its_payload_added_and_a_leaver_deleted(workspace, tmp_path, monkeypatch):
    ws = workspace
    load(ws, tmp_path, many(105))  # 105 with ads consent: Meta serves audiences from 100
    monkeypatch.setenv("RETAINLY_META_ACCESS_TOKEN", "token-123")
    with Platform() as platform:
        add_meta(ws, platform)
        first = ws.exports.run("meta", AS_OF)
        ws.playbooks.suppress("b0003", "ads", "manual")
        second = ws.exports.run("meta", AS_OF)
        requests = platform.requests
    assert (first.status, first.added, second.removed, second.kept) == ("completed", 105, 1, 104)
    assert [(r["method"], r["path"]) for r in requests] == [("POST", "/6012345678/users"),
                                                            ("DELETE", "/6012345678/users")]
    assert all(r["headers"]["Authorization"] == "Bearer token-123" for r in requests)
    added = json.loads(requests[0]["body"])
    assert added == {"payload": {"schema": SCHEMA, "data": [meta_row(f"user{i}@example.com") for i in range(105)]}}
    assert json.loads(requests[1]["body"]) == {"payload": {"schema": SCHEMA, "data": [meta_row("user3@example.com")]}}
    assert "b0003" not in members(ws, "meta") and len(members(ws, "meta")) == 104


def test_a_refused_call_fails_the_run_records_nothing_as_sent_and_the_next_run_sends_it_all(workspace, tmp_path,
                                                                                             monkeypatch):
    ws = workspace
    load(ws, tmp_path, many(105))
    monkeypatch.setenv("RETAINLY_META_ACCESS_TOKEN", "token-123")
    refusal = {"error": {"message": "Invalid audience id", "type": "OAuthException", "code": 100}}
    state = {"refuse": True}
    with Platform(lambda method, path, nth: (400, refusal) if state["refuse"] else (200, {"num_received": 105})) \
            as platform:
        add_meta(ws, platform)
        failed = ws.exports.run("meta", AS_OF)
        assert len(platform.requests) == 1  # a 400 is final: no retry
        assert (failed.status, failed.added, failed.removed) == ("failed", 0, 0)
        assert failed.message.startswith(f"POST {platform.url}/6012345678/users answered HTTP 400 Bad Request: ")
        assert json.dumps(refusal) in failed.message
        status, message = ws.store.fetchone("SELECT status, message FROM export_runs WHERE run_id = ?",
                                            (failed.run_id,))
        assert (status, message) == ("failed", failed.message)
        assert members(ws, "meta") == set()
        assert ws.store.fetchall("SELECT COUNT(*) FROM export_changes") == [(0,)]
        state["refuse"] = False
        done = ws.exports.run("meta", AS_OF)
        assert (done.status, done.added) == ("completed", 105)
        assert len(json.loads(platform.requests[1]["body"])["payload"]["data"]) == 105
    assert len(members(ws, "meta")) == 105


def test_a_missing_key_or_a_too_small_audience_is_refused_before_anything_is_sent(workspace, tmp_path, monkeypatch):
    ws = workspace
    load(ws, tmp_path, many(3))
    monkeypatch.delenv("RETAINLY_META_ACCESS_TOKEN", raising=False)
    with Platform() as platform:
        add_meta(ws, platform)
        with pytest.raises(InputError, match="needs its key in the environment variable RETAINLY_META_ACCESS_TOKEN, "
                                             "which is not set"):
            ws.exports.run("meta", AS_OF)
        monkeypatch.setenv("RETAINLY_META_ACCESS_TOKEN", "token-123")
        with pytest.raises(InputError, match="meta needs an audience of at least 100 customers and this one has 3"):
            ws.exports.run("meta", AS_OF)
        assert platform.requests == []
    assert ws.store.fetchall("SELECT COUNT(*) FROM export_runs") == [(0,)]


def test_mailchimp_gets_members_upserted_by_hash_never_resubscribed_and_leavers_archived(workspace, tmp_path,
                                                                                        monkeypatch):
    ws = workspace
    people = [person("a", "Ann@Example.com", name="Ann Lee"), person("b", "bob@example.com"),
              person("c", "cat@example.com", email_consent="no")]
    load(ws, tmp_path, people)
    monkeypatch.setenv("RETAINLY_MAILCHIMP_API_KEY", "secret-us21")
    with Platform() as platform:
        ws.exports.add("mc", "mailchimp_api", "audience:buyers",
                       {"list_id": "abc123", "tags": "winback", "status_if_new": "pending",
                        "base_url": f"{platform.url}/3.0", "default_country": "US"})
        first = ws.exports.run("mc", AS_OF)
        people[1]["email_consent"] = "no"
        reimport(ws, tmp_path, people)
        second = ws.exports.run("mc", AS_OF)
        requests = platform.requests
    assert (first.added, second.removed) == (2, 1)
    assert [(r["method"], r["path"]) for r in requests] == [("POST", "/3.0/batches")] * 2
    basic = "Basic " + base64.b64encode(b"retainly:secret-us21").decode()
    assert all(r["headers"]["Authorization"] == basic for r in requests)
    ann, bob = md5("ann@example.com"), md5("bob@example.com")
    tags = json.dumps({"tags": [{"name": "winback", "status": "active"}]})
    assert json.loads(requests[0]["body"]) == {"operations": [
        {"method": "PUT", "path": f"/lists/abc123/members/{ann}", "operation_id": ann,
         "body": json.dumps({"email_address": "ann@example.com", "status_if_new": "pending",
                             "merge_fields": {"FNAME": "Ann", "LNAME": "Lee"}})},
        {"method": "POST", "path": f"/lists/abc123/members/{ann}/tags", "body": tags},
        {"method": "PUT", "path": f"/lists/abc123/members/{bob}", "operation_id": bob,
         "body": json.dumps({"email_address": "bob@example.com", "status_if_new": "pending", "merge_fields": {}})},
        {"method": "POST", "path": f"/lists/abc123/members/{bob}/tags", "body": tags}]}
    assert json.loads(requests[1]["body"]) == {"operations": [
        {"method": "DELETE", "path": f"/lists/abc123/members/{bob}", "operation_id": bob}]}
    assert members(ws, "mc") == {"a"}


def test_unisender_gets_import_contacts_and_a_leaver_deleted(workspace, tmp_path, monkeypatch):
    ws = workspace
    people = [person("a", "a@example.com", "+1 800 555 0100", "Ann Lee"), person("b", "b@example.com")]
    load(ws, tmp_path, people)
    monkeypatch.setenv("RETAINLY_UNISENDER_API_KEY", "uni-key")
    with Platform() as platform:
        ws.exports.add("uni", "unisender_api", "audience:buyers",
                       {"list_ids": "7", "base_url": platform.url, "default_country": "US"})
        ws.exports.run("uni", AS_OF)
        people[0]["email_consent"] = "no"
        reimport(ws, tmp_path, people)
        second = ws.exports.run("uni", AS_OF)
        requests = [(r["method"], r["path"], r["query"]) for r in platform.requests]
        added, removed = platform.form(0), platform.form(1)
    assert requests == [("POST", "/importContacts", {"format": "json"})] * 2
    assert added == {"api_key": "uni-key", "field_names[0]": "email", "field_names[1]": "phone",
                     "field_names[2]": "Name", "field_names[3]": "email_list_ids",
                     "data[0][0]": "a@example.com", "data[0][1]": "+18005550100", "data[0][2]": "Ann Lee",
                     "data[0][3]": "7", "data[1][0]": "b@example.com", "data[1][1]": "", "data[1][2]": "",
                     "data[1][3]": "7"}
    assert removed == {"api_key": "uni-key", "field_names[0]": "email", "field_names[1]": "phone",
                       "field_names[2]": "delete", "data[0][0]": "a@example.com", "data[0][1]": "+18005550100",
                       "data[0][2]": "1"}
    assert second.removed == 1 and members(ws, "uni") == {"b"}


def test_unisender_refusing_with_http_200_fails_the_run(workspace, tmp_path, monkeypatch):
    ws = workspace
    load(ws, tmp_path, [person("a", "a@example.com")])
    monkeypatch.setenv("RETAINLY_UNISENDER_API_KEY", "wrong")
    answer = {"error": "AK100: invalid api_key", "code": "invalid_api_key"}
    with Platform(lambda method, path, nth: (200, answer)) as platform:
        ws.exports.add("uni", "unisender_api", "audience:buyers",
                       {"list_ids": "7", "base_url": platform.url, "default_country": "US"})
        result = ws.exports.run("uni", AS_OF)
    assert result.status == "failed" and json.dumps(answer) in result.message
    assert members(ws, "uni") == set()


def test_a_client_retries_a_5xx_but_never_a_4xx():
    answers = {1: 503, 2: 200, 3: 422}
    with Platform(lambda method, path, nth: (answers[nth], {"num_received": 1})) as platform:
        waits = []
        client = MetaClient("token", "42", platform.url, sleep=waits.append)
        client.add([{"EMAIL": sha("a@example.com")}])  # 503, then accepted
        with pytest.raises(CallFailed) as failure:
            client.add([{"EMAIL": sha("b@example.com")}])  # 422: final
        client.close()
    assert [r["status"] for r in platform.requests] == [503, 200, 422]
    assert waits == [1.0] and failure.value.calls_done == 1
