"""Site keys and the events the site snippet sends (docs/api.md, "The site snippet").

A site key (``rs_`` and 22 URL-safe characters) is public: the shop pastes it into its pages,
so anyone can read it. What it grants is small (writing visits, product views and cart events
to ``site_events``) and it is taken only from the origins it lists: a page of another site
sending it is refused (a browser always says which origin a cross-site request comes from).
A script outside a browser can claim any origin, so the endpoint also limits how often one key
is used from one address. A revoked key keeps its row and is refused from then on.

Events are written once: the snippet gives each one an id, and the stored ``event_id`` is
``s<site_id>:<that id>``, so a beacon the browser sends twice lands once and no site can
overwrite another's (or an imported) event. The customer is the shop's id the page named with
``identify``; an id the store does not know leaves the event anonymous (a public key creates no
customers), and when a session's events come with a known customer, that session's earlier
anonymous events of the same site get the customer too.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from retainly.errors import InputError, NotFoundError
from retainly.store.backends import Store

KEY_PREFIX = "rs_"
EVENT_KINDS = ("visit", "product_view", "add_to_cart", "checkout")
NAME_LENGTH = 100
MOST_ORIGINS = 20
_COLUMNS = ("site_id", "site_key", "name", "origins", "created_at", "revoked_at")
_KEY = re.compile(r"rs_[A-Za-z0-9_-]{22}")


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def origin_of(text: str) -> str:
    """``text`` as an origin, ``scheme://host[:port]`` in lower case without a default port, or an
    ``InputError`` saying what is wrong with it."""
    given = str(text).strip()
    parts = urlsplit(given)
    problem = None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problem = "it needs http:// or https:// and a host name"
    elif parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        problem = "an origin is a scheme, a host and maybe a port: no path, query or user"
    elif "*" in given:
        problem = "wildcards are not taken: list each origin"
    if problem:
        raise InputError(f"`origin` {given!r} is not an origin: {problem}, e.g. https://shop.example",
                         parameter="origin")
    try:
        port = parts.port
    except ValueError:
        raise InputError(f"`origin` {given!r} has a port that is not a number from 0 to 65535",
                         parameter="origin") from None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + ("" if port in (None, default) else f":{port}")


def _checked_origins(origins: Sequence[str]) -> list[str]:
    found = list(dict.fromkeys(origin_of(origin) for origin in origins))
    if not found:
        raise InputError("give at least one `origin` the site's pages are served from, e.g. "
                         "https://shop.example", parameter="origin")
    if len(found) > MOST_ORIGINS:
        raise InputError(f"{len(found)} origins; a site key takes at most {MOST_ORIGINS}", parameter="origin")
    return found


def create(store: Store, origins: Sequence[str], name: str | None = None) -> dict:
    """A new site key allowed from ``origins``; the key as ``get`` returns it."""
    allowed = _checked_origins(origins)
    name = (name or "").strip() or None
    if name is not None and len(name) > NAME_LENGTH:
        raise InputError(f"`name` is {len(name)} characters long; keep it to {NAME_LENGTH}", parameter="name")
    key = KEY_PREFIX + secrets.token_urlsafe(16)
    with store.transaction():
        site_id = int(store.fetchone("SELECT nextval('site_ids')")[0])
        store.execute("INSERT INTO site_keys (site_id, site_key, name, origins, created_at) VALUES (?, ?, ?, ?, ?)",
                      (site_id, key, name, " ".join(allowed), _now()))
    return get(store, site_id)


def _as_dict(row: tuple) -> dict:
    found = dict(zip(_COLUMNS, row))
    found["origins"] = found["origins"].split()
    return found


def listed(store: Store) -> list[dict]:
    """Every site key, revoked ones too, oldest first."""
    return [_as_dict(row) for row in store.fetchall(f"SELECT {', '.join(_COLUMNS)} FROM site_keys ORDER BY site_id")]


def get(store: Store, site_id: int) -> dict:
    found = store.fetchone(f"SELECT {', '.join(_COLUMNS)} FROM site_keys WHERE site_id = ?", (int(site_id),))
    if found is None:
        raise NotFoundError(f"no site key with id {site_id}; `retainly sites list` shows them", parameter="site_id")
    return _as_dict(found)


def revoke(store: Store, site_id: int) -> dict:
    """Revoke a site key for good; the key as it now stands. Revoking it again changes nothing."""
    with store.transaction():
        site = get(store, site_id)
        if site["revoked_at"] is None:
            store.execute("UPDATE site_keys SET revoked_at = ? WHERE site_id = ?", (_now(), site["site_id"]))
    return get(store, site_id)


def live(store: Store, key: str | None) -> dict | None:
    """The live site key ``key`` is; None for anything else (malformed, unknown, revoked)."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        return None
    found = store.fetchone(f"SELECT {', '.join(_COLUMNS)} FROM site_keys WHERE site_key = ? AND revoked_at IS NULL",
                           (key,))
    return None if found is None else _as_dict(found)


def live_origins(store: Store) -> set[str]:
    """Every origin some live site key is allowed from (a preflight request names no key)."""
    return {origin for (text,) in store.fetchall("SELECT origins FROM site_keys WHERE revoked_at IS NULL")
            for origin in text.split()}


def record_events(store: Store, site_id: int, session_id: str, customer_ref: str | None,
                  events: Sequence[dict], now: datetime | None = None) -> tuple[int, int]:
    """Write ``events`` (dicts of ``event_id``, ``kind``, ``sku``, ``order_id``, checked by the
    caller) of one session at ``now``; how many were new and how many had been received before."""
    now = now or datetime.now()
    with store.transaction():
        customer_id = None
        if customer_ref:
            row = store.fetchone("SELECT customer_id FROM customers WHERE external_id = ?", (customer_ref,))
            customer_id = None if row is None else int(row[0])
        written = 0
        for event in events:
            written += store.changed(
                "INSERT INTO site_events (event_id, customer_id, session_id, occurred_at, kind, sku, order_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
                (f"s{int(site_id)}:{event['event_id']}", customer_id, session_id, now, event["kind"],
                 event.get("sku"), event.get("order_id")))
        if customer_id is not None and written:
            store.execute("UPDATE site_events SET customer_id = ? WHERE session_id = ? AND customer_id IS NULL "
                          "AND event_id LIKE ?", (customer_id, session_id, f"s{int(site_id)}:%"))
    return written, len(events) - written
