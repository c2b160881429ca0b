"""Who may be reached, and how: consent, suppressions and the preferred channel.

Suppressions (unsubscribed, bounced, complained, erased, manual) are kept in their own table and
always win over consent imported with customers, so re-importing a customer file never
re-subscribes anyone. A suppression on channel ``all`` covers every channel, tasks included.
Marketing messages need the channel's consent; service messages (``marketing`` false, such as a
manager's call) only need a way to reach the customer and no suppression. Consent is checked
when a step is planned and again when it is delivered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from retainly.errors import InputError
from retainly.store.backends import Store

REASONS = ("unsubscribed", "bounced", "complained", "erased", "manual")
SUPPRESSIBLE = ("email", "sms", "all")
PREFERRED_ATTRIBUTE = "preferred_channel"  # a customer attribute the shop may set


@dataclass(frozen=True)
class Reach:
    """What retainly knows of how to reach one customer."""

    customer_id: int
    email: str | None = None
    phone: str | None = None
    email_consent: bool = False
    sms_consent: bool = False
    suppressed: dict[str, str] = field(default_factory=dict)  # channel -> reason
    preferred: str | None = None


def reachability(store: Store, customer_ids: list[int]) -> dict[int, Reach]:
    """Contacts, consents, suppressions and preferred channel of ``customer_ids``."""
    if not customer_ids:
        return {}
    found: dict[int, dict] = {}
    ids = pa.table({"customer_id": pa.array(sorted(set(customer_ids)), pa.int64())})
    with store.staged(ids) as staged:
        joined = f'JOIN "{staged}" AS s ON s.customer_id = t.customer_id'
        for cid, email, phone, email_ok, sms_ok in store.fetchall(
                f"SELECT t.customer_id, t.email, t.phone, t.email_consent, t.sms_consent FROM customers AS t {joined}"):
            found[int(cid)] = {"email": email or None, "phone": phone or None, "email_consent": bool(email_ok),
                               "sms_consent": bool(sms_ok), "suppressed": {}, "preferred": None}
        for cid, channel, reason in store.fetchall(
                f"SELECT t.customer_id, t.channel, t.reason FROM suppressions AS t {joined}"):
            if int(cid) in found:
                found[int(cid)]["suppressed"][channel] = reason
        for cid, value in store.fetchall(
                f"SELECT t.customer_id, t.value FROM customer_attributes AS t {joined} WHERE t.name = ?",
                (PREFERRED_ATTRIBUTE,)):
            if int(cid) in found:
                found[int(cid)]["preferred"] = (value or "").strip().lower() or None
    return {cid: Reach(cid, **values) for cid, values in found.items()}


def refusal(reach: Reach | None, channel: str, marketing: bool) -> str | None:
    """Why ``channel`` may not be used for this customer (None: it may)."""
    if reach is None:
        return "customer not found"
    if "all" in reach.suppressed:
        return f"suppressed ({reach.suppressed['all']})"
    if channel in reach.suppressed:
        return f"suppressed ({reach.suppressed[channel]})"
    if channel == "email":
        if not reach.email:
            return "no email address"
        if marketing and not reach.email_consent:
            return "no email consent"
    elif channel == "sms":
        if not reach.phone:
            return "no phone number"
        if marketing and not reach.sms_consent:
            return "no SMS consent"
    return None


def choose_channel(reach: Reach | None, channels: tuple[str, ...], marketing: bool) -> tuple[str | None, str | None]:
    """The first of ``channels`` (the customer's preferred one first, when listed) that may be used,
    or (None, the first refusal's reason)."""
    ordered = list(channels)
    if reach is not None and reach.preferred in ordered:
        ordered.remove(reach.preferred)
        ordered.insert(0, reach.preferred)
    reasons = []
    for channel in ordered:
        reason = refusal(reach, channel, marketing)
        if reason is None:
            return channel, None
        reasons.append(reason)
    return None, reasons[0] if reasons else "no channel"


def suppress(store: Store, customer_id: int, channel: str, reason: str, source: str | None = None,
             at: datetime | None = None) -> None:
    """Record a suppression (replacing an earlier one on the same channel)."""
    if channel not in SUPPRESSIBLE:
        raise InputError(f"channel {channel!r} cannot be suppressed; use one of {', '.join(SUPPRESSIBLE)}")
    if reason not in REASONS:
        raise InputError(f"suppression reason {reason!r} is unknown; use one of {', '.join(REASONS)}")
    with store.transaction():
        store.execute("DELETE FROM suppressions WHERE customer_id = ? AND channel = ?", (customer_id, channel))
        store.execute("INSERT INTO suppressions (customer_id, channel, reason, source, created_at) "
                      "VALUES (?, ?, ?, ?, ?)", (customer_id, channel, reason, source, at or datetime.now()))
