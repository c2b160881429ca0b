"""The Imports pages on a running server (real uvicorn, real httpx, both engines; Chromium once):
an admin uploads a file through the form, follows its job to the end and downloads its rejects;
the CSRF token and the roles are enforced; bad input gets a page saying what to do.

A server of its own per engine over an empty store (the package's shared shop must not change),
with an admin and an analyst user and an API key per role. The files, worked out by hand:

    one_bad.csv    3 orders; line 3's unit_price is 'seven' -> 3 read, 2 accepted (W1, W3), 1 rejected:
                   the rejects CSV has one row: one_bad.csv, no sheet, line 3, unit_price, 'seven',
                   "not a number" (the reason `retainly import` gives it)
    browser.csv    2 orders; line 2's placed_at is 'yesterday' -> 2 read, 1 accepted, 1 rejected
    broken.csv     no placed_at column, sent with preset retainly -> the job fails (as in
                   tests/web/test_imports_api.py), and the page says why

Each job page's and the ledger page's figures are also checked against their JSON twins
(``data-field``/``data-value`` marks, tests/web/test_pages_browser.py's ``check_against_twins``),
asked with an admin's key.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from retainly import Workspace
from retainly.web.app import create_app
from tests.conftest import fresh_store_url
from tests.web.conftest import ROLES, serving, settings_file, watched_page
from tests.web.test_login import PASSWORD, Visitor
from tests.web.test_pages_browser import CHROMIUM, check_against_twins

ONE_BAD = """order_id,customer_id,placed_at,sku,quantity,unit_price
W1,w1,2024-04-01 10:00:00,SKU-1,2,7.50
W2,w2,2024-04-02 11:00:00,SKU-2,1,seven
W3,w1,2024-04-03 12:00:00,SKU-1,1,7.50
"""
BROWSER = """order_id,customer_id,placed_at,sku,quantity,unit_price
Z1,z1,yesterday,SKU-1,1,3.00
Z2,z2,2024-05-02 11:00:00,SKU-2,2,4.00
"""
BROKEN = """order_id,customer_id,sku,quantity,unit_price
X1,c9,SKU-1,1,10.00
"""
_JOB_URL = re.compile(r"^/imports/jobs/([0-9a-f]{32})$")
_STATE = re.compile(r'<dl class="job" data-state="(\w+)">')


@dataclass
class Server:
    """The running server: what Visitor and check_against_twins need (``client``, ``get``)."""

    app: FastAPI
    client: httpx.Client
    tokens: dict[str, str]

    def key(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, path: str, role: str = "admin", **kwargs) -> httpx.Response:
        """The API, with an admin's key by default: the job twin is for admins only."""
        return self.client.get(f"/api/v1{path}", headers=self.key(role), **kwargs)

    def imports(self) -> int:
        return self.get("/imports").json()["total"]


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def server(request, tmp_path_factory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp(f"import-pages-{request.param}")
    with fresh_store_url(request.param, folder) as url:
        settings = settings_file(folder)
        with Workspace.open(url, settings=settings) as ws:
            tokens = {role: ws.keys.create(role)[1] for role in ROLES}
            for role in ("admin", "analyst", "manager"):
                ws.users.add(f"{role}@example.com", role, PASSWORD, f"{role} user")
        app = create_app(url, settings_path=settings)
        with serving(app) as base, httpx.Client(base_url=base, timeout=60) as client:
            yield Server(app, client, tokens)


def logged_in(server: Server, role: str) -> Visitor:
    visitor = Visitor(server)
    assert visitor.log_in(f"{role}@example.com").status_code == 303
    return visitor


@pytest.fixture
def admin(server) -> Iterator[Visitor]:
    visitor = logged_in(server, "admin")
    yield visitor
    visitor.close()


@pytest.fixture
def analyst(server) -> Iterator[Visitor]:
    visitor = logged_in(server, "analyst")
    yield visitor
    visitor.close()


def send_form(visitor: Visitor, name: str, text: str, kind: str = "orders", preset: str = "",
              token: str | None = "from the page") -> httpx.Response:
    """The upload form as a browser sends it (multipart), with the page's CSRF token unless told."""
    data = {"kind": kind, "preset": preset}
    if token == "from the page":
        token = visitor.form_token("/imports")
    if token is not None:
        data["csrf_token"] = token
    return visitor.client.post("/imports", data=data, files={"file": (name, text.encode("utf-8"), "text/csv")})


def follow(visitor: Visitor, answer: httpx.Response) -> tuple[str, str]:
    """Reload the job page the upload redirected to until the job has finished: its id and the last page."""
    assert answer.status_code == 303, answer.text
    job_id = _JOB_URL.match(answer.headers["location"]).group(1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page = visitor.client.get(answer.headers["location"])
        assert page.status_code == 200, page.text
        if _STATE.search(page.text).group(1) in ("completed", "failed"):
            return job_id, page.text
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_upload_a_file_follow_its_job_and_download_its_rejects(server, admin):
    form = admin.client.get("/imports")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    assert all(f'<option value="{kind}">' in form.text for kind in ("orders", "customers", "returns", "products"))
    assert '<a href="/imports" aria-current="page">Imports</a>' in form.text
    before = server.imports()

    job_id, page = follow(admin, send_form(admin, "one_bad.csv", ONE_BAD))
    twin = server.get(f"/imports/jobs/{job_id}").json()  # the JSON twin, with an admin's key
    assert (twin["state"], twin["rows_read"], twin["rows_accepted"], twin["rows_rejected"]) == ("completed", 3, 2, 1)
    assert check_against_twins(server, page) == 5  # state, rows read, import id, accepted, rejected
    assert ">completed<" in page and 'src="/static/imports.js"' not in page  # finished: no more reloading
    import_id = twin["import_id"]
    link = f"/imports/{import_id}/rejects.csv"
    assert f'<a class="rejects" href="{link}">Download the 1 rejected row as CSV</a>' in page

    rejects = admin.client.get(link)
    assert rejects.status_code == 200 and rejects.headers["content-type"].startswith("text/csv")
    assert rejects.headers["content-disposition"] == f'attachment; filename="import-{import_id}-rejects.csv"'
    assert rejects.headers["cache-control"] == "no-store"
    rows = list(csv.reader(io.StringIO(rejects.text)))
    assert rows[0] == ["file", "sheet", "line", "column", "value", "reason"]
    assert rows[1:] == [["one_bad.csv", "", "3", "unit_price", "seven", "not a number"]]
    # The page's download is the API's, byte for byte.
    assert rejects.text == server.get(f"/imports/{import_id}/rejects.csv", role="analyst").text

    ledger = admin.client.get("/imports")
    assert server.imports() == before + 1
    assert check_against_twins(server, ledger.text) == 1 + 9 * server.imports()  # the total, 9 columns a row
    assert f'href="{link}"' in ledger.text


def test_a_failed_import_says_why(server, admin):
    before = server.imports()
    job_id, page = follow(admin, send_form(admin, "broken.csv", BROKEN, preset="retainly"))
    twin = server.get(f"/imports/jobs/{job_id}").json()
    assert twin["state"] == "failed" and check_against_twins(server, page) == 3  # state, rows read, the error
    assert ('broken.csv: missing required column &#34;placed_at&#34; for preset retainly' in page
            and "Nothing was written to the store." in page)
    assert server.imports() == before


def test_the_form_needs_its_csrf_token(server, admin):
    before, jobs = server.imports(), len(server.app.state.import_jobs._jobs)
    for token in (None, "", "x" * 43):
        answer = send_form(admin, "one_bad.csv", ONE_BAD, token=token)
        assert answer.status_code == 403 and "security token is missing or out of date" in answer.text
    assert (server.imports(), len(server.app.state.import_jobs._jobs)) == (before, jobs)  # no job was queued


def test_who_may_see_and_upload(server, analyst):
    page = analyst.client.get("/imports")  # analysts read the ledger and download rejects, as in the API
    assert page.status_code == 200 and 'name="file"' not in page.text and ">Imports</a>" in page.text
    answer = analyst.client.post("/imports", data={"kind": "orders", "csrf_token": analyst.form_token("/imports")},
                                 files={"file": ("one_bad.csv", ONE_BAD.encode(), "text/csv")})
    assert answer.status_code == 403 and "this page is not for the role analyst; it needs admin" in answer.text
    assert analyst.client.get("/imports/jobs/" + "0" * 32).status_code == 403
    manager = logged_in(server, "manager")
    try:
        assert manager.client.get("/imports").status_code == 403
        assert ">Imports</a>" not in manager.client.get("/customers").text
    finally:
        manager.close()
    with httpx.Client(base_url=server.client.base_url) as anonymous:
        assert anonymous.get("/imports").headers["location"] == "/login?next=/imports"
        assert anonymous.post("/imports", data={"kind": "orders"}).status_code == 303


_FILE = {"file": ("one_bad.csv", ONE_BAD.encode(), "text/csv")}


@pytest.mark.parametrize("path, kind, files, status, message", [
    ("/imports?page=0", None, None, 422, "page &#39;0&#39; is not a page number"),
    ("/imports/jobs/nope", None, None, 404, "no import job &#39;nope&#39; on this server"),
    ("/imports/999999/rejects.csv", None, None, 404, "no import with id 999999"),
    ("/imports/abc/rejects.csv", None, None, 422, "&#39;abc&#39; is not an import&#39;s id"),
    ("/imports", "invoices", _FILE, 422, "unknown import kind &#39;invoices&#39;; choose one of: orders"),
    ("/imports", "orders", None, 422, "the form lacks: file"),
    ("/imports", "orders", {"file": ("", b"", "application/octet-stream")}, 422, "no file was chosen"),  # as a browser
])
def test_bad_input_gets_a_page_saying_what_to_do(server, admin, path, kind, files, status, message):
    before = server.imports()
    if kind is None:
        answer = admin.client.get(path)
    else:
        answer = admin.client.post(path, data={"kind": kind, "csrf_token": admin.form_token("/imports")}, files=files)
    assert answer.status_code == status and answer.headers["content-type"].startswith("text/html"), answer.text
    assert message in answer.text and "Traceback" not in answer.text
    assert server.imports() == before


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}: scripts/test installs Debian's chromium")
def test_upload_in_chromium_see_it_complete_and_download_the_rejects(server, tmp_path, monkeypatch, chromium):
    """In the browser: log in, upload, watch the job page reload itself (static/imports.js) from
    queued to completed, download the rejects. The job is held queued until the page has shown
    it so (the worker waits on a gate before running it), so the reloading is seen for sure."""
    jobs = server.app.state.import_jobs
    gate, run = threading.Event(), jobs._run
    monkeypatch.setattr(jobs, "_run", lambda job_id: (gate.wait(30), run(job_id)))
    file = tmp_path / "browser.csv"
    file.write_text(BROWSER, encoding="utf-8")
    base = str(server.client.base_url).rstrip("/")
    with watched_page(chromium, accept_downloads=True) as (page, requests, errors):
        page.goto(f"{base}/imports")
        assert page.url == f"{base}/login?next=/imports"
        page.fill("input[name=email]", "admin@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/imports")
        page.screenshot(path=str(tmp_path / "imports.png"), full_page=True)
        page.select_option("select[name=kind]", "orders")
        page.set_input_files("input[name=file]", str(file))
        page.click("form.upload button[type=submit]")
        page.wait_for_url(re.compile(r".*/imports/jobs/[0-9a-f]{32}$"))
        assert page.locator("dd.state").inner_text() == "queued"
        gate.set()
        page.wait_for_selector("dl.job[data-state=completed]", timeout=30_000)  # reloaded by imports.js
        assert page.locator("dd.state").inner_text() == "completed"
        page.screenshot(path=str(tmp_path / "job.png"), full_page=True)
        twin = server.get("/imports/jobs/" + page.url.rsplit("/", 1)[1]).json()
        with page.expect_download() as download:
            page.click("a.rejects")
        saved = tmp_path / "rejects.csv"
        download.value.save_as(saved)
        suggested = download.value.suggested_filename

    assert errors == []
    assert all(url.startswith(base + "/") for url in requests), "the pages must load nothing from elsewhere"
    assert f"{base}/static/imports.js" in requests
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert (twin["state"], twin["rows_read"], twin["rows_accepted"], twin["rows_rejected"]) == ("completed", 2, 1, 1)
    assert suggested == f"import-{twin['import_id']}-rejects.csv"
    assert len(rows) == 2 and rows[1][:5] == ["browser.csv", "", "2", "placed_at", "yesterday"]
