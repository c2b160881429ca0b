"""A real server for the API tests: uvicorn in a thread on a free localhost port, over the
hand-checked KPI shop (tests/features/kpi_shop.py) on each engine, and a real httpx client.

The shop, as of its last order (2024-03-20 12:00), customer by customer (purchase orders):

    A  Jan 5 100, Jan 20 50, Mar 10 150; returned 30 on Mar 12     email consent
    B  Jan 10 200                                                   an email, no consent
    C  Feb 5 80, Feb 25 120
    D  Feb 15 60, Mar 20 90 (its Mar 1 order of 500 is cancelled)
    E  Mar 5 40

Before the server starts, one key per role is made (and one more, revoked), and the playbook
win-back-60 is enabled and run once: B, silent for 70 days, is the only customer 60 to 179
days silent, so B alone enters it; B has no email consent, so B's email row is suppressed.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from retainly import Workspace
from retainly.playbooks.enrol import TREATMENT, arm
from retainly.web.app import create_app
from tests.conftest import fresh_store_url
from tests.features.kpi_shop import load_kpi_shop

ROLES = ("admin", "analyst", "manager", "ingest")


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on a free localhost port until the block ends; its base URL."""
    sock = socket.socket()
    # Connections accepted on it inherit this; without it each answer waits ~40 ms for a delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))  # bound here and handed over: no other process can take the port meanwhile
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def settings_file(folder: Path) -> Path:
    """An explicit, empty settings file: no retainly.toml of the working folder is read."""
    path = folder / "retainly.toml"
    path.write_text("", encoding="utf-8")
    return path


@dataclass
class Api:
    """The running server: its app, a client, a token per role and a revoked one."""

    app: FastAPI
    client: httpx.Client
    tokens: dict[str, str]
    revoked: str

    def get(self, path: str, role: str = "analyst", **kwargs) -> httpx.Response:
        return self.client.get(f"/api/v1{path}", headers=self.key(role), **kwargs)

    def key(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def prepare_shop(url: str, settings: Path) -> tuple[dict[str, str], str]:
    """Load the KPI shop, make the keys, run win-back-60 once; the tokens per role and a revoked one."""
    with Workspace.open(url, settings=settings) as ws:
        load_kpi_shop(ws)
        tokens = {role: ws.keys.create(role, f"{role} key")[1] for role in ROLES}
        revoked_id, revoked = ws.keys.create("admin", "revoked before the server started")
        ws.keys.revoke(revoked_id)
        ws.playbooks.enable(["win-back-60"])
        b = int(ws.store.fetchone("SELECT customer_id FROM customers WHERE external_id = 'B'")[0])
        assert arm("win-back-60", b, 0.1) == TREATMENT  # B is not in the holdout: an outbox row is made
        ws.playbooks.run()
    return tokens, revoked


@pytest.fixture(scope="package", params=["duckdb", "postgres"])
def api(request, tmp_path_factory) -> Iterator[Api]:
    """The KPI shop served on each engine, for every test of the package (they change it only in
    ways the others do not read: their own keys, audiences and playbooks)."""
    folder = tmp_path_factory.mktemp(f"api-{request.param}")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RETAINLY_OUTBOX_DIR", str(folder / "outbox"))
        with fresh_store_url(request.param, folder) as url:
            settings = settings_file(folder)
            tokens, revoked = prepare_shop(url, settings)
            app = create_app(url, settings_path=settings)
            with serving(app) as base, httpx.Client(base_url=base, timeout=60) as client:
                yield Api(app, client, tokens, revoked)


@pytest.fixture(scope="package")
def chromium():
    """One Chromium (Playwright on the system's browser, tests/web/test_pages_browser.py's) for the
    package's browser tests. Each test opens a browser context of its own and closes it: its own
    cookies, storage and cache, as a newly launched browser would have; only the start-up is shared."""
    from tests.web.test_pages_browser import CHROMIUM, CHROMIUM_ARGS

    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright comes with the test extra")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def watched_page(chromium, **options) -> Iterator[tuple]:
    """A page in a browser context of its own (1280 x 900 unless ``options`` say otherwise; closed
    afterwards) with two lists that fill as it goes: the URLs it requested, and its errors (uncaught
    exceptions and console errors, a refused script or style under the page's policy included)."""
    context = chromium.new_context(**({"viewport": {"width": 1280, "height": 900}} | options))
    try:
        requests, errors = [], []
        context.on("request", lambda request: requests.append(request.url))
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        yield page, requests, errors
    finally:
        context.close()


def log_in_on_the_page(page, base: str, email: str, password: str) -> None:
    """Log in through the login form, as a person would, and land on the Overview."""
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/overview")


@contextlib.contextmanager
def analyst_session(app: FastAPI, client: httpx.Client) -> Iterator[tuple[httpx.Client, str]]:
    """A newly added analyst's logged-in browser (its own cookies) and an analyst's API key for the twins."""
    from tests.web.test_login import PASSWORD, Visitor

    email = f"analyst-{secrets.token_hex(4)}@shop.example"
    with app.state.shop.use() as ws:
        ws.users.add(email, "analyst", PASSWORD)
        _, token = ws.keys.create("analyst")
    visitor = Visitor(SimpleNamespace(client=client))
    try:
        assert visitor.log_in(email).status_code == 303
        yield visitor.client, token
    finally:
        visitor.close()
