"""`sc://host:port`: retainly's analyses on a Spark Connect server give what the store gives.

The server is a real Spark Connect server on localhost (``tests/spark/connect_server.py``); the
client is a retainly command in a process of its own, as a shop would run it against a cluster.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import generated_copy
from tests.spark.conftest import assert_same

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "tests.spark.connect_server", str(port)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 180
        line = process.stdout.readline()
        assert line.strip() == "ready" and time.monotonic() < deadline, "the Spark Connect server did not start"
        yield f"sc://localhost:{port}"
    finally:
        process.kill()
        process.wait()


def retainly(db: str, *argv: str, analytics: str | None = None, folder: Path) -> dict | list:
    env = {key: value for key, value in os.environ.items() if key != "RETAINLY_ANALYTICS_URL"}
    if analytics:
        env["RETAINLY_ANALYTICS_URL"] = analytics
    done = subprocess.run([sys.executable, "-m", "retainly", "--db", db, *argv, "--json"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_kpis_and_cohorts_on_a_connect_server(server, store_templates, tmp_path):
    with generated_copy(store_templates, "duckdb", 600, 23, tmp_path) as (url, _):
        for argv in (("kpis", "--by", "quarter"), ("cohorts", "--metric", "revenue")):
            expected = retainly(url, *argv, folder=tmp_path)
            assert_same(retainly(url, *argv, analytics=server, folder=tmp_path), expected, " ".join(argv))
        # What the server read: the client published it, the server found it by absolute path.
        assert (tmp_path / "retainly-warehouse" / "customer_months" / "_retainly_published.json").exists()
