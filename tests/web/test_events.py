"""POST /api/v1/events/{kind} on a real server over each engine, by status and body.

These tests write to the store, so they serve a store of their own (empty but for the keys),
not the shared KPI shop of conftest.py, whose figures the other API tests read. Rows are
counted through the server's own workspace (under its lock), so DuckDB's file is not opened twice.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from retainly import Workspace
from retainly.web.app import create_app
from tests.conftest import fresh_store_url
from tests.web.conftest import ROLES, serving, settings_file


@dataclass
class Events:
    app: FastAPI
    url: str
    settings: object
    client: httpx.Client
    tokens: dict[str, str]

    def post(self, kind: str, items, role: str = "ingest", client: httpx.Client | None = None) -> httpx.Response:
        return (client or self.client).post(f"/api/v1/events/{kind}", json={"items": items},
                                            headers={"X-API-Key": self.tokens[role]})

    def count(self, table: str) -> int:
        with self.app.state.shop.use() as ws:
            return int(ws.store.fetchone(f"SELECT COUNT(*) FROM {table}")[0])


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def events(request, tmp_path_factory) -> Iterator[Events]:
    folder = tmp_path_factory.mktemp(f"events-{request.param}")
    with fresh_store_url(request.param, folder) as url:
        settings = settings_file(folder)
        with Workspace.open(url, settings=settings) as ws:
            tokens = {role: ws.keys.create(role, f"{role} key")[1] for role in ROLES}
        app = create_app(url, settings_path=settings)
        with serving(app) as base, httpx.Client(base_url=base, timeout=60) as client:
            yield Events(app, url, settings, client, tokens)


def order(key: str, order_id: str, customer: str = "C1", **fields) -> dict:
    """An order of 2 x 6.95 + 1 x 10.00 = 23.90."""
    return {"idempotency_key": key, "order_id": order_id, "customer_id": customer, "placed_at": "2024-03-01T10:00:00",
            "lines": [{"sku": "A", "quantity": 2, "unit_price": 6.95}, {"sku": "B", "quantity": 1, "amount": 10}],
            **fields}


def test_keys_and_roles(events):
    body = {"items": []}
    assert events.client.post("/api/v1/events/orders", json=body).status_code == 401
    for role, status in (("analyst", 403), ("manager", 403), ("ingest", 200), ("admin", 200)):
        response = events.post("site-events", [], role=role)
        assert response.status_code == status, (role, response.text)
    assert events.post("site-events", [], role="analyst").json() == {
        "error": "a key with the role analyst may not use this route; it needs admin or ingest", "field": None}
    assert events.post("site-events", []).json() == {"kind": "site_events", "accepted": 0, "duplicates": 0,
                                                     "invalid": 0, "items": []}


def test_the_same_batch_twice_lands_once(events):
    orders, lines = events.count("orders"), events.count("order_lines")
    batch = [order("twice-1", "T1"), order("twice-2", "T2", customer="C2")]
    first = events.post("orders", batch)
    again = events.post("orders", batch)
    assert first.status_code == again.status_code == 200
    one, two = first.json(), again.json()
    assert (one["accepted"], one["duplicates"], two["accepted"], two["duplicates"]) == (2, 0, 0, 2)
    assert [(i["index"], i["idempotency_key"], i["status"], i["id"]) for i in two["items"]] == [
        (0, "twice-1", "duplicate", "T1"), (1, "twice-2", "duplicate", "T2")]
    for accepted, duplicate in zip(one["items"], two["items"]):
        assert (duplicate["import_id"], duplicate["received_at"]) == (accepted["import_id"], accepted["received_at"])
    assert (events.count("orders"), events.count("order_lines")) == (orders + 2, lines + 4)


def test_an_invalid_item_gets_422_with_its_path_and_the_valid_ones_land(events):
    orders = events.count("orders")
    items = [order("mixed-0", "M0"), order("mixed-1", "M1", lines=[{"sku": "A", "quantity": 1, "unit_price": "6,9,5"}]),
             order("mixed-2", "M2")]
    response = events.post("orders", items)
    assert response.status_code == 422
    body = response.json()
    assert [i["status"] for i in body["items"]] == ["accepted", "invalid", "accepted"]
    assert body["items"][1]["errors"] == [{"path": "items[1].lines[0].unit_price", "message": "not a number"}]
    assert (body["accepted"], body["invalid"]) == (2, 1)
    assert events.count("orders") == orders + 2


def test_clients_racing_the_same_keys_land_once(events):
    """Four clients send the same 20 orders at the same moment; each key lands once."""
    orders = events.count("orders")
    batch = [order(f"race-{n}", f"R{n}", customer=f"RC{n % 3}") for n in range(20)]
    answers: list[dict] = [{}] * 4
    start = threading.Barrier(4)

    def send(number: int) -> None:
        with httpx.Client(base_url=str(events.client.base_url), timeout=60) as client:
            start.wait()
            answers[number] = events.post("orders", batch, client=client).json()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for n in range(20):
        assert sorted(answer["items"][n]["status"] for answer in answers) == ["accepted"] + ["duplicate"] * 3
    assert events.count("orders") == orders + 20


def test_two_servers_racing_the_same_keys_land_once(events, tmp_path):
    """On PostgreSQL a second server process may serve the same store: here a second app, with its
    own connection, takes the same batch at the same moment as the first. On DuckDB no second
    server can race the first: `retainly serve` in another process is refused, the file busy."""
    if events.url.startswith("duckdb"):
        second = subprocess.run([sys.executable, "-m", "retainly", "--db", events.url, "serve", "--port", "1"],
                                capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert second.returncode == 1 and second.stdout == ""
        assert second.stderr.startswith("error: the store is busy with another retainly command"), second.stderr
        return
    orders = events.count("orders")
    batch = [order(f"two-{n}", f"S{n}") for n in range(30)]
    answers: list[dict] = [{}] * 2
    start = threading.Barrier(2)
    with serving(create_app(events.url, settings_path=events.settings)) as second:
        def send(number: int, base: str) -> None:
            with httpx.Client(base_url=base, timeout=60) as client:
                start.wait()
                answers[number] = events.post("orders", batch, client=client).json()

        threads = [threading.Thread(target=send, args=(0, str(events.client.base_url))),
                   threading.Thread(target=send, args=(1, second))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    for n in range(30):
        assert sorted(answer["items"][n]["status"] for answer in answers) == ["accepted", "duplicate"]
    assert events.count("orders") == orders + 30


def test_unknown_customers_are_created_by_orders_and_refused_for_consent(events):
    customers = events.count("customers")
    assert events.post("orders", [order("new-customer", "N1", customer="NEW")]).status_code == 200
    assert events.count("customers") == customers + 1
    response = events.post("consent", [
        {"idempotency_key": "consent-1", "customer_id": "NEW", "channel": "email", "granted": True},
        {"idempotency_key": "consent-2", "customer_id": "NOBODY", "channel": "email", "granted": True}])
    assert response.status_code == 422
    assert [i["status"] for i in response.json()["items"]] == ["accepted", "invalid"]
    assert response.json()["items"][1]["errors"] == [{"path": "items[1].customer_id", "message": (
        "no customer with this id; send the customer first (POST /api/v1/events/customers) or check the id")}]
    assert events.count("customers") == customers + 1
    with events.app.state.shop.use() as ws:
        assert ws.store.fetchone("SELECT email_consent FROM customers WHERE external_id = 'NEW'")[0] is True


@pytest.mark.parametrize(("body", "error"), [
    (None, {"error": "`body` is required", "field": "body"}),
    ({"items": 3}, {"error": "`items` 3: Input should be a valid list", "field": "items"}),
    ({"items": [{}] * 1001}, {"error": "1,001 items in one batch; send at most 1,000 a batch (split it)",
                              "field": "items"}),
], ids=["no body", "not a list", "too many"])
def test_a_body_that_is_not_a_batch_is_refused_whole(events, body, error):
    response = events.client.post("/api/v1/events/customers", json=body, headers={"X-API-Key": events.tokens["ingest"]})
    assert (response.status_code, response.json()) == (422, error)


def test_the_openapi_document_describes_each_kind(events):
    document = events.client.get("/openapi.json").json()
    paths = {path for path in document["paths"] if path.startswith("/api/v1/events/")}
    assert paths == {f"/api/v1/events/{kind}" for kind in ("orders", "returns", "interactions", "site-events",
                                                             "customers", "consent")}
    item = document["components"]["schemas"]["OrderBatch"]["properties"]["items"]
    assert item["maxItems"] == 1000
    assert {"idempotency_key", "order_id", "placed_at", "lines"} <= set(item["items"]["required"])
    line = item["items"]["properties"]["lines"]["items"]
    assert {"quantity", "unit_price", "amount", "discount"} <= set(line["properties"])
    consent = document["components"]["schemas"]["ConsentChangeBatch"]["properties"]["items"]["items"]
    assert set(consent["properties"]) == {"idempotency_key", "customer_id", "channel", "granted", "at"}
