"""What the email service answers: an unsubscribe link looked at, and acted on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UnsubscribeLink:
    """A valid unsubscribe link: whose it is (never shown: the page names no one) and its state."""

    customer_id: int
    message_key: str  # the outbox key of the message the link came in
    playbook: str
    already_unsubscribed: bool
    shop_name: str
