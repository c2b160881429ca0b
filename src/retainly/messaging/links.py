"""Signed links in messages: a token that names a customer and the message it came in, and
that nobody without the store's secret can make or alter.

A token is ``<version>.<body>.<mac>``: the body (base64url, unpadded) is the purpose, the
customer's id and the outbox key of the message (and a click link's destination), joined by a
separator; the mac is the first
16 bytes of HMAC-SHA256 over version and body with that version's secret (``link_secrets``),
base64url. It carries no address (an email address never goes into a URL) and never expires:
an unsubscribe link must work for as long as the message sits in a mailbox. Checking it is
``hmac.compare_digest``; a token that fails any part of the check is simply not found.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import NamedTuple

from retainly.store.backends import Store

UNSUBSCRIBE, FEEDBACK, CLICK, OPEN = "u", "f", "c", "o"
PURPOSES = (UNSUBSCRIBE, FEEDBACK, CLICK, OPEN)
_SEPARATOR = "\x1f"  # a control character: never part of a key or a number
_MAC_BYTES = 16
_TOKEN = re.compile(r"^([1-9][0-9]{0,5})\.([A-Za-z0-9_-]{4,6000})\.([A-Za-z0-9_-]{22})$")


class Signed(NamedTuple):
    """What a valid token says."""

    purpose: str
    customer_id: int
    key: str  # the outbox key of the message the link was in
    target: str = ""  # a click link's destination, signed with the rest: never taken from the request


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Makes and checks tokens with the store's link secrets (made on first use)."""

    def __init__(self, secrets_by_version: dict[int, bytes]):
        self._secrets = dict(secrets_by_version)
        self._current = max(self._secrets)

    @classmethod
    def of(cls, store: Store) -> LinkSigner:
        """The signer of ``store``'s secrets; the first secret is made now if there is none yet
        (two processes racing to make it keep the same one: the insert of the loser does nothing)."""
        found = _read(store)
        if not found:
            with store.transaction():
                store.execute("INSERT INTO link_secrets (version, secret, created_at) VALUES (1, ?, ?) "
                              "ON CONFLICT DO NOTHING", (secrets.token_hex(32), datetime.now().replace(microsecond=0)))
            found = _read(store)
        return cls(found)

    def sign(self, purpose: str, customer_id: int, key: str, target: str = "") -> str:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown link purpose {purpose!r}")
        parts = (purpose, str(int(customer_id)), key) + ((target,) if target else ())
        body = _b64(_SEPARATOR.join(parts).encode("utf-8"))
        return f"{self._current}.{body}.{self._mac(self._current, body)}"

    def check(self, token: str, purpose: str) -> Signed | None:
        """What ``token`` says, if it is one of ours for ``purpose``; else None."""
        match = _TOKEN.match(token or "")
        if match is None:
            return None
        version, body, mac = int(match.group(1)), match.group(2), match.group(3)
        if version not in self._secrets or not hmac.compare_digest(mac, self._mac(version, body)):
            return None
        try:
            said, customer, key, *target = _unb64(body).decode("utf-8").split(_SEPARATOR)
            if len(target) > 1:
                return None
            signed = Signed(said, int(customer), key, target[0] if target else "")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        return signed if signed.purpose == purpose else None

    def _mac(self, version: int, body: str) -> str:
        digest = hmac.new(self._secrets[version], f"{version}.{body}".encode("ascii"), hashlib.sha256).digest()
        return _b64(digest[:_MAC_BYTES])


def _read(store: Store) -> dict[int, bytes]:
    return {int(version): bytes.fromhex(secret)
            for version, secret in store.fetchall("SELECT version, secret FROM link_secrets")}
