"""Who may be reached, and how: consent, suppressions and the preferred channel.

Suppressions (unsubscribed, bounced, complained, erased, manual) are kept in their own table and
always win over consent imported with customers, so re-importing a customer file never
re-subscribes anyone. A suppression on channel ``all`` covers every channel, tasks included.
Marketing messages need the channel's consent; service messages (``marketing`` false, such as a
manager's call) only need a way to reach the customer and no suppression. Consent is checked
when a step is planned and again when it is delivered.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import NamedTuple

import pyarrow as pa

from retainly.errors import InputError
from retainly.store.backends import Store

REASONS = ("unsubscribed", "bounced", "complained", "erased", "manual")
# "ads": kept out of ad platforms' audiences (retainly.exports), whatever the imported ads_consent says.
SUPPRESSIBLE = ("email", "sms", "ads", "all")
PREFERRED_ATTRIBUTE = "preferred_channel"  # a customer attribute the shop may set
NO_SUPPRESSION: Mapping[str, str] = MappingProxyType({})  # shared by every customer without one


class Reach(NamedTuple):
    """What retainly knows of how to reach one customer. (A named tuple: a run builds one per
    customer it plans for and again per customer it delivers to, millions at 1 M customers.)"""

    customer_id: int
    email: str | None = None
    phone: str | None = None
    email_consent: bool = False
    sms_consent: bool = False
    suppressed: Mapping[str, str] = NO_SUPPRESSION  # channel -> reason
    preferred: str | None = None


def reachability(store: Store, customer_ids: list[int]) -> dict[int, Reach]:
    """Contacts, consents, suppressions and preferred channel of ``customer_ids``."""
    if not customer_ids:
        return {}
    ids = pa.table({"customer_id": pa.array(sorted(set(customer_ids)), pa.int64())})
    suppressed: dict[int, dict[str, str]] = {}
    with store.staged(ids) as staged:
        joined = f'JOIN "{staged}" AS s ON s.customer_id = t.customer_id'
        for cid, channel, reason in store.fetchall(
                f"SELECT t.customer_id, t.channel, t.reason FROM suppressions AS t {joined}"):
            suppressed.setdefault(int(cid), {})[channel] = reason
        preferred = {int(cid): (value or "").strip().lower() or None for cid, value in store.fetchall(
            f"SELECT t.customer_id, t.value FROM customer_attributes AS t {joined} WHERE t.name = ?",
            (PREFERRED_ATTRIBUTE,))}
        rows = store.fetchall(
            f"SELECT t.customer_id, t.email, t.phone, t.email_consent, t.sms_consent FROM customers AS t {joined}")
    return {cid: Reach(cid, email or None, phone or None, bool(email_ok), bool(sms_ok),
                       suppressed.get(cid, NO_SUPPRESSION), preferred.get(cid))
            for cid, email, phone, email_ok, sms_ok in rows}


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


def suppress_email(store: Store, customer_id: int, reason: str, source: str, at: datetime | None = None) -> bool:
    """Suppress a customer's email for good (``reason``: unsubscribed, bounced, complained), unless
    a suppression already covers it (an earlier unsubscribe, a bounce, an erasure: the first
    reason stands); whether this added one. Idempotent: a repeated click, a mail client's retry
    or a bounce report read twice changes nothing."""
    if reason not in REASONS:
        raise InputError(f"suppression reason {reason!r} is unknown; use one of {', '.join(REASONS)}")
    with store.transaction():
        if email_suppressed(store, customer_id):
            return False
        return store.changed("INSERT INTO suppressions (customer_id, channel, reason, source, created_at) "
                             "VALUES (?, 'email', ?, ?, ?) ON CONFLICT DO NOTHING",
                             (customer_id, reason, source, at or datetime.now())) > 0


def email_suppressed(store: Store, customer_id: int) -> bool:
    """Whether a suppression covers the customer's email (on ``email`` or ``all``)."""
    return bool(store.fetchall("SELECT 1 FROM suppressions WHERE customer_id = ? AND channel IN ('email', 'all')",
                               (customer_id,)))
