"""The webhook channel: each delivery an HTTP POST of signed JSON, retried on transient failures.

**The request.** ``POST <url>`` with the body (UTF-8 JSON, compact)
``{"key", "playbook", "step", "customer_id", "channel", "payload", "sent_at"}`` and headers

* ``Content-Type: application/json``
* ``Idempotency-Key: <key>``: the outbox key (percent-encoded where it is not plain ASCII); a receiver that stores it can drop a repeat
  (a request that timed out may still have arrived, so a retry can bring it twice);
* ``X-Retainly-Timestamp: <unix seconds>``: when this attempt was signed;
* ``X-Retainly-Signature: sha256=<hex>``: HMAC-SHA256 with the shared secret over the bytes
  ``<timestamp>.<body>`` (the timestamp as sent, a full stop, then the raw body bytes).

**Verifying it (a receiver).** Recompute the HMAC over the timestamp header, ``.`` and the raw
body exactly as received (before any JSON parsing), compare it in constant time with the
signature header, and refuse a timestamp more than a few minutes from your clock (a replay).
``verify_signature`` does all of that; in another language::

    expected = "sha256=" + hex(hmac_sha256(secret, timestamp + "." + raw_body))
    ok = constant_time_equals(expected, signature) and abs(now - int(timestamp)) <= 300

**Retries.** One ``deliver`` makes up to ``1 + retries`` attempts. A 5xx, a 429, a refused or
dropped connection and a time-out are transient: the channel waits ``backoff * 2**i`` seconds
(at most ``max_backoff``; a 429's or 503's numeric ``Retry-After`` instead, also at most
``max_backoff``) and tries again; when the attempts are spent the outcome is ``retry``, for the
outbox to try on a later run. Any other status outside 2xx (4xx, and 3xx: redirects are not
followed, configure the final URL) is ``failed`` at once: the receiver said no and will say it
again. Each attempt sends the same body bytes; only the timestamp and signature are fresh.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Self
from urllib.parse import quote

import httpx

from retainly.errors import InputError
from retainly.messaging.channels import (
    FAILED,
    RETRY,
    SENT,
    Clock,
    Delivery,
    Outcome,
    one_line,
    record_json,
    utc_now,
)

SIGNATURE_PREFIX = "sha256="
TIMESTAMP_HEADER = "X-Retainly-Timestamp"
SIGNATURE_HEADER = "X-Retainly-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300


def sign(secret: str | bytes, timestamp: str | int, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` with ``secret``."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    message = str(timestamp).encode("ascii") + b"." + body
    return SIGNATURE_PREFIX + hmac.new(key, message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str | bytes,
    timestamp: str | int,
    body: bytes | str,
    signature: str,
    tolerance_seconds: float = SIGNATURE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether ``signature`` signs ``body`` at ``timestamp`` with ``secret``, within ``tolerance_seconds`` of ``now``.

    ``body`` is the raw request body as received (a str is taken as its UTF-8 bytes);
    ``now`` is unix seconds (default: this machine's clock). Never raises on a malformed header.
    """
    timestamp = str(timestamp).strip()
    if not timestamp.isascii() or not timestamp.isdigit() or not isinstance(signature, str):
        return False
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > tolerance_seconds:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    expected = sign(secret, timestamp, raw)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8"))


class WebhookChannel:
    """POSTs each delivery as signed JSON to ``url``; one HTTP client, reused, closed by ``close``."""

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        sleep: Callable[[float], object] = time.sleep,
        *,
        name: str = "webhook",
        clock: Clock = utc_now,
    ):
        self.url = _checked_url(url, name)
        if not secret:
            raise InputError(f"channel {name!r} needs a `secret` to sign its requests with", parameter="secret")
        self.name = name
        self._secret = secret
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._clock = clock
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": "retainly-webhook"})

    def deliver(self, delivery: Delivery) -> Outcome:
        try:
            body = record_json(delivery, self._clock()).encode("utf-8")
        except (TypeError, ValueError) as error:
            return Outcome(FAILED, one_line(f"payload is not JSON: {error}"))
        attempts = 1 + self.retries
        for attempt in range(attempts):
            status, detail, retry_after = self._attempt(delivery.key, body)
            if status != RETRY:
                return Outcome(status, detail)
            if attempt + 1 < attempts:
                self._sleep(self._wait(attempt, retry_after))
        return Outcome(RETRY, one_line(f"{detail} after {attempts} attempt{'s' if attempts > 1 else ''}"))

    def _attempt(self, key: str, body: bytes) -> tuple[str, str, float | None]:
        """One POST: (status, detail, Retry-After seconds or None)."""
        timestamp = str(int(self._clock().timestamp()))
        headers = {
            "Content-Type": "application/json",
            # Header values are ASCII: a key with other letters goes percent-encoded (the body has it as is).
            "Idempotency-Key": quote(key, safe="/:@-._~"),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as error:
            return RETRY, one_line(f"timed out: {type(error).__name__}"), None
        except httpx.TransportError as error:  # refused, reset, DNS: the receiver is unreachable for now
            return RETRY, one_line(f"connection failed: {type(error).__name__}: {error}"), None
        except httpx.HTTPError as error:  # a response that broke off mid-way (bad encoding, protocol)
            return RETRY, one_line(f"bad response: {type(error).__name__}: {error}"), None
        detail = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
        code = response.status_code
        if 200 <= code < 300:
            return SENT, detail, None
        if code >= 500 or code == 429:
            return RETRY, detail, _retry_after(response.headers.get("Retry-After"))
        text = response.text.strip()
        return FAILED, one_line(f"{detail}: {text}" if text else detail), None

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before the next attempt: the receiver's Retry-After, else exponential backoff; capped."""
        wanted = retry_after if retry_after is not None else self.backoff * 2**attempt
        return min(wanted, self.max_backoff)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _retry_after(value: str | None) -> float | None:
    """A numeric Retry-After in seconds; an HTTP date or garbage counts as absent (backoff applies)."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < float("inf") else None


def _checked_url(url: str, name: str) -> str:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as error:
        raise InputError(f"channel {name!r}: `url` {url!r} is not a URL ({error})", parameter="url") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InputError(
            f"channel {name!r}: `url` {url!r} must be an http:// or https:// URL with a host", parameter="url"
        )
    return str(parsed)
