"""The contract between the outbox and a channel, and the channels built from their settings.

The outbox hands a channel one ``Delivery`` (one outbox row) at a time and records the
``Outcome`` it gets back:

* ``sent``: delivered (or found already delivered: the channel is idempotent per ``key``);
* ``failed``: refused for good (a 4xx, an unserialisable payload); never tried again;
* ``retry``: a transient failure that outlived the channel's own retries; the outbox may try
  again on a later run.

A channel may also offer ``deliver_many(deliveries) -> outcomes`` (in order) and a
``batch_size``: the delivery loop then hands it a claimed batch at once (the file channel
appends a batch with one fsync). Without them it gets one delivery at a time in small batches.
A channel that keeps its own record of the keys it delivered offers ``holds(keys) -> set``:
rows a killed run left claimed for it are then settled from that record (sent if held, queued
again if not; retainly.playbooks.outbox.recover) rather than left ``unknown``.

A channel never raises for a failure of the receiving end; it raises ``InputError`` only for
its own settings (an unknown channel, a missing option, a URL that is not http/https).

Webhook bodies and file lines carry the same record (``delivery_record``): key, playbook,
step, customer_id, channel, payload and sent_at (ISO 8601 in UTC, to the second).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any, NamedTuple, Protocol

from retainly.errors import InputError

SENT, FAILED, RETRY = "sent", "failed", "retry"
OUTCOME_STATUSES = (SENT, FAILED, RETRY)
Clock = Callable[[], datetime]


class Delivery(NamedTuple):
    """One outbox row, as the channel sees it. (A named tuple: a big run delivers millions.)"""

    key: str  # unique outbox key "playbook/step/customer/occurrence"; also the idempotency key
    playbook: str
    step: int
    customer_id: int
    channel: str
    payload: Mapping  # JSON-ready: customer fields, message text, offer, etc. (a dict or a StoredPayload)
    attempts: int  # deliveries tried before this one


class StoredPayload(Mapping):
    """A payload as the outbox stores it: its JSON text, parsed only when a value is read.

    A channel that passes the payload on whole (``record_json``) splices the text in as it is,
    so a million file lines cost no parse and no re-encoding; the text was written by
    ``to_json``, so the line is the same as if the parsed value had been encoded again."""

    __slots__ = ("text", "_parsed")

    def __init__(self, text: str):
        self.text = text
        self._parsed: dict | None = None

    def _value(self) -> dict:
        if self._parsed is None:
            self._parsed = json.loads(self.text)
        return self._parsed

    def __getitem__(self, name: str):
        return self._value()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._value())

    def __len__(self) -> int:
        return len(self._value())

    def __eq__(self, other) -> bool:
        return self._value() == (other._value() if isinstance(other, StoredPayload) else other)

    def __repr__(self) -> str:
        return f"StoredPayload({self.text!r})"


@dataclass(frozen=True)
class Outcome:
    """What became of a delivery; ``detail`` is one line for the outbox's response column."""

    status: str  # "sent" | "failed" (permanent) | "retry" (transient: try again later)
    detail: str

    def __post_init__(self):
        if self.status not in OUTCOME_STATUSES:
            raise ValueError(f"outcome status {self.status!r} is not one of {', '.join(OUTCOME_STATUSES)}")


class Channel(Protocol):
    name: str

    def deliver(self, delivery: Delivery) -> Outcome: ...

    def close(self) -> None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def sent_at_text(moment: datetime) -> str:
    """``moment`` in UTC to the second, ISO 8601 (a naive moment is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def delivery_record(delivery: Delivery, sent_at: datetime | str) -> dict:
    """The record a webhook posts and a file channel appends, in this field order (``sent_at``
    as ``sent_at_text`` writes it, or already written so)."""
    return {
        "key": delivery.key,
        "playbook": delivery.playbook,
        "step": delivery.step,
        "customer_id": delivery.customer_id,
        "channel": delivery.channel,
        "payload": delivery.payload,
        "sent_at": sent_at if isinstance(sent_at, str) else sent_at_text(sent_at),
    }


def record_json(delivery: Delivery, sent_at: datetime | str) -> str:
    """``delivery_record`` as compact JSON text (``to_json``), a stored payload's text spliced in.
    ``sent_at`` may be given as ``sent_at_text`` already wrote it, once for a whole batch."""
    if isinstance(delivery.payload, StoredPayload) and type(delivery.step) is int \
            and type(delivery.customer_id) is int:
        # The usual case, written directly (the same text as below: strings by to_json's own
        # encoder): a file channel writes a line per delivery, a million in a big run.
        stamp = sent_at if isinstance(sent_at, str) else sent_at_text(sent_at)
        return (f'{{"key":{encode_basestring(delivery.key)},"playbook":{encode_basestring(delivery.playbook)},'
                f'"step":{delivery.step},"customer_id":{delivery.customer_id},'
                f'"channel":{encode_basestring(delivery.channel)},"payload":{delivery.payload.text},'
                f'"sent_at":{encode_basestring(stamp)}}}')
    record = delivery_record(delivery, sent_at)
    if not isinstance(delivery.payload, StoredPayload):
        return to_json(record)
    record["payload"] = None
    head, tail = to_json(record).split(',"payload":null,', 1)
    return f'{head},"payload":{delivery.payload.text},{tail}'


def payload_json(payload: Mapping) -> str:
    """A payload's JSON text: a stored payload's own, else ``to_json``."""
    return payload.text if isinstance(payload, StoredPayload) else to_json(payload)


def to_json(value) -> str:
    """Compact JSON, UTF-8 letters kept; dates as ISO text and Decimals as numbers.

    Raises TypeError/ValueError for anything else that is not JSON (NaN included), which a
    channel turns into a ``failed`` outcome: such a row would fail the same way every time.
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default)


def _json_default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal) and value.is_finite():
        return float(value)
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON")


def one_line(text: str, limit: int = 200) -> str:
    """``text`` on one line of at most ``limit`` characters, for the outbox's response column."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# -- building channels from settings -----------------------------------------------------------
KINDS = ("webhook", "file", "smtp")
_WEBHOOK_NUMBERS = {"timeout": float, "retries": int, "backoff": float, "max_backoff": float}


def make_channel(name: str, options: dict, links: Callable[[], Any] | None = None,
                 refused: Callable[[Delivery, str, str], None] | None = None) -> Channel:
    """The channel ``name`` built from its settings ``options`` (a settings-file section).

    ``webhook``: ``url`` and ``secret`` required; ``timeout``, ``retries``, ``backoff``,
    ``max_backoff`` optional. ``file``: ``path`` required. ``smtp``: see
    retainly.messaging.smtp_channel.from_settings; ``links`` gives it the store's link signer,
    ``refused`` hears of each address its server refuses (retainly.messaging.bounces.at_send).
    Another channel name (such as ``sms``) may be any kind by naming it: ``{"kind": "webhook", ...}``.
    """
    options = dict(options or {})
    kind = options.pop("kind", name)
    if kind not in KINDS:
        raise InputError(
            f"unknown channel {name!r}: use {' or '.join(KINDS)}, or give it a `kind` ({' or '.join(KINDS)})"
            if kind == name
            else f"channel {name!r}: unknown `kind` {kind!r}; use {' or '.join(KINDS)}",
            parameter="kind",
        )
    if kind == "smtp":
        from retainly.messaging.smtp_channel import BOOLEAN_OPTIONS, NUMBER_OPTIONS, TEXT_OPTIONS, from_settings

        if links is None:
            raise InputError(f"channel {name!r}: an smtp channel signs its unsubscribe links with the store's "
                             "secret; build it through the workspace (ws.playbooks)", parameter="kind")
        _known_options(name, options, {*TEXT_OPTIONS, *NUMBER_OPTIONS, *BOOLEAN_OPTIONS})
        return from_settings(name, options, links(), _number, refused)
    if kind == "webhook":
        from retainly.messaging.webhook import WebhookChannel

        _known_options(name, options, {"url", "secret", *_WEBHOOK_NUMBERS})
        url, secret = _required(name, options, "url"), _required(name, options, "secret")
        numbers = {key: _number(name, key, options[key], type_) for key, type_ in _WEBHOOK_NUMBERS.items()
                   if key in options}
        return WebhookChannel(url, secret, name=name, **numbers)
    from retainly.messaging.file_channel import FileChannel

    _known_options(name, options, {"path"})
    return FileChannel(_required(name, options, "path"), name=name)


def _known_options(name: str, options: dict, known: set[str]) -> None:
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(
            f"channel {name!r}: unknown option `{unknown[0]}`; its options are {', '.join(sorted(known))}",
            parameter=unknown[0],
        )


def _required(name: str, options: dict, key: str) -> str:
    value = options.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"channel {name!r} needs option `{key}` (a non-empty text)", parameter=key)
    return value


def _number(name: str, key: str, value, kind: type):
    whole = isinstance(value, int) and not isinstance(value, bool)
    if kind is int and not (whole and value >= 0):
        raise InputError(f"channel {name!r}: `{key}` must be a whole number >= 0, not {value!r}", parameter=key)
    if kind is float and not ((whole or isinstance(value, float)) and math.isfinite(value) and value > 0):
        raise InputError(f"channel {name!r}: `{key}` must be a number > 0, not {value!r}", parameter=key)
    return kind(value)
