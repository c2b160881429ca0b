"""An outbox row as an email: the bytes an SMTP server is given, signed when the shop has a key.

What every message carries:

* ``Message-ID``: made from the outbox key, so the same row always has the same id (a receiving
  system, and a shop reading its logs, can tell a repeat); ``X-Retainly-Key``: the key itself,
  by which a bounce or complaint finds its row;
* ``X-Retainly-Stream``: ``marketing`` or ``transactional`` (a step of a playbook whose
  ``marketing`` is false, such as an order's feedback question): mail providers and the shop's
  own filters keep the two apart;
* marketing messages: ``List-Unsubscribe: <https URL>, <mailto:...>`` and exactly
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), and the same link visible
  in the footer of both parts, beside the shop's postal address.

**The folding pitfall.** Python's default email policies fold a header longer than 78
characters by RFC 2047-encoding it, which turns a long ``List-Unsubscribe`` into
``=?utf-8?q?...?=`` that no mail client reads as a URL. Messages are built with the SMTP policy
and a line limit of 998 (RFC 5322's hard limit), so the header stays literal; the DKIM signature
is computed over the final bytes, and exactly those bytes are sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import css_inline
import dkim
import html2text
from jinja2 import Environment, FileSystemLoader, TemplateError, meta, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from retainly.messaging.channels import Delivery
from retainly.messaging.links import FEEDBACK, UNSUBSCRIBE, LinkSigner
from retainly.messaging.tracking import tracked_html

POLICY = policy.SMTP.clone(max_line_length=998)  # max_line_length=None crashes set_content on 3.11
# The parts' bodies are encoded when they are set, under the message's own policy: quoted-printable
# lines within RFC 2045's 76 characters (the SMTP policy's 78 is too long for them); the headers
# are folded when the message is written, under POLICY.
_BODY_POLICY = policy.SMTP.clone(max_line_length=76)
ONE_CLICK = "List-Unsubscribe=One-Click"
UNSUBSCRIBE_PATH = "/u/"  # where `retainly serve` answers unsubscribe links
FEEDBACK_PATH = "/f/"  # ... and the feedback question's
SIGNED_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"mime-version",
                  b"content-type", b"list-unsubscribe", b"list-unsubscribe-post", b"x-retainly-key")
_LAYOUT = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
                      keep_trailing_newline=True, trim_blocks=True)
# A shop's own layout is a template it edits: sandboxed, its values escaped.
SHOP_LAYOUTS = SandboxedEnvironment(autoescape=True)
LAYOUT_VALUES = ("content", "offer", "unsubscribe", "shop", "postal_address", "logo_url", "colour", "feedback")


@dataclass(frozen=True)
class DkimKey:
    """The shop's DKIM key: the private key (PEM) for ``selector._domainkey.<domain>``."""

    domain: str
    selector: str
    private_key: bytes


@dataclass(frozen=True)
class Sender:
    """Who the messages come from, and what their footers and links say."""

    from_address: str  # "Shop <news@shop.example>"
    public_url: str  # the address of `retainly serve` as customers reach it (https), for links
    shop_name: str = ""
    reply_to: str | None = None
    unsubscribe_mailto: str | None = None  # an address that unsubscribes whoever writes to it
    postal_address: str | None = None  # the shop's postal address, in every footer
    dkim: DkimKey | None = None
    layout: str | None = None  # the shop's own HTML layout (a template naming LAYOUT_VALUES), else the built-in
    logo_url: str | None = None
    colour: str = "#059669"
    track: bool = True  # opens and clicks (retainly.messaging.tracking); UTM on shop links either way
    shop_url: str | None = None  # the shop's site: links to its host get UTM parameters

    @property
    def shop_host(self) -> str:
        host = urlsplit(self.shop_url).hostname if self.shop_url else None
        return (host or self.domain).lower().removeprefix("www.")

    @property
    def domain(self) -> str:
        return Address(addr_spec=getaddresses([self.from_address])[0][1]).domain


class MessageRefused(ValueError):
    """A message that cannot be built for this row (no address, a malformed one): never sendable."""


def message_id(key: str, domain: str) -> str:
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:40]}@{domain}>"


def recipient(delivery: Delivery) -> tuple[str, str]:
    """(display name, address) of the row's customer; MessageRefused when there is no usable address."""
    address = (delivery.payload.get("email") or "").strip()
    if not address:
        raise MessageRefused("no email address")
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError) as exc:
        raise MessageRefused(f"malformed email address {address!r} ({exc})") from None
    if not parsed.username or "." not in parsed.domain or any(c.isspace() for c in address):
        raise MessageRefused(f"malformed email address {address!r}")
    if not parsed.username.isascii():
        raise MessageRefused(f"email address {address!r} has letters outside ASCII before the @, which needs "
                             "SMTPUTF8; retainly does not send such addresses yet")
    if not parsed.domain.isascii():  # an internationalized domain goes out in its ASCII (IDNA) form
        try:
            address = f"{parsed.username}@{parsed.domain.encode('idna').decode('ascii')}"
        except UnicodeError:
            raise MessageRefused(f"email address {address!r} has a domain that is not a valid name") from None
    return (delivery.payload.get("name") or "").strip(), address


def unsubscribe_url(sender: Sender, links: LinkSigner, delivery: Delivery) -> str:
    token = links.sign(UNSUBSCRIBE, delivery.customer_id, delivery.key)
    return sender.public_url.rstrip("/") + UNSUBSCRIBE_PATH + token


def preview_url(sender: Sender) -> str:
    """The unsubscribe link of a preview or a test send: a page saying the link is not valid."""
    return sender.public_url.rstrip("/") + UNSUBSCRIBE_PATH + "preview"


def compose(delivery: Delivery, sender: Sender, links: LinkSigner | None, now: datetime) -> tuple[str, bytes]:
    """(recipient address, message bytes) for one outbox row, DKIM-signed when the sender has a key.
    Without ``links`` (a preview, a test send) the unsubscribe link is ``preview_url``: it unsubscribes nobody."""
    payload = delivery.payload
    name, address = recipient(delivery)
    marketing = bool(payload.get("marketing", True))
    message = EmailMessage(policy=_BODY_POLICY)
    message["From"] = sender.from_address
    message["To"] = formataddr((name, address))
    if sender.reply_to:
        message["Reply-To"] = sender.reply_to
    message["Subject"] = payload.get("subject") or payload.get("title") or sender.shop_name or "A message"
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(delivery.key, sender.domain)
    message["X-Retainly-Key"] = delivery.key
    message["X-Retainly-Stream"] = "marketing" if marketing else "transactional"
    link = None if not marketing else unsubscribe_url(sender, links, delivery) if links else preview_url(sender)
    if link is not None:
        targets = [f"<{link}>"]
        if sender.unsubscribe_mailto:
            targets.append(f"<mailto:{sender.unsubscribe_mailto}?subject=unsubscribe>")
        message["List-Unsubscribe"] = ", ".join(targets)
        message["List-Unsubscribe-Post"] = ONE_CLICK
    feedback = None
    if payload.get("feedback"):
        feedback = sender.public_url.rstrip("/") + FEEDBACK_PATH + (
            links.sign(FEEDBACK, delivery.customer_id, delivery.key) if links else "preview")
    text, html = bodies(payload, sender, link, feedback)
    html = tracked_html(html, public_url=sender.public_url, shop_host=sender.shop_host,
                        links=links if sender.track else None, customer_id=delivery.customer_id, key=delivery.key,
                        playbook=delivery.playbook, step=delivery.step)
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    raw = message.as_bytes(policy=POLICY)
    if sender.dkim is not None:
        key = sender.dkim
        present = [name for name in SIGNED_HEADERS if message[name.decode()] is not None]
        raw = dkim.sign(raw, key.selector.encode(), key.domain.encode(), key.private_key,
                        include_headers=present) + raw
    return address, raw


def bodies(payload, sender: Sender, unsubscribe: str | None, feedback: str | None = None) -> tuple[str, str]:
    """(plain text, HTML) of a message: the step's html (already rendered, values escaped) or its
    text as paragraphs, in the layout with the offer, the feedback question (``feedback``: its
    link, a score 0-10 appended to it) and the footer, CSS inlined; the text part is the step's
    text, or made from its html."""
    html_content = payload.get("html")
    text = payload.get("text") or ""
    if html_content:
        content = Markup(html_content)
        if not text.strip():
            text = html_to_text(html_content)
    else:
        content = Markup("\n").join(Markup('<p style="margin:0 0 16px 0;">{}</p>').format(paragraph)
                                    for paragraph in text.split("\n\n") if paragraph.strip())
    values = {"content": content, "text": text, "offer": payload.get("offer"), "unsubscribe": unsubscribe,
              "shop": sender.shop_name, "postal_address": sender.postal_address, "logo_url": sender.logo_url,
              "colour": sender.colour, "feedback": feedback}
    if feedback:
        values["content"] = content + Markup(_layout("feedback.html.j2").render(values))
    layout = _shop_layout(sender.layout) if sender.layout else _layout("email.html.j2")
    return _layout("email.txt.j2").render(values), css_inline.inline(layout.render(values))


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML part: links as their addresses, no line wrapping."""
    converter = html2text.HTML2Text(bodywidth=0)
    converter.ignore_images = True
    converter.ignore_emphasis = True
    return converter.handle(html).strip()


def check_layout(source: str, where: str) -> None:
    """Refuse a shop's layout that does not compile or names values it will not get (line and name)."""
    try:
        parsed = SHOP_LAYOUTS.parse(source)
    except TemplateError as error:
        raise MessageRefused(f"{where}: line {getattr(error, 'lineno', '?')}: {error.message}") from None
    unknown = sorted(meta.find_undeclared_variables(parsed) - set(LAYOUT_VALUES))
    if unknown:
        raise MessageRefused(f"{where}: unknown value `{unknown[0]}`; a layout may name {', '.join(LAYOUT_VALUES)}")
    if "unsubscribe" not in source:
        raise MessageRefused(f"{where}: the layout must show the unsubscribe link ({{{{ unsubscribe }}}}) in "
                             "marketing messages")


@lru_cache(maxsize=4)
def _layout(name: str):
    return _LAYOUT.get_template(name)


@lru_cache(maxsize=4)
def _shop_layout(source: str):
    return SHOP_LAYOUTS.from_string(source)
