"""Email: the links in messages answered (one-click unsubscribe, the feedback question), and bounce
reports read (docs/email.md).

``ws.email.unsubscribe_link(token)`` says whether a token is a valid unsubscribe link (None for
a forged, altered or unknown one); ``ws.email.unsubscribe(token, how)`` records the customer's
email suppression at once. The web app's ``/u/<token>`` calls these; nothing else is needed
to honour RFC 8058's one-click POST. ``ws.email.read_bounces(path)`` reads a bounce mailbox's
export (`retainly email bounces`); ``preview`` and ``send_test`` show a step's email for a customer.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from pathlib import Path

from retainly.errors import InputError
from retainly.features.customer_view import find_customer_id
from retainly.messaging.bounces import COMPLAINT, HARD, SOFT, postmark_reports, read_mailbox, record, reports_in
from retainly.messaging.channels import Delivery
from retainly.messaging.email_message import Sender, compose
from retainly.messaging.consent import email_suppressed
from retainly.messaging.feedback import answer_of, checked_score, record_feedback
from retainly.messaging.links import CLICK, FEEDBACK, OPEN, UNSUBSCRIBE, LinkSigner, Signed
from retainly.messaging.message_events import unsubscribe
from retainly.messaging.promo_codes import add_codes, generated, pools, read_codes
from retainly.messaging.smtp_channel import SmtpChannel
from retainly.messaging.tracking import PIXEL as OPEN_PIXEL
from retainly.messaging.tracking import record_click, record_open
from retainly.playbooks import saved
from retainly.playbooks.planning import one_payload
from retainly.results.email import (BouncesRead, CodePool, EmailPreview, FeedbackQuestion, TestSent,
                                    UnsubscribeLink)
from retainly.services.base import Service

__all__ = ["OPEN_PIXEL", "EmailService"]

HOW = ("one-click", "page")  # the mail client's POST, or the button of the link's page


class EmailService(Service):
    """Unsubscribe links checked and acted on; bounce reports read; a step's email previewed and test-sent."""

    def unsubscribe_link(self, token: str) -> UnsubscribeLink | None:
        signed = self._check(token, UNSUBSCRIBE)
        return None if signed is None else self._link(signed)

    def unsubscribe(self, token: str, how: str = "one-click") -> UnsubscribeLink | None:
        """Unsubscribe the link's customer from email at once; the link as it now stands, None
        for a token that is not ours. Repeating it changes nothing."""
        signed = self._check(token, UNSUBSCRIBE)
        if signed is None:
            return None
        unsubscribe(self.store, signed.customer_id, signed.key, how if how in HOW else "page", _utc_now())
        return self._link(signed)

    def feedback_question(self, token: str, score: str | int | None = None) -> FeedbackQuestion | None:
        """The feedback link ``token`` (None if it is not ours), with ``score`` chosen (a score in
        the link; else the earlier answer's). Looking at it records nothing."""
        signed = self._check(token, FEEDBACK)
        return None if signed is None else self._question(signed, score)

    def give_feedback(self, token: str, score: str | int, comment: str | None = None) -> FeedbackQuestion | None:
        """Keep the customer's answer to the feedback link ``token`` (replacing an earlier one);
        None if the token is not ours; InputError for a score that is not 0-10."""
        signed = self._check(token, FEEDBACK)
        if signed is None:
            return None
        score = checked_score(score)
        with self.store.transaction():  # the answer and the task a low score makes: both or neither
            record_feedback(self.store, signed.customer_id, signed.key, score, comment,
                            datetime.now().replace(microsecond=0))
            made = self.ws.tasks.after_feedback(signed.customer_id, signed.key, score, comment)
        if made is not None:
            self.ws.tasks.notify_urgent([made])
        return self._question(signed, None)

    def opened(self, token: str) -> bool:
        """The open pixel of a message was loaded: kept once; False for a token that is not ours."""
        signed = self._check(token, OPEN)
        if signed is None:
            return False
        record_open(self.store, signed, _utc_now())
        return True

    def clicked(self, token: str, user_agent: str | None) -> str | None:
        """Where a click link leads (None: not ours); the click is kept unless it looks automated."""
        signed = self._check(token, CLICK)
        if signed is None or not signed.target.startswith(("http://", "https://")):
            return None
        record_click(self.store, signed, user_agent, _utc_now())
        return signed.target

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
        return self._recorded(reports, emails, other, now)

    def add_codes(self, pool: str, path: str | Path | None = None, generate: int = 0, prefix: str = "",
                  out: str | Path | None = None) -> CodePool:
        """Fill ``pool`` with the codes of a file (one a line; a CSV's first column; a header line
        ``code`` is skipped) or ``generate`` new ones (written to ``out``, one a line, for the shop
        system to take); all or none. The pool as it then stands."""
        if (path is None) == (not generate):
            raise InputError("give a file of codes or a number of codes to generate, not both nor neither",
                             parameter="path")
        if path is not None:
            codes = read_codes(Path(path))
            where = str(path)
        else:
            if out is None:
                raise InputError("generated codes must reach the shop system too: name a file for them",
                                 parameter="out")
            codes = generated(generate, prefix)
            where = "generated"
        add_codes(self.store, pool, codes, datetime.now().replace(microsecond=0), where)
        if path is None:
            Path(out).write_text("\n".join(codes) + "\n", encoding="utf-8")
        return next(CodePool(**found) for found in pools(self.store) if found["pool"] == pool)

    def code_pools(self) -> list[CodePool]:
        return [CodePool(**found) for found in pools(self.store)]

    def provider_event(self, provider: str, body) -> BouncesRead:
        """One bounce or complaint a mail provider posted (``provider``: postmark), recorded as a
        report read from the bounce mailbox would be."""
        if provider != "postmark":
            raise InputError(f"provider {provider!r}: retainly reads postmark's webhook; other providers' bounces "
                             "come through the bounce mailbox (`retainly email bounces`)", parameter="provider")
        reports = postmark_reports(body)
        return self._recorded(reports, 1, int(not reports), _utc_now())

    def _recorded(self, reports: list, emails: int, other: int, now: datetime) -> BouncesRead:
        """``reports`` recorded (retainly.messaging.bounces.record), counted as a reading of ``emails``."""
        done = record(self.store, reports, self.settings.actions.soft_bounce_limit, now)
        return BouncesRead(emails=emails, other_emails=other, reports=done["reports"],
                           already_read=done["already_read"], not_matched=done["not_matched"], bounces=done[HARD],
                           soft_bounces=done[SOFT], complaints=done[COMPLAINT], suppressed=done["suppressed"])

    def preview(self, playbook: str, customer: str, step: int = 1, as_of: date | None = None) -> EmailPreview:
        """Step ``step`` (from 1) of ``playbook`` as the email a run would send ``customer`` (the
        shop's id) as of ``as_of`` (default: the last order's day); its unsubscribe link is inert."""
        found, number, customer_id, day = self._step_of(playbook, customer, step, as_of)
        payload, channel, refused = one_payload(self.store, found, number, customer_id, day)
        sender = self._sender()
        _, raw = compose(self._delivery(found, number, customer_id, payload), sender, None, datetime.now(UTC))
        message = message_from_bytes(raw, policy=policy.default)
        return EmailPreview(playbook=found.name, step=number, customer=customer, as_of=day,
                            to=payload.get("email"), channel=channel, refused=refused, subject=str(message["Subject"]),
                            text=_lines(message.get_body(("plain",)).get_content()),
                            html=_lines(message.get_body(("html",)).get_content()))

    def send_test(self, playbook: str, customer: str, to: str, step: int = 1,
                  as_of: date | None = None) -> TestSent:
        """The preview's email sent to ``to`` through the shop's SMTP settings (subject marked
        [test]); nothing is written to the outbox, and its unsubscribe link unsubscribes nobody."""
        found, number, customer_id, day = self._step_of(playbook, customer, step, as_of)
        payload, _, _ = one_payload(self.store, found, number, customer_id, day)
        channel = self._smtp()
        if channel is None:
            raise InputError("email is not sent through SMTP here: add a [channels.email] section with a host "
                             "(docs/email.md) to send a test", parameter="to")
        payload = {**payload, "email": to, "subject": f"[test] {payload.get('subject') or found.title}"}
        key = f"test/{found.name}/{number}/{customer_id}/{_utc_now():%Y%m%dT%H%M%S}"
        with channel:
            outcome = channel.deliver(self._delivery(found, number, customer_id, payload, key), test=True)
        return TestSent(to=to, status=outcome.status, detail=outcome.detail)

    def _step_of(self, playbook: str, customer: str, step: int, as_of: date | None):
        found = saved.get(self.store, playbook)
        if not 1 <= step <= len(found.steps):
            raise InputError(f"playbook {found.name!r} has {len(found.steps)} step(s); give `step` from 1 to "
                             f"{len(found.steps)}", parameter="step")
        if found.steps[step - 1].action != "message":
            raise InputError(f"step {step} of {found.name!r} is a {found.steps[step - 1].action}, not a message",
                             parameter="step")
        day = self.as_of(as_of)
        self.ws.playbooks.prepare([found], day)
        return found, step, find_customer_id(self.store, customer), day

    def _delivery(self, playbook, number: int, customer_id: int, payload: dict, key: str | None = None) -> Delivery:
        key = key or f"{playbook.name}/{number}/{customer_id}/preview"
        return Delivery(key, playbook.name, number, customer_id, "email", payload, 0)

    def _smtp(self) -> SmtpChannel | None:
        """The email channel when the settings send it over SMTP (built, not connected), else None."""
        options = self.settings.channels.get("email") or {}
        if options.get("kind", "smtp" if "host" in options else None) != "smtp":
            return None
        return self.ws.playbooks.channel("email")

    def _sender(self) -> Sender:
        channel = self._smtp()
        if channel is not None:
            return channel.sender
        return Sender(from_address="shop@example.invalid", public_url="https://example.invalid",
                      shop_name=self._shop_name())

    def _check(self, token: str, purpose: str) -> Signed | None:
        return LinkSigner.of(self.store).check(token, purpose)

    def _link(self, signed: Signed) -> UnsubscribeLink:
        return UnsubscribeLink(customer_id=signed.customer_id, message_key=signed.key,
                               playbook=signed.key.split("/", 1)[0],
                               already_unsubscribed=email_suppressed(self.store, signed.customer_id),
                               shop_name=self._shop_name())

    def _question(self, signed: Signed, score: str | int | None) -> FeedbackQuestion:
        earlier = answer_of(self.store, signed.key)
        chosen = checked_score(score) if score is not None else earlier[0] if earlier else None
        return FeedbackQuestion(customer_id=signed.customer_id, message_key=signed.key, score=chosen,
                                comment=earlier[1] if earlier else None, answered=earlier is not None,
                                shop_name=self._shop_name())

    def _shop_name(self) -> str:
        for options in self.settings.channels.values():
            if isinstance(options, dict) and options.get("shop_name"):
                return str(options["shop_name"])
        return ""


def _utc_now() -> datetime:
    """Now in UTC, naive, to the second: how message events keep time."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _lines(text: str) -> str:
    """A part's text with the wire's CRLF line ends made plain newlines."""
    return text.replace("\r\n", "\n")
