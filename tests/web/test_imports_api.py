"""Imports over the API (docs/api.md, "Imports"): an upload is imported in the background as
`retainly import` would, its job polled to the end; the ledger lists it; its rejects come as CSV.

A server of its own per engine, over an empty store (the package's shared shop must not
change). The files are written here; what each should do, worked out by hand:

    good.csv       3 lines, 3 orders of 2 customers (c1: O1 10.00, O3 3 x 10.00; c2: O2 2 x 5.00)
                   -> 3 read, 3 accepted, 0 rejected; the store then holds 2 customers, 3 orders
    some_bad.csv   5 lines: line 3's unit_price is 'ten', line 4's placed_at is 'not a date',
                   line 6's quantity is '=1+1' (a formula: its CSV cell gets a leading apostrophe)
                   -> 5 read, 2 accepted (lines 2 and 5), 3 rejected, each its own order
    broken.csv     no placed_at column, sent with preset retainly (without one, a header of ids, sku
                   and prices reads as a products file) -> the job fails naming the file and the
                   column, as the CLI does; the store is as it was
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from retainly import Workspace
from retainly.errors import RetainlyError
from retainly.services.import_jobs import ImportJobs
from retainly.web.app import create_app
from tests.cli.running import captured
from tests.conftest import fresh_store_url
from tests.web.conftest import ROLES, serving, settings_file

GOOD = """order_id,customer_id,placed_at,sku,quantity,unit_price
O1,c1,2024-01-05 12:00:00,SKU-1,1,10.00
O2,c2,2024-01-06 12:00:00,SKU-2,2,5.00
O3,c1,2024-02-01 09:30:00,SKU-1,3,10.00
"""
SOME_BAD = """order_id,customer_id,placed_at,sku,quantity,unit_price
B1,c3,2024-03-01 12:00:00,SKU-1,1,10.00
B2,c3,2024-03-02 12:00:00,SKU-1,1,ten
B3,c4,not a date,SKU-2,1,5.00
B4,c4,2024-03-04 12:00:00,SKU-2,2,5.00
B5,c4,2024-03-05 12:00:00,SKU-2,=1+1,5.00
"""
BROKEN = """order_id,customer_id,sku,quantity,unit_price
X1,c9,SKU-1,1,10.00
"""


@dataclass
class Server:
    client: httpx.Client
    tokens: dict[str, str]
    shop: object
    jobs: ImportJobs

    def key(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def upload(self, name: str, text: str, kind: str = "orders", role: str = "admin", **form) -> httpx.Response:
        return self.client.post("/api/v1/imports", headers=self.key(role), data={"kind": kind, **form},
                                files={"file": (name, text.encode("utf-8"), "text/csv")})

    def finished(self, job: dict) -> dict:
        """Poll the job until it has finished; its last state."""
        deadline = time.monotonic() + 60
        seen = []
        while time.monotonic() < deadline:
            response = self.client.get(f"/api/v1/imports/jobs/{job['job_id']}", headers=self.key("admin"))
            assert response.status_code == 200, response.text
            body = response.json()
            seen.append(body["state"])
            if body["state"] in ("completed", "failed"):
                assert set(seen) <= {"queued", "running", body["state"]}
                return body
            time.sleep(0.02)
        raise AssertionError(f"the job did not finish: {seen[-5:]}")


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def server(request, tmp_path_factory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp(f"imports-{request.param}")
    with fresh_store_url(request.param, folder) as url:
        settings = settings_file(folder)
        with Workspace.open(url, settings=settings) as ws:
            tokens = {role: ws.keys.create(role)[1] for role in ROLES}
        app = create_app(url, settings_path=settings)
        with serving(app) as base, httpx.Client(base_url=base, timeout=60) as client:
            yield Server(client, tokens, app.state.shop, app.state.import_jobs)


def store_facts(server: Server) -> tuple:
    with server.shop.use() as ws:
        summary = ws.data.summary()
        return summary.customers, summary.orders, len(ws.data.imports())


def cli_import(tmp_path: Path, name: str, text: str) -> dict:
    """What `retainly import orders FILE --json` says of the same file on a store of its own."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code, out, err = captured(["--db", f"duckdb:///{tmp_path}/cli.duckdb", "import", "orders", str(path), "--json"])
    assert code == 0, err
    (result,) = json.loads(out)
    return result


def test_a_good_file_imports_as_the_cli_does(server, tmp_path):
    before = store_facts(server)
    response = server.upload("good.csv", GOOD)
    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["state"], job["kind"], job["file"], job["error"]) == ("queued", "orders", "good.csv", None)
    assert response.headers["location"] == f"/api/v1/imports/jobs/{job['job_id']}"
    done = server.finished(job)
    assert done["state"] == "completed", done
    assert (done["rows_read"], done["rows_accepted"], done["rows_rejected"]) == (3, 3, 0)
    cli = cli_import(tmp_path, "good.csv", GOOD)
    assert (cli["rows_read"], cli["rows_accepted"], cli["rows_rejected"]) == (3, 3, 0)
    assert store_facts(server) == (before[0] + 2, before[1] + 3, before[2] + 1)

    ledger = server.client.get("/api/v1/imports", headers=server.key("analyst"), params={"limit": 1000}).json()
    entry = next(item for item in ledger["items"] if item["import_id"] == done["import_id"])
    assert (entry["source"], entry["kind"], entry["rows_read"], entry["rows_accepted"], entry["status"]) == \
        ("good.csv", "orders", 3, 3, "completed")

    again = server.finished(server.upload("good.csv", GOOD).json())  # the same file again: recognised, no change
    assert (again["state"], again["already_imported_as"], again["import_id"]) == ("completed", done["import_id"], None)
    assert store_facts(server) == (before[0] + 2, before[1] + 3, before[2] + 1)


def test_rejected_rows_come_back_as_csv(server, tmp_path):
    done = server.finished(server.upload("some_bad.csv", SOME_BAD).json())
    assert done["state"] == "completed", done
    assert (done["rows_read"], done["rows_accepted"], done["rows_rejected"]) == (5, 2, 3)
    cli = cli_import(tmp_path, "some_bad.csv", SOME_BAD)
    assert (cli["rows_read"], cli["rows_accepted"], cli["rows_rejected"]) == (5, 2, 3)
    assert done["reject_examples"][0].startswith("some_bad.csv:3: column unit_price: value 'ten': ")

    response = server.client.get(f"/api/v1/imports/{done['import_id']}/rejects.csv", headers=server.key("analyst"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == f'attachment; filename="import-{done["import_id"]}-rejects.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["file", "sheet", "line", "column", "value", "reason"]
    assert [row[:5] for row in rows[1:]] == [
        ["some_bad.csv", "", "3", "unit_price", "ten"],
        ["some_bad.csv", "", "4", "placed_at", "not a date"],
        ["some_bad.csv", "", "6", "quantity", "'=1+1"],
    ]
    assert all(row[5] for row in rows[1:])
    # The reasons are the CLI's, word for word (its rejects file has them in `rejected_reason`).
    with (tmp_path / "some_bad.rejects.csv").open(encoding="utf-8", newline="") as cli_rejects:
        assert [row[5] for row in rows[1:]] == [row["rejected_reason"] for row in csv.DictReader(cli_rejects)]

    clean = server.client.get("/api/v1/imports", headers=server.key("admin"), params={"limit": 1000}).json()["items"]
    first = min(item["import_id"] for item in clean if item["rows_rejected"] == 0)
    empty = server.client.get(f"/api/v1/imports/{first}/rejects.csv", headers=server.key("admin"))
    assert (empty.status_code, empty.text) == (200, "file,sheet,line,column,value,reason\n")


def test_a_running_import_is_seen_running(server, monkeypatch):
    """While an import runs it holds the workspace, yet its job answers: the admin's key, checked
    moments before by the upload, is trusted meanwhile (retainly.web.shop). The job is held at its
    first step, inside the workspace, until the test has seen it running."""
    jobs = server.jobs
    gate, update = threading.Event(), jobs._update

    def held_at_first_step(job_id, **changes):
        update(job_id, **changes)
        if changes.get("step") is not None:
            gate.wait(30)

    monkeypatch.setattr(jobs, "_update", held_at_first_step)
    job = server.upload("running.csv", GOOD.replace("O1", "R1").replace("O2", "R2").replace("O3", "R3")).json()
    try:
        deadline, body = time.monotonic() + 30, {}
        while body.get("step") is None and time.monotonic() < deadline:
            # Without the trust the request would wait for the import; the client's 5 s would then run out.
            response = server.client.get(f"/api/v1/imports/jobs/{job['job_id']}", headers=server.key("admin"),
                                         timeout=5)
            body = response.json()
            time.sleep(0.02)
        assert (body["state"], body["step"]) == ("running", "reading"), body
        assert server.shop._lock.locked()  # the import still holds the workspace
    finally:
        gate.set()
    assert server.finished(job)["state"] == "completed"


def test_a_broken_file_fails_and_changes_nothing(server):
    before = store_facts(server)
    done = server.finished(server.upload("broken.csv", BROKEN, preset="retainly").json())
    assert done["state"] == "failed"
    assert done["import_id"] is None and done["rows_accepted"] is None
    error = done["error"]
    assert error.keys() == {"error", "field"}
    assert error == {"error": 'broken.csv: missing required column "placed_at" for preset retainly (found: order_id, '
                              'customer_id, sku, quantity, unit_price); pick the right `preset` or map the columns '
                              'with `mapping`', "field": "preset"}  # named as sent, never by its temporary path
    assert store_facts(server) == before


def test_the_openapi_document_describes_the_upload(server):
    operation = server.client.get("/openapi.json").json()["paths"]["/api/v1/imports"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file", "kind"] and form["properties"]["file"]["format"] == "binary"


def test_requests_the_server_refuses(server):
    unknown_kind = server.upload("good.csv", GOOD, kind="invoices")
    assert unknown_kind.status_code == 422
    assert unknown_kind.json() == {"error": "unknown import kind 'invoices'; choose one of: orders, customers, "
                                            "products, returns, spend, interactions, events, promotions",
                                   "field": "kind"}
    no_file = server.client.post("/api/v1/imports", headers=server.key("admin"), data={"kind": "orders"})
    assert no_file.status_code == 422 and no_file.json() == {"error": "`file` is required", "field": "file"}
    not_a_file = server.client.post("/api/v1/imports", headers=server.key("admin"),
                                    files={"kind": (None, "orders"), "file": (None, "order_id,placed_at")})
    assert not_a_file.status_code == 422 and not_a_file.json()["field"] == "file"
    job = server.client.get("/api/v1/imports/jobs/nope", headers=server.key("admin"))
    assert job.status_code == 404 and job.json()["field"] == "job_id"
    rejects = server.client.get("/api/v1/imports/999999/rejects.csv", headers=server.key("admin"))
    assert rejects.status_code == 404
    assert rejects.json() == {"error": "no import with id 999999; `retainly imports` lists them", "field": "import_id"}


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("POST", "/api/v1/imports", {"admin"}),
    ("GET", "/api/v1/imports/jobs/nope", {"admin"}),
    ("GET", "/api/v1/imports", {"admin", "analyst"}),
    ("GET", "/api/v1/imports/1/rejects.csv", {"admin", "analyst"}),
])
def test_who_may_import(server, method, path, allowed):
    assert server.client.request(method, path).status_code == 401
    assert server.client.request(method, path, headers={"X-API-Key": "rk_" + "A" * 43}).status_code == 401
    for role in ROLES:
        status = server.client.request(method, path, headers=server.key(role)).status_code
        assert (status not in (401, 403)) if role in allowed else (status == 403), (role, status)


def test_a_job_waits_its_turn_for_the_workspace(tmp_path):
    """The core piece alone: a job stays queued while the workspace is in use (the server's lock),
    then runs; its upload folder is deleted when it is done; a closed registry takes no job."""
    gate = threading.Event()
    with Workspace.open(f"duckdb:///{tmp_path}/store.duckdb") as ws:
        @contextlib.contextmanager
        def use():
            assert gate.wait(30)
            yield ws

        jobs = ImportJobs(use)
        folder = tmp_path / "upload"
        folder.mkdir()
        (folder / "good.csv").write_text(GOOD, encoding="utf-8")
        job = jobs.submit("orders", folder, "good.csv")
        time.sleep(0.2)
        assert jobs.get(job.job_id).state == "queued"
        gate.set()
        deadline = time.monotonic() + 30
        while jobs.get(job.job_id).finished_at is None and time.monotonic() < deadline:
            time.sleep(0.02)
        done = jobs.get(job.job_id)
        assert (done.state, done.rows_read, done.rows_accepted, done.step) == ("completed", 3, 3, None)
        assert done.queued_at <= done.started_at <= done.finished_at
        assert not folder.exists()
        jobs.close()
        with pytest.raises(RetainlyError, match="the server is stopping"):
            jobs.submit("orders", tmp_path, "good.csv")
