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
from tests.conftest import DATA, ONLINE_RETAIL, fresh_store_url, needs_shared_data

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

TABLES = ("customers", "orders", "order_lines", "returns", "products", "imports", "import_rejects")


def snapshot(url: str) -> dict:
    with Workspace.open(url) as ws:
        counts = {t: ws.store.fetchone(f"SELECT COUNT(*) FROM {t}")[0] for t in TABLES}
        return {"counts": counts, "summary": ws.data.summary()}


def start_import(url: str, **streams) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "retainly", "--db", url, "import", "orders", str(ONLINE_RETAIL),
                             "--preset", "online-retail-ii"], start_new_session=True, **streams)


def engine(url: str) -> str:
    return "duckdb" if url.startswith("duckdb") else "postgres"


@pytest.fixture
def duration(store_url, tmp_path) -> float:
    """Seconds one complete import takes into a scratch store on the test's engine, measured just before
    the test's kills."""
    (tmp_path / "scratch").mkdir()
    with fresh_store_url(engine(store_url), tmp_path / "scratch") as url:
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "retainly", "--db", url, "import", "orders", str(ONLINE_RETAIL),
                        "--preset", "online-retail-ii"], check=True, capture_output=True)
        return time.monotonic() - started


# The machine's load changes while a test runs (the suite runs in two worker processes, beside whatever
# else the machine runs), so an import may run faster than the one `duration` timed, and a kill at a
# fraction of that time could come after it ended. A pace-setter guards against that: the same import
# into a scratch store of the same engine, started PACE_LEAD of `duration` before the one to kill and
# running beside it under the same load; the import is killed when the pace-setter ends, if that comes first.
PACE_LEAD = 0.2


@needs_shared_data(ONLINE_RETAIL)
def test_killed_import_leaves_store_unchanged(store_url, duration, tmp_path):
    with Workspace.open(store_url) as ws:
        ws.data.import_file("orders", DATA / "online_retail_ii_tiny.csv", preset="online-retail-ii")
    before = snapshot(store_url)
    # One complete import into a scratch store was timed (the `duration` fixture): kill at fractions of that time.
    # Reading takes the first quarter of a run and the loading transaction most of the rest.
    for fraction in (0.15, 0.45, 0.75):
        folder = tmp_path / f"pace-{fraction}"
        folder.mkdir()
        with fresh_store_url(engine(store_url), folder) as pace_url:
            pace = start_import(pace_url, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(duration * PACE_LEAD)
            process = start_import(store_url, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            kill_at = time.monotonic() + duration * fraction
            while process.poll() is None and pace.poll() is None and time.monotonic() < kill_at:
                time.sleep(0.01)
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            if pace.poll() is None:
                os.killpg(pace.pid, signal.SIGKILL)
            pace.wait()
        assert process.returncode == -signal.SIGKILL, f"import finished before the kill at {fraction:.0%}"
        assert snapshot(store_url) == before, f"store changed by an import killed at {fraction:.0%} of its run"
