"""Bounces and complaints: the reports mail servers send back, read and acted on.

**What is read.** Delivery status notifications (RFC 3464: ``multipart/report;
report-type=delivery-status``) and complaint reports (RFC 5965, ARF: ``report-type=
feedback-report``), one by one from a mailbox export (an mbox file, an ``.eml`` file, or a
folder of them); the bounce and spam-complaint webhook of a mail provider (Postmark's format,
``postmark_reports``); and the SMTP server's own refusal of a recipient while sending (``at_send``:
a 5xx to RCPT TO without an enhanced status counts as hard, the address refused). Other mail
(an out-of-office reply, a customer's answer) is skipped.

**Which message.** The report's copy of the original carries ``X-Retainly-Key``, the outbox
key, which names the customer. Without it (a server that returns no headers), the failed
recipient's address is looked up among the customers' addresses (every customer with it).

**What it does** (``record``), each report once (re-reading the same export changes nothing):

* a *hard bounce*, a permanent failure of the address itself (enhanced status 5.1.x: no such
  mailbox or domain; 5.2.1: mailbox disabled), suppresses the customer's email at once
  (``bounced``);
* a complaint (someone pressed "spam") suppresses it at once (``complained``);
* anything else that failed (4.x.x, or a permanent failure that is not the address's: 5.7.x
  policy, 5.2.2 mailbox full, 5.3.x the server's system) is a *soft bounce*; ``soft_limit``
  of them for a customer suppress the email (``bounced``). A "delayed" notice is no bounce.

Every report is kept in ``message_events`` (kind ``bounce``, ``soft_bounce`` or ``complaint``).
"""

from __future__ import annotations

import hashlib
import mailbox
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path

from retainly.errors import InputError
from retainly.messaging.channels import Delivery
from retainly.messaging.consent import suppress_email
from retainly.messaging.message_events import count_events, event_id, record_event
from retainly.store.backends import Store

HARD, SOFT, COMPLAINT = "bounce", "soft_bounce", "complaint"
KEY_HEADER = "X-Retainly-Key"
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class Report:
    """One failed recipient, or one complaint, as a report says it."""

    kind: str  # HARD, SOFT or COMPLAINT
    recipient: str  # the address, lowercased ("" when the report does not say)
    status: str  # the enhanced status code ("5.1.1"), or the complaint's feedback type
    detail: str  # the server's diagnostic, one line
    message_key: str | None  # X-Retainly-Key of the original, when the report returned it
    report_id: str  # what makes the report itself unique (its Message-ID, else a hash of it)
    arrived_at: datetime | None = None


def classify(status: str) -> str:
    """HARD for a permanent failure of the address (5.1.x, 5.2.1), else SOFT."""
    found = _STATUS.search(status or "")
    if found is None:
        return SOFT
    klass, subject, detail = found.groups()
    if klass == "5" and (subject == "1" or (subject, detail) == ("2", "1")):
        return HARD
    return SOFT


def reports_in(raw: bytes) -> list[Report]:
    """The bounce and complaint reports one email holds; [] for any other email."""
    message = message_from_bytes(raw, policy=policy.compat32)
    if message.get_content_type() != "multipart/report":
        return []
    report_type = (message.get_param("report-type") or "").lower()
    report_id = (message.get("Message-ID") or "").strip() or hashlib.sha256(raw).hexdigest()[:32]
    arrived = _date(message.get("Date"))
    key = _original_key(message)
    if report_type == "delivery-status":
        return [Report(kind, recipient, status, detail, key, report_id, arrived)
                for kind, recipient, status, detail in _failed_recipients(message)]
    if report_type == "feedback-report":
        fields = _part_fields(message, "message/feedback-report")
        if fields is None:
            return []
        recipient = _address(fields.get("Original-Rcpt-To") or fields.get("Removal-Recipient") or "")
        feedback = (fields.get("Feedback-Type") or "abuse").strip().lower()
        source = (fields.get("User-Agent") or "a mail provider").strip()
        return [Report(COMPLAINT, recipient, feedback, f"complaint ({feedback}) from {source}", key, report_id,
                       arrived)]
    return []


# Postmark's bounce types (its webhook's "Type"), as this module counts them; the rest are no bounce
# (auto-replies, subscription changes, a template that failed to render on Postmark's side).
POSTMARK_TYPES = {"HardBounce": HARD, "BadEmailAddress": HARD, "ManuallyDeactivated": HARD,
                  "SoftBounce": SOFT, "Transient": SOFT, "DnsError": SOFT, "Blocked": SOFT, "DMARCPolicy": SOFT,
                  "SpamNotification": SOFT, "SpamComplaint": COMPLAINT}


def postmark_reports(body) -> list[Report]:
    """The reports of one Postmark webhook call: a ``Bounce`` or ``SpamComplaint`` record (their
    documented JSON: ``RecordType``, ``ID``, ``Type``, ``Email``, ``Description``, ``Details``,
    ``BouncedAt``, and ``Metadata`` whose ``retainly_key`` names the message when set); [] for any
    other record type. InputError names the field at fault."""
    if not isinstance(body, dict):
        raise InputError("the body must be one Postmark webhook record (a JSON object)", parameter="body")
    record_type = body.get("RecordType")
    if record_type not in ("Bounce", "SpamComplaint"):
        return []
    kind = COMPLAINT if record_type == "SpamComplaint" else POSTMARK_TYPES.get(str(body.get("Type")))
    if kind is None:
        return []
    recipient = _address(str(body.get("Email") or ""))
    if "@" not in recipient:
        raise InputError(f"Email = {body.get('Email')!r}: a bounce record names the address that bounced",
                         parameter="Email")
    if body.get("ID") in (None, ""):
        raise InputError("ID: a bounce record has Postmark's id, which keeps it from being counted twice",
                         parameter="ID")
    metadata = body.get("Metadata") if isinstance(body.get("Metadata"), dict) else {}
    key = metadata.get("retainly_key")
    detail = " ".join(str(body.get(field) or "") for field in ("Description", "Details")).strip()
    return [Report(kind, recipient, str(body.get("Type") or record_type)[:50], " ".join(detail.split())[:300],
                   key if isinstance(key, str) and key else None, f"postmark:{record_type}:{body['ID']}"[:200],
                   _iso(body.get("BouncedAt")))]


def read_mailbox(path: Path) -> Iterator[tuple[str, bytes]]:
    """(where, raw bytes) of each email in an mbox file, an ``.eml`` file or a folder of ``.eml`` files."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".eml")
        if not files:
            raise InputError(f"{path}: a folder without .eml files; give an mbox file, an .eml file or a folder of "
                             ".eml files exported from the bounce mailbox")
        for file in files:
            yield str(file), file.read_bytes()
        return
    if not path.is_file():
        raise InputError(f"{path}: no such file or folder; give the bounce mailbox's export (mbox or .eml)")
    head = path.read_bytes()[:5]
    if head.startswith(b"From "):
        box = mailbox.mbox(path, create=False)
        try:
            for number, key in enumerate(box.iterkeys(), start=1):
                yield f"{path} message {number}", box.get_bytes(key)
        finally:
            box.close()
        return
    yield str(path), path.read_bytes()


def record(store: Store, reports: Iterable[Report], soft_limit: int, now: datetime) -> dict[str, int]:
    """Keep each report once and suppress as the module doc says; counts of what was done."""
    counts = dict.fromkeys(("reports", "already_read", "not_matched", HARD, SOFT, COMPLAINT, "suppressed"), 0)
    for report in reports:
        counts["reports"] += 1
        customers = _customers_of(store, report)
        if not customers:
            counts["not_matched"] += 1
            continue
        with store.transaction():  # the report and what it does, together: a crash between never loses one
            new = False
            for customer_id in customers:
                new |= record_event(store, event_id(report.kind, report.report_id, report.recipient, customer_id),
                                    report.kind, report.message_key, customer_id, f"{report.status} {report.detail}",
                                    report.arrived_at or now, now)
            if new:
                for customer_id in customers:
                    counts["suppressed"] += _suppress_if_due(store, customer_id, report, soft_limit, now)
        if new:
            counts[report.kind] += 1
        else:
            counts["already_read"] += 1
    return counts


def at_send(store: Store, soft_limit: int, clock: Callable[[], datetime]) -> Callable[[Delivery, str, str], None]:
    """What an SMTP channel calls when its server refuses a recipient while sending (a 5xx to RCPT
    TO): the refusal recorded as a report of that message, hard or soft by its status."""
    def refused(delivery: Delivery, address: str, answer: str) -> None:
        found = _STATUS.search(answer)
        status = ".".join(found.groups()) if found else "5.0.0"
        report = Report(classify(answer) if found else HARD, address.lower(), status, answer, delivery.key,
                        f"smtp {delivery.key} attempt {delivery.attempts + 1}", clock())
        record(store, [report], soft_limit, clock())
    return refused


def _suppress_if_due(store: Store, customer_id: int, report: Report, soft_limit: int, now: datetime) -> int:
    if report.kind == SOFT:
        soft = count_events(store, customer_id, SOFT)
        if soft < soft_limit:
            return 0
        source = f"{soft} soft bounces, the last {report.status}"
    else:
        source = f"{report.status} {report.detail}"
    reason = "complained" if report.kind == COMPLAINT else "bounced"
    return int(suppress_email(store, customer_id, reason, source[:300], at=now))


def _customers_of(store: Store, report: Report) -> list[int]:
    if report.message_key:
        found = store.fetchall("SELECT customer_id FROM outbox WHERE key = ?", (report.message_key,))
        if found:
            return [int(found[0][0])]
    if report.recipient:
        return [int(c) for (c,) in store.fetchall(
            "SELECT customer_id FROM customers WHERE LOWER(TRIM(email)) = ? ORDER BY customer_id",
            (report.recipient,))]
    return []


def _failed_recipients(message: Message) -> Iterator[tuple[str, str, str, str]]:
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if isinstance(blocks, str):  # not parsed into header blocks: parse the text
            blocks = [HeaderParser().parsestr(block) for block in re.split(r"\r?\n\r?\n", blocks) if block.strip()]
        for block in blocks[1:]:  # the first block is about the message, the rest one per recipient
            action = (block.get("Action") or "").strip().lower()
            if action != "failed":
                continue
            status = (block.get("Status") or "").strip()
            recipient = _address((block.get("Final-Recipient") or block.get("Original-Recipient") or "")
                                 .split(";")[-1])
            detail = " ".join((block.get("Diagnostic-Code") or "").split(";", 1)[-1].split())
            yield classify(status), recipient, status, detail
        return


def _original_key(message: Message) -> str | None:
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            headers = inner[0] if isinstance(inner, list) and inner else None
        elif kind == "text/rfc822-headers":
            headers = HeaderParser().parsestr(part.get_payload(decode=True).decode("utf-8", "replace"))
        else:
            continue
        if headers is not None and headers.get(KEY_HEADER):
            return " ".join(str(headers.get(KEY_HEADER)).split())
    return None


def _part_fields(message: Message, content_type: str) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == content_type:
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
            return HeaderParser().parsestr(part.get_payload(decode=True).decode("utf-8", "replace"))
    return None


def _address(text: str) -> str:
    return parseaddr(text.strip())[1].strip().lower()


def _iso(text) -> datetime | None:
    """An ISO 8601 moment as a naive UTC one (None when missing or unreadable)."""
    try:
        return _naive_utc(datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None)
    except ValueError:
        return None


def _date(text: str | None) -> datetime | None:
    """A Date header as a naive UTC moment (None when missing or unreadable)."""
    try:
        return _naive_utc(parsedate_to_datetime(text) if text else None)
    except (TypeError, ValueError):
        return None


def _naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
