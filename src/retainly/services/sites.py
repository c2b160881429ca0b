"""The site snippet: site keys, each allowed from a few origins, and the events the snippet sends
(``retainly.access.sites`` says why a public key is safe enough, docs/api.md shows the snippet).

``ws.sites.add(origins, name)`` makes a key; ``ws.sites.snippet(key, server_url)`` is the HTML a
shop pastes into its pages; ``ws.sites.record(...)`` writes a batch of the snippet's events.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from retainly.access import sites
from retainly.access.sites import EVENT_KINDS, origin_of
from retainly.errors import InputError
from retainly.results.base import rows
from retainly.results.sites import SiteEventsRecorded, SiteKey
from retainly.services.base import Service

__all__ = ["EVENT_KINDS", "SNIPPET_PATH", "SiteEventsRecorded", "SiteKey", "SiteService", "origin_of"]

# Where `retainly serve` serves the script, under its own address.
SNIPPET_PATH = "/snippet.js"


class SiteService(Service):
    """Site keys: made, listed, revoked, and checked on every event the snippet sends."""

    def add(self, origins: Sequence[str], name: str | None = None) -> SiteKey:
        """A new site key, taken from ``origins`` only (``https://shop.example``; each as its own item)."""
        return SiteKey(**sites.create(self.store, origins, name))

    def list(self) -> list[SiteKey]:
        """Every site key, revoked ones too, oldest first."""
        return rows(SiteKey, sites.listed(self.store))

    def revoke(self, site_id: int) -> SiteKey:
        """Revoke a site key for good (again: no change); the key as it now stands."""
        return SiteKey(**sites.revoke(self.store, site_id))

    def live(self, key: str | None) -> SiteKey | None:
        """The live site key ``key`` is; None for a malformed, unknown or revoked one."""
        found = sites.live(self.store, key)
        return None if found is None else SiteKey(**found)

    def allowed_origins(self) -> set[str]:
        """The origins of every live site key (what a CORS preflight, which names no key, is checked against)."""
        return sites.live_origins(self.store)

    def record(self, site: SiteKey, session_id: str, customer_id: str | None,
               events: Sequence[dict]) -> SiteEventsRecorded:
        """Write one session's events (each a dict of ``event_id``, ``kind``, ``sku``, ``order_id``,
        checked by the caller), stamped with the time they arrive; an event id received before is
        not written again."""
        written, repeated = sites.record_events(self.store, site.site_id, session_id, customer_id, events)
        return SiteEventsRecorded(accepted=written, already_received=repeated)

    def snippet(self, key: str, server_url: str) -> str:
        """The HTML a shop pastes into each page (before ``</head>``) to send events with ``key`` to
        the server at ``server_url`` (its public address, e.g. https://retainly.shop.example)."""
        base = server_url.strip().rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise InputError(f"`server_url` {server_url!r} needs http:// or https://, e.g. "
                             "https://retainly.shop.example", parameter="server_url")
        return ("<script>window.retainly=window.retainly||function(){(retainly.q=retainly.q||[])"
                ".push(arguments)};</script>\n"
                f'<script async src="{escape(base + SNIPPET_PATH)}" data-site-key="{escape(key)}"></script>')
