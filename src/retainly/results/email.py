"""What the email service answers: an unsubscribe link looked at, and acted on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from retainly.results.base import Result


@dataclass(frozen=True, kw_only=True)
class UnsubscribeLink(Result):
    """A valid unsubscribe link: whose it is (never shown: the page names no one) and its state."""

    customer_id: int
    message_key: str  # the outbox key of the message the link came in
    playbook: str
    already_unsubscribed: bool
    shop_name: str


@dataclass(frozen=True, kw_only=True)
class BouncesRead(Result):
    """A bounce mailbox read: its emails, the reports in them, and what was done."""

    emails: int  # emails read from the export
    other_emails: int  # not a bounce or complaint report (an auto-reply, a customer's answer)
    reports: int  # failed recipients and complaints found
    already_read: int  # reports kept before (the same export read again)
    not_matched: int  # reports naming no message or customer of this store
    bounces: int  # hard bounces: the address does not exist (5.1.x) or is disabled (5.2.1)
    soft_bounces: int
    complaints: int
    suppressed: int  # customers whose email was suppressed by this reading


@dataclass(frozen=True, kw_only=True)
class EmailPreview(Result):
    """A step's email for one customer, as a run would send it today (its unsubscribe link inert)."""

    playbook: str
    step: int
    customer: str  # the shop's id
    as_of: date
    to: str | None  # the customer's address
    channel: str | None  # the channel a run would choose for them (None: none may be used)
    refused: str | None  # why none may be used
    subject: str
    text: str
    html: str


@dataclass(frozen=True, kw_only=True)
class TestSent(Result):
    """A test send: the step's email for a customer, to another address, outside the outbox."""

    to: str
    status: str  # sent, failed or retry
    detail: str  # the server's answer


@dataclass(frozen=True, kw_only=True)
class FeedbackQuestion(Result):
    """A valid feedback link: the score chosen (in the link, or answered before) and the comment."""

    customer_id: int
    message_key: str
    score: int | None
    comment: str | None
    answered: bool
    shop_name: str


@dataclass(frozen=True, kw_only=True)
class CodePool(Result):
    """A pool of promo codes: how many, how many given to customers, how many free."""

    pool: str
    codes: int
    given: int
    free: int
