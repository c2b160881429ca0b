"""An import killed at any moment leaves the store exactly as it was.

A real `retainly import` subprocess loads the full Online Retail II file into a store that
already holds data, and is killed with SIGKILL at several moments (while reading, while
checking, and during the loading transaction). After each kill the store must hold exactly
what it held before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from retainly import Workspace
from tests.conftest import DATA, ONLINE_RETAIL, needs_shared_data

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

TABLES = ("customers", "orders", "order_lines", "returns", "products", "imports", "import_rejects")


def snapshot(url: str) -> dict:
    with Workspace.open(url) as ws:
        counts = {t: ws.store.fetchone(f"SELECT COUNT(*) FROM {t}")[0] for t in TABLES}
        return {"counts": counts, "summary": ws.data.summary()}


def full_import_seconds(url: str) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "retainly", "--db", url, "import", "orders", str(ONLINE_RETAIL),
                    "--preset", "online-retail-ii"], check=True, capture_output=True)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def duration(tmp_path_factory) -> float:
    """Seconds one complete import takes into a scratch DuckDB store; measured once for both engines'
    runs (it was the same measurement, on the same kind of scratch store, for each)."""
    return full_import_seconds(f"duckdb:///{tmp_path_factory.mktemp('scratch')}/scratch.duckdb")


@needs_shared_data(ONLINE_RETAIL)
def test_killed_import_leaves_store_unchanged(store_url, duration):
    with Workspace.open(store_url) as ws:
        ws.data.import_file("orders", DATA / "online_retail_ii_tiny.csv", preset="online-retail-ii")
    before = snapshot(store_url)
    # One complete import into a scratch store was timed (the `duration` fixture): kill at fractions of that time.
    # Reading takes the first quarter of a run and the loading transaction most of the rest.
    for fraction in (0.15, 0.45, 0.75):
        process = subprocess.Popen(
            [sys.executable, "-m", "retainly", "--db", store_url, "import", "orders", str(ONLINE_RETAIL),
             "--preset", "online-retail-ii"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        time.sleep(duration * fraction)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL, f"import finished before the kill at {fraction:.0%}"
        assert snapshot(store_url) == before, f"store changed by an import killed at {fraction:.0%} of its run"
