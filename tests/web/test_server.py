"""The server itself: `retainly serve` in a process of its own, what it refuses to serve, an
empty store, and an unexpected error answered without a traceback."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from retainly import Workspace
from retainly.errors import SchemaVersionError
from retainly.store.schema import upgrade
from retainly.web.app import create_app
from tests.cli.running import captured
from tests.web.conftest import serving


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_retainly_serve(tmp_path):
    db = str(tmp_path / "shop.duckdb")
    with Workspace.open(db) as ws:
        _, token = ws.keys.create("analyst")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "retainly", "--db", db, "serve", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/summary", headers={"X-API-Key": token})
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, server.communicate()
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["customers"] == 0  # an empty store
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["info"]["title"] == "retainly"
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert out.startswith(f"serving the web app at http://127.0.0.1:{port}/ and the API at "
                          f"http://127.0.0.1:{port}/api/v1")


def test_serve_refuses_a_missing_store(tmp_path):
    code, out, err = captured(["--db", str(tmp_path / "absent.duckdb"), "serve"])
    assert (code, out) == (1, "")
    assert err.startswith("error: ") and err.count("\n") == 1 and "absent.duckdb" in err


def test_an_old_schema_is_refused_not_upgraded(tmp_path):
    url = f"duckdb:///{tmp_path}/old.duckdb"
    with Workspace.open_unchecked(url) as ws:
        upgrade(ws.store, target=12)  # the last schema without api_keys
    with pytest.raises(SchemaVersionError):
        create_app(url)


@pytest.fixture
def empty_server(tmp_path):
    url = f"duckdb:///{tmp_path}/empty.duckdb"
    with Workspace.open(url) as ws:
        _, token = ws.keys.create("admin")
    app = create_app(url)

    def broken() -> None:
        raise RuntimeError("secret detail that must stay in the server's log")

    app.add_api_route("/api/v1/broken", broken)
    with serving(app) as base, httpx.Client(base_url=base, headers={"X-API-Key": token}) as client:
        yield client


def test_an_empty_store(empty_server):
    assert empty_server.get("/api/v1/summary").json()["orders"] == 0
    response = empty_server.get("/api/v1/rfm/segments")
    assert response.status_code == 422
    assert response.json()["error"].startswith("the store has no purchase orders yet")


def test_an_unexpected_error_is_one_line_without_a_traceback(empty_server):
    response = empty_server.get("/api/v1/broken")
    assert response.status_code == 500
    assert response.json() == {"error": "unexpected RuntimeError in the server; its log has the details, please "
                                        "report it", "field": None}
    assert "secret" not in response.text and "Traceback" not in response.text


def test_the_interactive_docs_load_nothing_from_elsewhere(empty_server):
    """/docs names only this server's own files (Swagger UI from the package), and they are served."""
    client = empty_server
    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    sources = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text) + re.findall(r"url: *'([^']+)'", page.text)
    assert sources and all(source.startswith("/") and not source.startswith("//") for source in sources), sources
    for source in sources:
        assert client.get(source).status_code == 200, source
    assert "SwaggerUIBundle" in client.get("/docs-assets/swagger-ui-bundle.js").text
