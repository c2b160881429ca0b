"""Email: the links in messages answered (one-click unsubscribe), docs/email.md.

``ws.email.unsubscribe_link(token)`` says whether a token is a valid unsubscribe link (None for
a forged, altered or unknown one); ``ws.email.unsubscribe(token, how)`` records the customer's
email suppression at once. The web app's ``/u/<token>`` calls these; nothing else is needed
to honour RFC 8058's one-click POST.
"""

from __future__ import annotations

from datetime import datetime

from retainly.messaging.consent import email_suppressed, unsubscribe
from retainly.messaging.links import UNSUBSCRIBE, LinkSigner, Signed
from retainly.results.email import UnsubscribeLink
from retainly.services.base import Service

HOW = ("one-click", "page")  # the mail client's POST, or the button of the link's page


class EmailService(Service):
    """Unsubscribe links: checked and acted on."""

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
        unsubscribe(self.store, signed.customer_id, f"{how if how in HOW else 'page'} link of {signed.key}",
                    at=datetime.now().replace(microsecond=0))
        return self.unsubscribe_link(token)

    def _signed(self, token: str) -> Signed | None:
        return LinkSigner.of(self.store).check(token, UNSUBSCRIBE)

    def _shop_name(self) -> str:
        for options in self.settings.channels.values():
            if isinstance(options, dict) and options.get("shop_name"):
                return str(options["shop_name"])
        return ""
