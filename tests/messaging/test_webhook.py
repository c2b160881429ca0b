"""The webhook channel against a real local HTTP server that records requests and answers a script.

Signatures are checked by recomputing the HMAC here with the hmac module (an independent
implementation of the documented scheme) as well as with ``verify_signature``. Backoff waits
are recorded instead of slept, and the expected sequences are worked out by hand from
``backoff * 2**i`` capped at ``max_backoff``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from retainly.errors import InputError
from retainly.messaging.channels import Delivery, make_channel
from retainly.messaging.webhook import WebhookChannel, verify_signature

SECRET = "s3cret-key"
FROZEN = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
FROZEN_UNIX = 1714557600  # 2024-05-01 is day 19844 since 1970: 19844 * 86400 + 10 * 3600
DELIVERY = Delivery(
    key="winback/1/42/2024-05-01", playbook="winback", step=1, customer_id=42, channel="webhook",
    payload={"name": "Ольга", "text": "We miss you", "offer": {"code": "BACK10", "percent": 10}}, attempts=0,
)


class Receiver:
    """A real HTTP server on 127.0.0.1: records each request, answers the next scripted reply (else 200)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[tuple[int, dict, float]] = []  # (status, headers, seconds to wait before answering)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    status, headers, delay = receiver.script.pop(0) if receiver.script else (200, {}, 0.0)
                time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    reply = b"no thanks" if 400 <= status < 500 else b""
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass  # the client gave up (a time-out test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def answer(self, *replies):
        self.script.extend(reply if isinstance(reply, tuple) else (reply, {}, 0.0) for reply in replies)

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 5
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def waits():
    return []


def channel(url, waits, **options):
    return WebhookChannel(url, SECRET, sleep=waits.append, clock=lambda: FROZEN, **options)


def test_signed_json_post_verified_independently(receiver, waits):
    with channel(receiver.url, waits) as hook:
        outcome = hook.deliver(DELIVERY)
    assert (outcome.status, outcome.detail) == ("sent", "HTTP 200 OK")
    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    assert request["path"] == "/hook"
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"] == "winback/1/42/2024-05-01"
    assert headers["X-Retainly-Timestamp"] == str(FROZEN_UNIX)
    assert json.loads(body.decode("utf-8")) == {
        "key": "winback/1/42/2024-05-01", "playbook": "winback", "step": 1, "customer_id": 42,
        "channel": "webhook", "payload": DELIVERY.payload, "sent_at": "2024-05-01T10:00:00+00:00",
    }
    assert "Ольга".encode() in body  # UTF-8 letters as they are, not \u escapes
    # The documented scheme, recomputed with hmac directly over "<timestamp>.<raw body>".
    expected = hmac.new(SECRET.encode(), f"{FROZEN_UNIX}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["X-Retainly-Signature"] == "sha256=" + expected
    signature = headers["X-Retainly-Signature"]
    assert verify_signature(SECRET, headers["X-Retainly-Timestamp"], body, signature, now=FROZEN_UNIX + 10)


def test_verify_signature_refuses_tampering_wrong_secret_and_stale_timestamps():
    body = b'{"key":"a/1/2/3","payload":{"amount":10}}'
    signature = "sha256=" + hmac.new(b"k", b"1000." + body, hashlib.sha256).hexdigest()
    assert verify_signature("k", "1000", body, signature, now=1000)
    assert verify_signature("k", 1000, body.decode(), signature, now=1300)  # 300 s: still within tolerance
    assert not verify_signature("k", "1000", body.replace(b"10", b"99"), signature, now=1000)  # tampered body
    assert not verify_signature("other", "1000", body, signature, now=1000)  # wrong secret
    assert not verify_signature("k", "1001", body, signature, now=1000)  # timestamp changed
    assert not verify_signature("k", "1000", body, signature, now=1301)  # replayed too late
    assert not verify_signature("k", "1000", body, signature, tolerance_seconds=5, now=994)
    assert not verify_signature("k", "10x0", body, signature, now=1000)  # malformed header
    assert not verify_signature("k", "1000", body, signature.upper(), now=1000)
    assert not verify_signature("k", "1000", body, "sha256=é", now=1000)  # non-ASCII never raises


def test_5xx_retried_with_backoff_then_sent(receiver, waits):
    receiver.answer(503, 503, 200)
    with channel(receiver.url, waits) as hook:
        outcome = hook.deliver(DELIVERY)
    assert outcome.status == "sent"
    assert len(receiver.requests) == 3
    assert waits == [0.5, 1.0]  # backoff 0.5 * 2**0, 0.5 * 2**1
    bodies = {request["body"] for request in receiver.requests}
    assert len(bodies) == 1  # every attempt sends the same bytes
    assert {request["headers"]["Idempotency-Key"] for request in receiver.requests} == {DELIVERY.key}


def test_5xx_until_the_retries_are_spent_gives_retry(receiver, waits):
    receiver.answer(500, 502, 503, 504, 200)
    with channel(receiver.url, waits, retries=3) as hook:
        outcome = hook.deliver(DELIVERY)
    assert (outcome.status, outcome.detail) == ("retry", "HTTP 504 Gateway Timeout after 4 attempts")
    assert len(receiver.requests) == 4
    assert waits == [0.5, 1.0, 2.0]


def test_backoff_is_capped_by_max_backoff(receiver, waits):
    receiver.answer(500, 500, 500, 500, 500)
    with channel(receiver.url, waits, retries=4, backoff=1.0, max_backoff=3.0) as hook:
        assert hook.deliver(DELIVERY).status == "retry"
    assert waits == [1.0, 2.0, 3.0, 3.0]  # 1, 2, 4 -> 3, 8 -> 3


def test_4xx_fails_at_once(receiver, waits):
    receiver.answer(400, 200)
    with channel(receiver.url, waits) as hook:
        outcome = hook.deliver(DELIVERY)
    assert (outcome.status, outcome.detail) == ("failed", "HTTP 400 Bad Request: no thanks")
    assert len(receiver.requests) == 1
    assert waits == []


@pytest.mark.parametrize("status", [401, 404, 410, 422])
def test_other_4xx_never_retried(receiver, waits, status):
    receiver.answer(status, 200)
    with channel(receiver.url, waits) as hook:
        assert hook.deliver(DELIVERY).status == "failed"
    assert len(receiver.requests) == 1


def test_redirect_is_not_followed(receiver, waits):
    receiver.answer((302, {"Location": "/elsewhere"}, 0.0))
    with channel(receiver.url, waits) as hook:
        outcome = hook.deliver(DELIVERY)
    assert (outcome.status, outcome.detail) == ("failed", "HTTP 302 Found")
    assert [request["path"] for request in receiver.requests] == ["/hook"]


def test_429_respects_numeric_retry_after_up_to_max_backoff(receiver, waits):
    receiver.answer((429, {"Retry-After": "3"}, 0.0), (429, {"Retry-After": "60"}, 0.0),
                    (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0), 200)
    with channel(receiver.url, waits) as hook:
        outcome = hook.deliver(DELIVERY)
    assert outcome.status == "sent"
    assert len(receiver.requests) == 4
    # 3 as asked; 60 capped at max_backoff 8; an HTTP date is not numeric: backoff 0.5 * 2**2
    assert waits == [3.0, 8.0, 2.0]


def test_time_outs_retried_then_retry_outcome(receiver, waits):
    receiver.answer(*[(200, {}, 0.6)] * 3)  # answers after 0.6 s, beyond the 0.2 s time-out
    with channel(receiver.url, waits, timeout=0.2, retries=2) as hook:
        outcome = hook.deliver(DELIVERY)
    assert outcome.status == "retry"
    assert outcome.detail.startswith("timed out") and outcome.detail.endswith("after 3 attempts")
    receiver.wait_for(3)
    assert len(receiver.requests) == 3
    assert waits == [0.5, 1.0]


def test_connection_refused_gives_retry(waits):
    with socket.socket() as probe:  # a port that was free a moment ago, now closed: nobody listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with channel(f"http://127.0.0.1:{port}/hook", waits) as hook:
        outcome = hook.deliver(DELIVERY)
    assert outcome.status == "retry"
    assert outcome.detail.startswith("connection failed: ConnectError")
    assert waits == [0.5, 1.0, 2.0]


def test_a_key_with_other_letters_goes_percent_encoded_in_the_header(receiver, waits):
    with channel(receiver.url, waits) as hook:
        assert hook.deliver(Delivery("день/1/5/x y", "день", 1, 5, "webhook", {}, 0)).status == "sent"
    [request] = receiver.requests
    assert request["headers"]["Idempotency-Key"] == "%D0%B4%D0%B5%D0%BD%D1%8C/1/5/x%20y"  # UTF-8 bytes of "день"
    assert json.loads(request["body"])["key"] == "день/1/5/x y"


def test_payload_that_is_not_json_fails_without_a_request(receiver, waits):
    bad = Delivery("a/1/1/x", "a", 1, 1, "webhook", {"when": object()}, 0)
    with channel(receiver.url, waits) as hook:
        outcome = hook.deliver(bad)
    assert outcome.status == "failed" and outcome.detail.startswith("payload is not JSON")
    assert receiver.requests == []


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "example.com/hook", "http://", ""])
def test_bad_url_refused_at_construction(url):
    with pytest.raises(InputError, match="url"):
        WebhookChannel(url, SECRET)


def test_make_channel_builds_a_webhook(receiver, waits):
    hook = make_channel("webhook", {"url": receiver.url, "secret": SECRET, "retries": 1, "timeout": 2})
    try:
        assert (hook.name, hook.retries) == ("webhook", 1)
        assert hook.deliver(DELIVERY).status == "sent"
    finally:
        hook.close()
    sms = make_channel("sms", {"kind": "webhook", "url": receiver.url, "secret": SECRET})
    assert sms.name == "sms"
    sms.close()


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"url": "https://x.test/h"}, "`secret`"),
        ({"secret": "k"}, "`url`"),
        ({"url": "https://x.test/h", "secret": ""}, "`secret`"),
        ({"url": "https://x.test/h", "secret": "k", "retires": 2}, "`retires`"),
        ({"url": "https://x.test/h", "secret": "k", "retries": -1}, "`retries`"),
        ({"url": "https://x.test/h", "secret": "k", "timeout": 0}, "`timeout`"),
        ({"url": "https://x.test/h", "secret": "k", "backoff": "fast"}, "`backoff`"),
    ],
)
def test_make_channel_names_the_bad_option(options, named):
    with pytest.raises(InputError) as error:
        make_channel("webhook", options)
    assert named in str(error.value)


def test_make_channel_refuses_an_unknown_channel():
    with pytest.raises(InputError, match="unknown channel 'pigeon'"):
        make_channel("pigeon", {})
    with pytest.raises(InputError, match="unknown `kind` 'fax'"):
        make_channel("sms", {"kind": "fax"})
