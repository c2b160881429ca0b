"""Shared fixtures: a fresh store on every backend, and the real datasets.

`store_url` runs a test once on DuckDB (a file in tmp_path) and once on PostgreSQL (a fresh
database on the server that scripts/test starts). Run outside scripts/test, the PostgreSQL
half is skipped with the reason; under scripts/test a missing server fails the run.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SHARED = ROOT.parent / "shared" / "datasets"
ONLINE_RETAIL = SHARED / "online_retail_ii" / "online_retail_II.csv.gz"
CDNOW_MASTER = SHARED / "cdnow" / "cdnow_master.csv"
CDNOW_SAMPLE = SHARED / "cdnow" / "cdnow_sample.csv"

POSTGRES_URL = os.environ.get("RETAINLY_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("RETAINLY_REQUIRE_POSTGRES") == "1"


def needs_shared_data(path: Path):
    return pytest.mark.skipif(
        not path.exists(), reason=f"real-data test: {path} is absent (it ships beside the repo as ../shared)"
    )


@contextlib.contextmanager
def fresh_store_url(kind: str, folder: Path):
    """A new empty store on ``kind`` (duckdb or postgres), dropped afterwards; for fixtures wider
    than a test, and for the ``postgres_url`` fixture."""
    if kind == "duckdb":
        yield f"duckdb:///{folder}/store.duckdb"
        return
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("RETAINLY_TEST_POSTGRES_URL is not set although scripts/test should have started a server")
        pytest.skip("no PostgreSQL server: run ./scripts/test, which starts one")
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(tmp_path):
    """A fresh, empty PostgreSQL database; dropped after the test."""
    with fresh_store_url("postgres", tmp_path) as url:
        yield url


@pytest.fixture(params=["duckdb", "postgres"])
def store_url(request, tmp_path):
    """The same test on the embedded store and on PostgreSQL."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path}/store.duckdb"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def workspace(store_url):
    from retainly import Workspace

    ws = Workspace.open(store_url)
    yield ws
    ws.close()
