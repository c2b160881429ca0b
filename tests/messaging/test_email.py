"""The email channel against a real SMTP server on localhost (aiosmtpd, tests/mailbox.py):
the headers mail providers require, DKIM, the outcome of each server answer, and signed links.

Expected values are the standards' own: RFC 8058 (``List-Unsubscribe-Post:
List-Unsubscribe=One-Click`` exactly; an https URI in angle brackets), RFC 6376 (a signature
that dkimpy, an independent implementation, verifies with the public key of the test's key
pair, tests/data/dkim_test_key.*), RFC 5321 (2xx accepted, 4xx transient, 5xx permanent).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import dkim
import pytest

from retainly.errors import InputError
from retainly.messaging.channels import FAILED, RETRY, SENT, Delivery, make_channel
from retainly.messaging.email_message import ONE_CLICK, DkimKey, Sender, compose, message_id
from retainly.messaging.links import UNSUBSCRIBE, LinkSigner
from retainly.messaging.smtp_channel import OutcomeUnknown, SmtpChannel
from tests.mailbox import Mailbox

DATA = Path(__file__).resolve().parents[1] / "data"
PRIVATE_KEY = (DATA / "dkim_test_key.pem").read_bytes()
PUBLIC_KEY = (DATA / "dkim_test_key.pub.b64").read_text().strip()
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
# A public URL long enough that the List-Unsubscribe header passes 78 characters many times over.
LONG_URL = "https://retainly.coffee-and-tea-shop.example/" + "a-rather-long-path/" * 4
LINKS = LinkSigner({1: b"k" * 32})


def sender(public_url: str = LONG_URL, **extra) -> Sender:
    return Sender("Coffee & Tea <news@shop.example>", public_url, shop_name="Coffee & Tea",
                  postal_address="1 Main Street, 10115 Berlin", unsubscribe_mailto="unsubscribe@shop.example", **extra)


def delivery(key: str = "win-back-60/0/42/2025-12-31", email: str = "ann@example.com", marketing: bool = True,
             **payload) -> Delivery:
    values = {"email": email, "name": "Änn Müller", "subject": "We miss you", "text": "Hello Ann.\n\nCome back.",
              "offer": "10 % off", "marketing": marketing, **payload}
    return Delivery(key, key.split("/")[0], 0, 42, "email", values, 0)


def channel(box: Mailbox, **options) -> SmtpChannel:
    return SmtpChannel("127.0.0.1", options.pop("sender", sender()), LINKS, port=box.port, security="none",
                       backoff=0.01, clock=lambda: NOW, **options)


def dns_with_test_key(name, timeout=5):
    assert name == b"sel1._domainkey.shop.example."
    return f"v=DKIM1; k=rsa; p={PUBLIC_KEY}".encode()


def header_line(raw: bytes, name: str) -> str:
    """The header as written on the wire, continuation lines included."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    found = re.search(rf"^{name}:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.MULTILINE | re.IGNORECASE)
    assert found, f"no {name} header"
    return found.group(1)


def test_list_unsubscribe_is_a_literal_https_url_in_angle_brackets_even_when_long():
    with Mailbox() as box:
        with channel(box) as smtp:
            assert smtp.deliver(delivery()).status == SENT
    raw = box.received[0]["raw"]
    unsubscribe = header_line(raw, "List-Unsubscribe")
    assert len(unsubscribe) > 78 * 2
    assert "\r\n" not in unsubscribe and "=?" not in unsubscribe  # neither folded nor RFC 2047-encoded
    token = LINKS.sign(UNSUBSCRIBE, 42, "win-back-60/0/42/2025-12-31")
    assert unsubscribe == f" <{LONG_URL.rstrip('/')}/u/{token}>, <mailto:unsubscribe@shop.example?subject=unsubscribe>"
    assert header_line(raw, "List-Unsubscribe-Post") == " List-Unsubscribe=One-Click"
    # The pitfall the channel avoids, shown on the same header: the default policy encodes it.
    careless = EmailMessage()
    careless["List-Unsubscribe"] = unsubscribe.strip()
    assert b"=?utf-8?q?" in careless.as_bytes()
    # The link is visible in both parts, and the quoted-printable lines stay within 76 characters.
    message = box.received[0]["message"]
    for part in ("plain", "html"):
        body = message.get_body((part,)).get_content()
        assert f"{LONG_URL.rstrip('/')}/u/{token}" in body
        assert "1 Main Street, 10115 Berlin" in body
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76


def test_the_message_id_is_the_rows_own_and_a_transactional_message_has_no_unsubscribe_header():
    with Mailbox() as box:
        with channel(box) as smtp:
            for item in (delivery(), delivery(), delivery("first-order-thanks/0/42/x", marketing=False)):
                assert smtp.deliver(item).status == SENT
    first, again, service = (item["message"] for item in box.received)
    assert first["Message-ID"] == again["Message-ID"] == message_id("win-back-60/0/42/2025-12-31", "shop.example")
    assert service["Message-ID"] != first["Message-ID"]
    assert (first["X-Retainly-Stream"], service["X-Retainly-Stream"]) == ("marketing", "transactional")
    assert service["List-Unsubscribe"] is None and service["List-Unsubscribe-Post"] is None
    assert str(first["To"]) == "Änn Müller <ann@example.com>"
    assert box.received[0]["from"] == "news@shop.example" and box.received[0]["to"] == ["ann@example.com"]


def test_a_dkim_signature_verifies_with_the_public_key_and_covers_the_unsubscribe_headers():
    signing = sender(dkim=DkimKey("shop.example", "sel1", PRIVATE_KEY))
    with Mailbox() as box:
        with channel(box, sender=signing) as smtp:
            assert smtp.deliver(delivery()).status == SENT
    raw = box.received[0]["raw"]
    assert dkim.verify(raw, dnsfunc=dns_with_test_key)
    signed = {name.strip().lower() for name in
              re.search(r"h=([^;]+)", header_line(raw, "DKIM-Signature").replace("\r\n", "")).group(1).split(":")}
    assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject", "message-id"} <= signed
    # Altering either header breaks the signature (so the test above can fail).
    tampered = raw.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: x")
    assert not dkim.verify(tampered, dnsfunc=dns_with_test_key)
    assert not dkim.verify(raw.replace(b"/u/1.", b"/u/2."), dnsfunc=dns_with_test_key)


def test_each_server_answer_gives_its_outcome():
    answers = {1: "250", 2: "451 4.3.0 mailbox busy", 3: "451 4.3.0 mailbox busy", 4: "451 4.3.0 mailbox busy",
               5: "554 5.7.1 message refused", 6: "drop", 7: "250"}
    with Mailbox(lambda nth, envelope: answers.get(nth, "250"), refused_recipients=("gone@example.com",)) as box:
        with channel(box, retries=2) as smtp:
            assert smtp.deliver(delivery("a/0/1/x")).status == SENT
            transient = smtp.deliver(delivery("b/0/1/x"))  # three 451s: tried 1 + 2 times, then left for later
            assert (transient.status, transient.detail) == (RETRY, "the message: 451 4.3.0 mailbox busy")
            refused = smtp.deliver(delivery("c/0/1/x"))
            assert (refused.status, refused.detail) == (FAILED, "the message: 554 5.7.1 message refused")
            with pytest.raises(OutcomeUnknown, match="after the message was sent"):
                smtp.deliver(delivery("d/0/1/x"))  # the server kept it and hung up before answering
            assert smtp.deliver(delivery("e/0/1/x")).status == SENT  # a new connection for the next row
            unknown_user = smtp.deliver(delivery("f/0/1/x", email="gone@example.com"))
            assert (unknown_user.status, unknown_user.detail) == (FAILED, "RCPT TO: 550 5.1.1 no such user here")
            for bad in ("", "not-an-address", "ann@localhost", "ann smith@example.com", "änn@example.com"):
                assert smtp.deliver(delivery("g/0/1/x", email=bad)).status == FAILED
            too_big = SmtpChannel("127.0.0.1", sender(), LINKS, port=box.port, security="none", max_bytes=1000)
            assert "over the limit of 1,000" in too_big.deliver(delivery("h/0/1/x")).detail
            assert smtp.deliver(delivery("i/0/1/x", email="ann@bücher.example")).status == SENT
    assert box.data_commands == 8  # refused addresses and messages never reached DATA
    assert box.keys() == ["a/0/1/x", "d/0/1/x", "e/0/1/x", "i/0/1/x"]
    assert box.received[-1]["to"] == ["ann@xn--bcher-kva.example"]  # the domain in its IDNA form


def test_no_server_is_a_retry_and_not_a_crash():
    with Mailbox() as box:
        port = box.port
    smtp = SmtpChannel("127.0.0.1", sender(), LINKS, port=port, security="none", retries=1, backoff=0.01)
    outcome = smtp.deliver(delivery())
    assert outcome.status == RETRY and "no connection to 127.0.0.1" in outcome.detail
    smtp.close()


def test_a_token_is_refused_when_forged_altered_or_for_another_purpose():
    token = LINKS.sign(UNSUBSCRIBE, 42, "win-back-60/0/42/2025-12-31")
    assert tuple(LINKS.check(token, UNSUBSCRIBE)) == (UNSUBSCRIBE, 42, "win-back-60/0/42/2025-12-31", "")
    version, body, mac = token.split(".")
    other_body = LINKS.sign(UNSUBSCRIBE, 43, "win-back-60/0/43/2025-12-31").split(".")[1]
    forged = [f"{version}.{other_body}.{mac}", f"{version}.{body}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
              f"2.{body}.{mac}", token + "x", token[:-2], "", "1..", "../../etc/passwd"]
    for bad in forged:
        assert LINKS.check(bad, UNSUBSCRIBE) is None, bad
    assert LinkSigner({1: b"another secret" * 3}).check(token, UNSUBSCRIBE) is None
    rotated = LinkSigner({1: b"k" * 32, 2: b"new" * 11})  # a new version signs; the old links still work
    assert rotated.sign(UNSUBSCRIBE, 42, "k").startswith("2.") and rotated.check(token, UNSUBSCRIBE) is not None


@pytest.mark.parametrize(("options", "message"), [
    ({"from": "news@shop.example", "public_url": "https://shop.example"}, "needs option `host`"),
    ({"host": "smtp.example", "public_url": "https://shop.example"}, "needs option `from`"),
    ({"host": "smtp.example", "from": "news@shop.example", "public_url": "http://shop.example"},
     "one-click unsubscribe needs https"),
    ({"host": "smtp.example", "from": "news", "public_url": "https://shop.example"}, "is not an email address"),
    ({"host": "smtp.example", "from": "news@shop.example", "public_url": "https://shop.example",
      "security": "ssl"}, "`security` must be one of starttls, tls, none"),
    ({"host": "smtp.example", "from": "news@shop.example", "public_url": "https://shop.example",
      "dkim_domain": "shop.example"}, "`dkim_key_file` is missing"),
    ({"host": "smtp.example", "from": "news@shop.example", "public_url": "https://shop.example",
      "dkim_domain": "shop.example", "dkim_selector": "s", "dkim_key_file": "/nonexistent/key.pem"},
     "cannot read the DKIM key file"),
    ({"host": "smtp.example", "from": "news@shop.example", "public_url": "https://shop.example", "port": "25"},
     "`port` must be a whole number"),
    ({"host": "smtp.example", "from": "news@shop.example", "public_url": "https://shop.example", "pasword": "x"},
     "unknown option `pasword`"),
])
def test_bad_settings_name_the_option_and_the_fix(options, message):
    with pytest.raises(InputError, match=re.escape(message)):
        make_channel("email", {"kind": "smtp", **options}, links=lambda: LINKS)


def test_settings_build_a_working_channel_with_credentials_from_the_environment(monkeypatch):
    monkeypatch.setenv("SHOP_SMTP_USER", "mailer")
    built = make_channel("email", {"kind": "smtp", "host": "smtp.example", "from": "Shop <news@shop.example>",
                                   "public_url": "https://shop.example/", "username_env": "SHOP_SMTP_USER",
                                   "dkim_domain": "shop.example", "dkim_selector": "sel1",
                                   "dkim_key_file": str(DATA / "dkim_test_key.pem"), "per_second": 5},
                         links=lambda: LINKS)
    assert (built.host, built.port, built.security, built.username, built.password) == \
           ("smtp.example", 587, "starttls", "mailer", None)
    address, raw = compose(delivery(), built.sender, LINKS, NOW)
    assert address == "ann@example.com" and dkim.verify(raw, dnsfunc=dns_with_test_key)
    assert message_from_bytes(raw, policy=policy.default)["List-Unsubscribe-Post"] == ONE_CLICK


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_starttls_or_tls_with_a_login_from_the_environment(security, monkeypatch):
    monkeypatch.setenv("SHOP_SMTP_USER", "mailer")
    monkeypatch.setenv("SHOP_SMTP_PASSWORD", "s3cret")
    with Mailbox(tls=security, login=("mailer", "s3cret")) as box:
        options = {"kind": "smtp", "host": "127.0.0.1", "port": box.port, "security": security,
                   "from": "news@shop.example", "public_url": "https://shop.example", "username_env": "SHOP_SMTP_USER",
                   "password_env": "SHOP_SMTP_PASSWORD", "tls_ca_file": str(DATA / "smtp_test_tls_cert.pem"),
                   "retries": 0}
        with make_channel("email", options, links=lambda: LINKS) as smtp:
            assert smtp.deliver(delivery()).status == SENT
        monkeypatch.setenv("SHOP_SMTP_PASSWORD", "wrong")
        with make_channel("email", options, links=lambda: LINKS) as smtp:
            refused = smtp.deliver(delivery())
        assert refused.status == RETRY and "refused the login" in refused.detail
        # Without the test CA the server's self-signed certificate is not trusted: nothing is sent.
        untrusted = {key: value for key, value in options.items() if key != "tls_ca_file"}
        with make_channel("email", untrusted, links=lambda: LINKS) as smtp:
            outcome = smtp.deliver(delivery())
        assert outcome.status == RETRY and "CERTIFICATE_VERIFY_FAILED" in outcome.detail
    assert len(box.received) == 1
