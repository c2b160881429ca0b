"""A server of its own for the tests of managers' tasks in the web app and the API: the KPI shop
(tests/features/kpi_shop.py) on each engine, with three more customers who have a phone and no
orders, two managers, an analyst, a key per role, and the task service's clock held where a test
puts it (``Desk.at``), so every due time and figure can be worked out by hand.

    F  Fay  +386 40 111 222      G  Gus  +386 40 333 444      H  Hal  (no phone)      Z  Zoe (to be erased)
    m1@shop.example "Mia" and m2@shop.example "Max" (managers), lead@shop.example (analyst)

Its tests change the shop (tasks, calls, an erasure), so the package's shared server stays out of it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from retainly import Workspace
from retainly.web.app import create_app
from tests.conftest import fresh_store_url
from tests.features.kpi_shop import load_kpi_shop
from tests.web.conftest import ROLES, serving, settings_file
from tests.web.test_login import PASSWORD, Visitor

NOW = datetime(2024, 3, 21, 9, 30)  # the morning after the KPI shop's last order (2024-03-20 12:00)
M1, M2, LEAD = "m1@shop.example", "m2@shop.example", "lead@shop.example"
EXTRA_CUSTOMERS = "customer_id,name,phone\nF,Fay,+386 40 111 222\nG,Gus,+386 40 333 444\nH,Hal,\nZ,Zoe,\n"


@dataclass
class Desk:
    app: FastAPI
    client: httpx.Client
    tokens: dict[str, str]
    clock: list[datetime]

    @property
    def base(self) -> str:
        return str(self.client.base_url).rstrip("/")

    def at(self, moment: datetime) -> None:
        """Hold the task service's clock at ``moment`` (the server reads it on each call)."""
        self.clock[0] = moment

    @contextlib.contextmanager
    def ws(self) -> Iterator[Workspace]:
        with self.app.state.shop.use() as ws:  # the server's own workspace: DuckDB lets one process write
            yield ws

    def api(self, method: str, path: str, role: str = "analyst", **kwargs) -> httpx.Response:
        return self.client.request(method, f"/api/v1{path}", headers={"X-API-Key": self.tokens[role]}, **kwargs)

    @contextlib.contextmanager
    def visitor(self, email: str) -> Iterator[Visitor]:
        """A browser of its own (httpx, its own cookies), logged in as ``email``."""
        found = Visitor(SimpleNamespace(client=self.client))
        try:
            assert found.log_in(email).status_code == 303
            yield found
        finally:
            found.close()


@pytest.fixture(scope="module", params=["duckdb", "postgres"], name="desk")
def desk_fixture(request, tmp_path_factory) -> Iterator[Desk]:
    """The server, once per test module and engine (a module imports this to use ``desk``)."""
    folder = tmp_path_factory.mktemp(f"tasks-{request.param}")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RETAINLY_OUTBOX_DIR", str(folder / "outbox"))
        with fresh_store_url(request.param, folder) as url:
            settings = settings_file(folder)
            with Workspace.open(url, settings=settings) as ws:
                load_kpi_shop(ws)
                (folder / "more.csv").write_text(EXTRA_CUSTOMERS, encoding="utf-8")
                assert ws.data.import_file("customers", folder / "more.csv").rows_rejected == 0
                ws.users.add(M1, "manager", PASSWORD, "Mia")
                ws.users.add(M2, "manager", PASSWORD, "Max")
                ws.users.add(LEAD, "analyst", PASSWORD, "Lea")
                tokens = {role: ws.keys.create(role)[1] for role in ROLES}
            app = create_app(url, settings_path=settings)
            clock = [NOW]
            with app.state.shop.use() as ws:
                ws.tasks.clock = lambda: clock[0]
            with serving(app) as base, httpx.Client(base_url=base, timeout=60) as client:
                yield Desk(app, client, tokens, clock)


class Twins(HTMLParser):
    """The figures a page marks, each with the JSON twin of the element around it:
    [(twin, field, value as JSON text)] (a page may name several twins, one per table)."""

    VOID = {"input", "br", "img", "meta", "link", "hr", "col", "source", "wbr", "area", "base", "embed"}

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.open: list[tuple[int, str]] = []  # (depth, twin) of the elements naming one, innermost last
        self.marked: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag not in self.VOID:
            self.depth += 1
            if "data-twin" in found:
                self.open.append((self.depth, found["data-twin"]))
        if "data-field" in found:
            assert self.open, f"{found['data-field']} is under no data-twin"
            self.marked.append((self.open[-1][1], found["data-field"], found["data-value"]))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if self.open and self.open[-1][0] == self.depth:
            self.open.pop()
        self.depth -= 1


def at(data, path: str):
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def check_twins(desk: Desk, html: str) -> dict[str, dict]:
    """Every figure the page marks equals its twin's (asked with an analyst's key); the twins' answers."""
    parser = Twins()
    parser.feed(html)
    answers: dict[str, dict] = {}
    for twin, field, value in parser.marked:
        if twin not in answers:
            answer = desk.api("GET", twin.removeprefix("/api/v1"))
            assert answer.status_code == 200, (twin, answer.text)
            answers[twin] = answer.json()
        assert json.loads(value) == at(answers[twin], field), (twin, field)
    return answers


def marked(html: str) -> list[tuple[str, str, object]]:
    parser = Twins()
    parser.feed(html)
    return [(twin, field, json.loads(value)) for twin, field, value in parser.marked]
