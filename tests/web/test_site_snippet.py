"""The site snippet (docs/api.md, "The site snippet"): site keys made by the CLI, the script, and
POST /api/v1/site/events: origin-checked, rate-limited, each event written once; and the script
itself in Chromium on a page of another origin.

A server of its own per engine, over a store that holds one customer, c1 (the package's shared
shop must not change). Each test makes its own site key, so no two share events or a bucket.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest

from retainly import Workspace
from retainly.web.app import create_app
from retainly.web.routes_site import BURST, PER_SECOND
from tests.cli.running import captured
from tests.conftest import fresh_store_url
from tests.views.test_report_browser import CHROMIUM
from tests.web.conftest import serving, settings_file

SHOP = "https://shop.example"
EVENTS = "/api/v1/site/events"


@dataclass
class Server:
    base: str
    client: httpx.Client
    shop: object

    def site(self, *origins: str) -> tuple[int, str]:
        with self.shop.use() as ws:
            made = ws.sites.add(list(origins or (SHOP,)), "test")
        return made.site_id, made.site_key

    def rows(self, site_id: int) -> list[tuple]:
        """The site's stored events: (event id after the site's prefix, customer, session, kind, sku, order, time)."""
        with self.shop.use() as ws:
            found = ws.store.fetchall(
                "SELECT e.event_id, c.external_id, e.session_id, e.kind, e.sku, e.order_id, e.occurred_at "
                "FROM site_events e LEFT JOIN customers c ON c.customer_id = e.customer_id "
                "WHERE e.event_id LIKE ? ORDER BY e.event_id", (f"s{site_id}:%",))
        return [(row[0].split(":", 1)[1], *row[1:]) for row in found]

    def send(self, key: str, events: list[dict], origin: str | None = SHOP, session: str = "session-1",
             customer: str | None = None, client: httpx.Client | None = None) -> httpx.Response:
        body = {"site_key": key, "session_id": session, "events": events}
        if customer is not None:
            body["customer_id"] = customer
        headers = {"Content-Type": "text/plain;charset=UTF-8"}
        if origin is not None:
            headers["Origin"] = origin
        return (client or self.client).post(EVENTS, content=json.dumps(body), headers=headers)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def server(request, tmp_path_factory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp(f"site-{request.param}")
    with fresh_store_url(request.param, folder) as url:
        settings = settings_file(folder)
        customers = folder / "customers.csv"
        customers.write_text("customer_id,name\nc1,Ann\n", encoding="utf-8")
        with Workspace.open(url, settings=settings) as ws:
            assert ws.data.import_file("customers", customers).rows_accepted == 1
        app = create_app(url, settings_path=settings)
        with serving(app) as base, httpx.Client(base_url=base, timeout=60) as client:
            yield Server(base, client, app.state.shop)


def test_the_script_is_served(server):
    response = server.client.get("/snippet.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert '"/api/v1/site/events"' in response.text and "sendBeacon" in response.text
    assert len(response.content) < 8_000  # small: every page of the shop loads it


def test_events_land_once_with_the_servers_time(server):
    site_id, key = server.site(SHOP, "http://localhost:8080")
    events = [{"event_id": "view-0001", "kind": "product_view", "sku": "MUG-1"},
              {"event_id": "cart-0001", "kind": "add_to_cart", "sku": "MUG-1", "quantity": 2}]
    before = datetime.now().replace(microsecond=0)
    first = server.send(key, events)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 2, "already_received": 0}
    assert (first.headers["access-control-allow-origin"], first.headers["vary"]) == (SHOP, "Origin")
    again = server.send(key, events)  # a beacon sent twice
    assert again.json() == {"accepted": 0, "already_received": 2}
    rows = server.rows(site_id)
    assert [row[:6] for row in rows] == [("cart-0001", None, "session-1", "add_to_cart", "MUG-1", None),
                                         ("view-0001", None, "session-1", "product_view", "MUG-1", None)]
    assert all(before <= row[6] <= datetime.now() for row in rows)
    # Another allowed origin, spelled as a browser does (no default port): the same key is taken.
    other = server.send(key, [{"event_id": "visit-0002", "kind": "visit"}], origin="http://localhost:8080")
    assert other.json() == {"accepted": 1, "already_received": 0}


def test_a_known_customer_claims_the_sessions_earlier_events(server):
    site_id, key = server.site()
    visit = server.send(key, [{"event_id": "visit-0001", "kind": "visit"}], session="session-known")
    assert visit.json()["accepted"] == 1
    checkout = {"event_id": "checkout-01", "kind": "checkout", "order_id": "1042"}
    assert server.send(key, [checkout], session="session-known", customer="c1").json()["accepted"] == 1
    assert server.send(key, [{"event_id": "visit-0003", "kind": "visit"}], session="session-other",
                       customer="nobody").json()["accepted"] == 1  # unknown to the store: stays anonymous
    assert [row[:6] for row in server.rows(site_id)] == [
        ("checkout-01", "c1", "session-known", "checkout", None, "1042"),
        ("visit-0001", "c1", "session-known", "visit", None, None),
        ("visit-0003", None, "session-other", "visit", None, None)]


def test_origins_and_keys_refused(server):
    site_id, key = server.site()
    visit = [{"event_id": "visit-0001", "kind": "visit"}]
    other = server.send(key, visit, origin="https://evil.example")
    assert other.status_code == 403 and "access-control-allow-origin" not in other.headers
    assert other.json() == {"error": "the origin https://evil.example is not one the site key is taken from; add "
                                     "it with `retainly sites add --origin` (a new key) or use the key made for it",
                            "field": None}
    assert server.send(key, visit, origin=None).status_code == 403
    assert server.send(key, visit, origin="null").status_code == 403
    unknown = server.send("rs_" + "A" * 22, visit)
    assert unknown.status_code == 401 and unknown.json()["error"].startswith("the site key is not valid")
    assert server.send("rk_an-api-key", visit).status_code == 401
    with server.shop.use() as ws:
        ws.sites.revoke(site_id)
    assert server.send(key, visit).status_code == 401
    assert server.rows(site_id) == []


def test_preflight_only_for_allowed_origins(server):
    server.site("https://preflight.example")
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = server.client.options(EVENTS, headers={"Origin": "https://preflight.example", **asked})
    assert allowed.status_code == 204
    assert {name: allowed.headers[name] for name in ("access-control-allow-origin", "access-control-allow-methods",
                                                     "access-control-allow-headers")} == \
        {"access-control-allow-origin": "https://preflight.example", "access-control-allow-methods": "POST",
         "access-control-allow-headers": "Content-Type"}
    refused = server.client.options(EVENTS, headers={"Origin": "https://evil.example", **asked})
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers


@pytest.mark.parametrize(("events", "field", "message"), [
    ([{"event_id": "cart-0001", "kind": "add_to_cart"}], "events.0.sku",
     "`events.0.sku`: Value error, an event of kind add_to_cart needs the product's `sku`"),
    ([{"event_id": "x-0000001", "kind": "purchase"}], "events.0.kind",
     "`events.0.kind` 'purchase': Input should be 'visit', 'product_view', 'add_to_cart' or 'checkout'"),
    ([{"event_id": "short", "kind": "visit"}], "events.0.event_id",
     "`events.0.event_id` 'short': String should match pattern '^[A-Za-z0-9_-]{8,64}$'"),
    ([], "events", "`events`: List should have at least 1 item after validation, not 0"),
])
def test_invalid_events_are_refused_whole(server, events, field, message):
    site_id, key = server.site()
    response = server.send(key, [{"event_id": "visit-0001", "kind": "visit"}, *events] if events else events)
    assert response.status_code == 422
    assert response.json() == {"error": message.replace(".0.", ".1.") if events else message,
                               "field": field.replace(".0.", ".1.")}
    assert server.rows(site_id) == []


def test_bodies_that_are_no_batch(server):
    not_json = server.client.post(EVENTS, content=b"{not json", headers={"Origin": SHOP})
    assert not_json.status_code == 422 and not_json.json()["field"] == "body"
    too_big = server.client.post(EVENTS, content=b"x" * 20_000, headers={"Origin": SHOP})
    assert too_big.status_code == 413


def test_the_rate_limit_per_key_and_address(server):
    _site_id, key = server.site()
    visit = [{"event_id": "visit-0001", "kind": "visit"}]  # the same event each time: written once
    started, passed = time.monotonic(), 0
    while (response := server.send(key, visit)).status_code == 200:
        passed += 1
        assert passed <= 2 * BURST, "the bucket never emptied"
    elapsed = time.monotonic() - started
    assert response.status_code == 429, response.text
    # A bucket of BURST tokens, refilled at PER_SECOND while the requests ran.
    assert BURST <= passed <= BURST + elapsed * PER_SECOND + 1
    assert response.headers["retry-after"] == "1"  # a token is back within 1 / PER_SECOND = 0.5 s, rounded up
    assert response.json() == {"error": "too many events from this address for this site key; try again later",
                               "field": None}
    # Another address has a bucket of its own (127.0.0.2 is this machine too).
    with httpx.Client(base_url=server.base, transport=httpx.HTTPTransport(local_address="127.0.0.2")) as elsewhere:
        assert server.send(key, visit, client=elsewhere).status_code == 200
    time.sleep(1 / PER_SECOND + 0.1)
    assert server.send(key, visit).status_code == 200  # a token came back


def test_sites_on_the_command_line(store_url):
    Workspace.open(store_url).close()
    code, out, err = captured(["--db", store_url, "sites", "add", "--origin", "https://Shop.Example:443/",
                               "--origin", "http://localhost:8080", "--name", "main shop",
                               "--server-url", "https://retainly.shop.example/"])
    assert (code, err) == (0, ""), err
    lines = out.splitlines()
    assert lines[0] == "created site key 1 (main shop), taken from https://shop.example, http://localhost:8080:"
    key = lines[1]
    assert key.startswith("rs_") and len(key) == 25
    assert lines[2:5] == [
        "Paste this into every page of the shop, before </head>:",
        "<script>window.retainly=window.retainly||function(){(retainly.q=retainly.q||[]).push(arguments)};</script>",
        f'<script async src="https://retainly.shop.example/snippet.js" data-site-key="{key}"></script>']
    code, out, _ = captured(["--db", store_url, "sites", "list", "--json"])
    (listed,) = json.loads(out)
    assert (listed["site_id"], listed["name"], listed["site_key"], listed["origins"], listed["revoked_at"]) == \
        (1, "main shop", key, ["https://shop.example", "http://localhost:8080"], None)
    code, out, _ = captured(["--db", store_url, "sites", "revoke", "1"])
    assert code == 0 and out.startswith("revoked site key 1 (main shop) as of ")
    code, out, err = captured(["--db", store_url, "sites", "add", "--origin", "shop.example"])
    assert code == 1 and out == ""
    assert "`origin` 'shop.example' is not an origin: it needs http:// or https:// and a host name" in err


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        return None


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}: scripts/test installs Debian's chromium")
def test_the_snippet_in_chromium_on_another_origin(server, tmp_path, chromium):
    pages = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=tmp_path))
    threading.Thread(target=pages.serve_forever, daemon=True).start()
    shop_origin = f"http://127.0.0.1:{pages.server_address[1]}"  # another port: another origin than the API's
    try:
        site_id, key = server.site(shop_origin)
        with server.shop.use() as ws:
            snippet = ws.sites.snippet(key, server.base)
        (tmp_path / "product.html").write_text(
            f"<!doctype html><html><head><title>Mug</title><link rel=\"icon\" href=\"data:,\">{snippet}\n"
            "<script>retainly('identify', {customer_id: 'c1'}); retainly('view', {sku: 'MUG-1'});</script>"
            "</head><body><button onclick=\"retainly('cart', {sku: 'MUG-1', quantity: 2})\">Add</button></body></html>",
            encoding="utf-8")
        context = chromium.new_context()
        try:
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(f"{shop_origin}/product.html", wait_until="load")
            kinds = _wait_for(server, site_id, 2)
            page.click("button")
            kinds = _wait_for(server, site_id, 3)
            session = page.evaluate("JSON.parse(localStorage.getItem('retainly.session')).id")
        finally:
            context.close()
    finally:
        pages.shutdown()
        pages.server_close()
    assert errors == []
    assert kinds == [("c1", session, "visit", None), ("c1", session, "product_view", "MUG-1"),
                     ("c1", session, "add_to_cart", "MUG-1")]


def _wait_for(server: Server, site_id: int, count: int) -> list[tuple]:
    """The site's events in the order they came (customer, session, kind, sku), once ``count`` have landed."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = server.rows(site_id)
        if len(rows) >= count:
            order = {"visit": 0, "product_view": 1, "add_to_cart": 2}
            return sorted(((row[1], row[2], row[3], row[4]) for row in rows), key=lambda row: order[row[2]])
        time.sleep(0.05)
    raise AssertionError(f"{count} events did not land: {server.rows(site_id)}")


