"""Postmark's bounce and spam-complaint webhook, posted to a real `retainly serve` (uvicorn) with an
``ingest`` key. The records follow Postmark's documented examples (fields RecordType, ID, Type,
TypeCode, Email, Description, Details, BouncedAt, Metadata); what each should do is
retainly.messaging.bounces' rule: a hard bounce and a complaint suppress at once, a soft bounce
counts, a repeat changes nothing.

The shop is the run loop's hand-made one (tests/playbooks/test_run.py): every customer <name>@example.com.
"""

from __future__ import annotations

import httpx
import pytest

from retainly import Workspace
from retainly.web.app import create_app
from tests.playbooks.test_run import load_shop, settings_file, write_shop
from tests.web.conftest import serving

URL = "/api/v1/email/providers/postmark"


def bounce(record_id: int, email: str, kind: str = "HardBounce", **extra) -> dict:
    return {"RecordType": "Bounce", "ID": record_id, "Type": kind, "TypeCode": 1, "Name": "Hard bounce",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "MessageStream": "outbound",
            "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            "Email": email, "From": "news@shop.example", "BouncedAt": "2026-12-01T16:24:00Z", **extra}


@pytest.fixture
def server(store_url, tmp_path):
    settings = settings_file(tmp_path)
    with Workspace.open(store_url, settings=settings) as ws:
        names = load_shop(ws, write_shop(tmp_path / "shop"))
        _, ingest = ws.keys.create("ingest")
        _, analyst = ws.keys.create("analyst")
    app = create_app(store_url, settings)
    with serving(app) as base, httpx.Client(base_url=base, headers={"X-API-Key": ingest}) as client:
        yield app, client, names, analyst


def suppressed(app, names) -> dict[str, tuple]:
    back = {number: name for name, number in names.items()}
    with app.state.shop.use() as ws:
        return {back[int(c)]: (reason, source) for c, reason, source in ws.store.fetchall(
            "SELECT customer_id, reason, source FROM suppressions WHERE channel = 'email'")}


def test_postmark_bounces_and_complaints_suppress_as_the_rule_says(server):
    app, client, names, analyst = server
    answer = client.post(URL, json=bounce(4323372036854775807, "T3@example.com"))
    assert answer.status_code == 200 and (answer.json()["bounces"], answer.json()["suppressed"]) == (1, 1)
    assert suppressed(app, names)["T3"][0] == "bounced"
    again = client.post(URL, json=bounce(4323372036854775807, "T3@example.com"))
    assert (again.json()["already_read"], again.json()["suppressed"]) == (1, 0)

    for number in (1, 2):
        soft = client.post(URL, json=bounce(number, "w60@example.com", "SoftBounce"))
        assert soft.json()["soft_bounces"] == 1 and soft.json()["suppressed"] == 0
    assert client.post(URL, json=bounce(3, "w60@example.com", "Transient")).json()["suppressed"] == 1  # the third

    complaint = {"RecordType": "SpamComplaint", "ID": 42, "Type": "SpamComplaint", "TypeCode": 512,
                 "Email": "n1@example.com", "BouncedAt": "2026-12-01T17:00:00Z", "Description": "", "Details": ""}
    assert client.post(URL, json=complaint).json()["complaints"] == 1
    assert client.post(URL, json=bounce(5, "t4@example.com", "AutoResponder")).json()["reports"] == 0
    assert client.post(URL, json={"RecordType": "Delivery", "Email": "t4@example.com"}).json()["reports"] == 0
    assert client.post(URL, json=bounce(6, "nobody@example.com")).json()["not_matched"] == 1
    assert {name: reason for name, (reason, _) in suppressed(app, names).items()} == {
        "T3": "bounced", "W60": "bounced", "N1": "complained"}


def test_bad_calls_are_refused_and_change_nothing(server):
    app, client, names, analyst = server
    missing = client.post(URL, json=bounce(7, ""))
    assert missing.status_code == 422 and missing.json()["field"] == "Email"
    assert client.post(URL, content=b"not json", headers={"Content-Type": "application/json"}).status_code == 422
    assert client.post(URL, json=bounce(8, "t3@example.com"), headers={"X-API-Key": analyst}).status_code == 403
    assert client.post(URL, json=bounce(8, "t3@example.com"), headers={"X-API-Key": "wrong"}).status_code == 401
    assert suppressed(app, names) == {}
