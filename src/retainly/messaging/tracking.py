"""Opens and clicks of the emails sent, and UTM parameters on the shop's links.

**Clicks.** Every web link of a message's HTML part is rewritten, when it is sent, to
``<public_url>/c/<token>``; the token signs the customer, the message and the destination, so
the server redirects only to destinations it signed (no open redirect: an altered or forged
token gets 404). Left alone: ``mailto:`` and ``tel:`` links, anchors, and retainly's own links
(unsubscribe, feedback). A click is kept once per message and destination, unless it looks like
a machine's: a known bot or link scanner by its User-Agent, or a click within
``BOT_SECONDS`` of delivery (security gateways open every link as the message arrives).
The customer is redirected either way.

**Opens.** A 1x1 image at the end of the HTML part (``<public_url>/o/<token>``, served with
``Cache-Control: no-store``) marks a message opened, once. Mail clients that load images ahead
(Apple Mail Privacy Protection) inflate opens, and clients that block images hide them: an open
is a soft figure, and nothing is ever triggered by one.

**UTM.** Links to the shop (the host of ``shop_url``, else of the From address, and its
subdomains) get ``utm_source=retainly``, ``utm_medium=email``, ``utm_campaign=<playbook>`` and
``utm_content=step-<n>`` (those a link already has are kept), so the shop's own web analytics
sees which playbook brought a visit.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from markupsafe import escape

from retainly.messaging.links import CLICK, OPEN, LinkSigner, Signed
from retainly.messaging.message_events import event_id, record_event
from retainly.store.backends import Store

CLICK_PATH, OPEN_PATH = "/c/", "/o/"
BOT_SECONDS = 10
BOT_AGENTS = re.compile(r"bot\b|crawler|spider|preview|scanner|proofpoint|mimecast|barracuda|safelinks|"
                        r"python-requests|curl/|wget/|headless|facebookexternalhit|slackbot", re.IGNORECASE)
_HREF = re.compile(r'(<a\b[^>]*?\bhref=")([^"]*)(")', re.IGNORECASE)
# The smallest transparent GIF (1x1), what the open pixel answers with.
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


def with_utm(url: str, playbook: str, step: int, shop_host: str) -> str:
    """``url`` with the campaign's UTM parameters when it points at the shop (``shop_host`` or a subdomain)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not (host == shop_host or host.endswith("." + shop_host)):
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    have = {name for name, _ in query}
    added = [(name, value) for name, value in (("utm_source", "retainly"), ("utm_medium", "email"),
                                               ("utm_campaign", playbook), ("utm_content", f"step-{step}"))
             if name not in have]
    return urlunsplit(parts._replace(query=urlencode(query + added)))


def tracked_html(html: str, *, public_url: str, shop_host: str, links: LinkSigner | None, customer_id: int,
                 key: str, playbook: str, step: int) -> str:
    """The HTML part with UTM on the shop's links and, with ``links`` (a real send, not a preview),
    each web link through the click redirect and the open pixel at the end."""
    own = public_url.rstrip("/") + "/"

    def rewrite(match: re.Match) -> str:
        url = unescape(match.group(2)).strip()
        if not url.lower().startswith(("http://", "https://")) or url.startswith(own):
            return match.group(0)
        target = with_utm(url, playbook, step, shop_host)
        if links is not None:
            target = own.rstrip("/") + CLICK_PATH + links.sign(CLICK, customer_id, key, target)
        return f"{match.group(1)}{escape(target)}{match.group(3)}"

    html = _HREF.sub(rewrite, html)
    if links is None:
        return html
    pixel = (f'<img src="{escape(own.rstrip("/") + OPEN_PATH + links.sign(OPEN, customer_id, key))}" width="1" '
             'height="1" alt="" style="display:block;border:0;width:1px;height:1px;">')
    at = html.lower().rfind("</body>")
    return html[:at] + pixel + html[at:] if at >= 0 else html + pixel


def looks_automated(user_agent: str | None, delivered_at: datetime | None, now: datetime) -> bool:
    """A click by a bot or link scanner: its User-Agent says so, or it came within BOT_SECONDS of delivery."""
    if not user_agent or BOT_AGENTS.search(user_agent):
        return True
    return delivered_at is not None and now - delivered_at < timedelta(seconds=BOT_SECONDS)


def record_open(store: Store, signed: Signed, now: datetime) -> bool:
    """Mark the message opened (once); whether this was its first open."""
    with store.transaction():
        return record_event(store, event_id("open", signed.key), "open", signed.key, signed.customer_id, "", now, now)


def record_click(store: Store, signed: Signed, user_agent: str | None, now: datetime) -> bool:
    """Keep a person's click on the signed link (once per message and destination); whether it was kept."""
    delivered = store.fetchall("SELECT finished_at FROM outbox WHERE key = ?", (signed.key,))
    if looks_automated(user_agent, delivered[0][0] if delivered else None, now):
        return False
    with store.transaction():
        return record_event(store, event_id("click", signed.key, signed.target), "click", signed.key,
                            signed.customer_id, signed.target, now, now)
