"""Email: the links in messages answered (one-click unsubscribe), and bounce reports read (docs/email.md).

``ws.email.unsubscribe_link(token)`` says whether a token is a valid unsubscribe link (None for
a forged, altered or unknown one); ``ws.email.unsubscribe(token, how)`` records the customer's
email suppression at once. The web app's ``/u/<token>`` calls these; nothing else is needed
to honour RFC 8058's one-click POST. ``ws.email.read_bounces(path)`` reads a bounce mailbox's
export (`retainly email bounces`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from retainly.messaging.bounces import COMPLAINT, HARD, SOFT, read_mailbox, record, reports_in
from retainly.messaging.consent import email_suppressed
from retainly.messaging.links import UNSUBSCRIBE, LinkSigner, Signed
from retainly.messaging.message_events import unsubscribe
from retainly.results.email import BouncesRead, UnsubscribeLink
from retainly.services.base import Service

HOW = ("one-click", "page")  # the mail client's POST, or the button of the link's page


class EmailService(Service):
    """Unsubscribe links checked and acted on; bounce reports read."""

    def unsubscribe_link(self, token: str) -> UnsubscribeLink | None:
        signed = self._signed(token)
        if signed is None:
            return None
        return UnsubscribeLink(customer_id=signed.customer_id, message_key=signed.key,
                               playbook=signed.key.split("/", 1)[0],
                               already_unsubscribed=email_suppressed(self.store, signed.customer_id),
                               shop_name=self._shop_name())

    def unsubscribe(self, token: str, how: str = "one-click") -> UnsubscribeLink | None:
        """Unsubscribe the link's customer from email at once; the link as it now stands, None
        for a token that is not ours. Repeating it changes nothing."""
        signed = self._signed(token)
        if signed is None:
            return None
        unsubscribe(self.store, signed.customer_id, signed.key, how if how in HOW else "page", _utc_now())
        return self.unsubscribe_link(token)

    def read_bounces(self, path: str | Path) -> BouncesRead:
        """Read a bounce mailbox's export (mbox, .eml, or a folder of .eml): keep each bounce and
        complaint report once and suppress the addresses they condemn (retainly.messaging.bounces)."""
        now = _utc_now()
        emails = other = 0
        reports = []
        for _where, raw in read_mailbox(Path(path)):
            emails += 1
            found = reports_in(raw)
            other += not found
            reports += found
        done = record(self.store, reports, self.settings.actions.soft_bounce_limit, now)
        return BouncesRead(emails=emails, other_emails=other, reports=done["reports"],
                           already_read=done["already_read"], not_matched=done["not_matched"], bounces=done[HARD],
                           soft_bounces=done[SOFT], complaints=done[COMPLAINT], suppressed=done["suppressed"])

    def _signed(self, token: str) -> Signed | None:
        return LinkSigner.of(self.store).check(token, UNSUBSCRIBE)

    def _shop_name(self) -> str:
        for options in self.settings.channels.values():
            if isinstance(options, dict) and options.get("shop_name"):
                return str(options["shop_name"])
        return ""


def _utc_now() -> datetime:
    """Now in UTC, naive, to the second: how message events keep time."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
