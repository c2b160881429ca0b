"""Shared fixtures: a fresh store on every backend, and the real datasets.

`store_url` runs a test once on DuckDB (a file in tmp_path) and once on PostgreSQL (a fresh
database on the server that scripts/test starts). Run outside scripts/test, the PostgreSQL
half is skipped with the reason; under scripts/test a missing server fails the run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
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


# -- Stores built once per session and copied per test ----------------------------------------
# Some tests each need a store holding the same data and nothing else, which takes long to make: a
# full import of Online Retail II takes tens of seconds (about a minute on PostgreSQL). Such a store
# is built once per engine (the same calls a test would make, on a new empty store opened with the
# default settings), and each test gets a copy of its own: the DuckDB file copied, or a PostgreSQL
# database made with the built one as its template. A test may change its copy as it likes.


class StoreTemplates:
    """Stores built on first use, one per (engine, name); never opened again, only copied."""

    def __init__(self, folder_factory, stack: contextlib.ExitStack):
        self._folders = folder_factory
        self._stack = stack
        self._built: dict[tuple[str, str], tuple[str, object]] = {}

    def template(self, kind: str, name: str, build):
        """(url of the store ``name`` on ``kind``, what ``build(url)`` returned when it made it in a new,
        empty store)."""
        if (kind, name) not in self._built:
            folder = self._folders.mktemp(f"template-{kind}-{name}")
            url = self._stack.enter_context(fresh_store_url(kind, folder))
            made = build(url)
            self._built[kind, name] = (url, made)
        return self._built[kind, name]

    @contextlib.contextmanager
    def copy(self, kind: str, name: str, build, folder: Path, file_name: str = "store.duckdb"):
        """A new store holding exactly what the template holds: (its url, what ``build`` returned)."""
        url, made = self.template(kind, name, build)
        if kind == "duckdb":
            target = folder / file_name
            shutil.copy(url.removeprefix("duckdb:///"), target)  # its permissions too: owner only
            yield f"duckdb:///{target}", made
            return
        import psycopg

        template, copied = url.rsplit("/", 1)[1], f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            # A template may have no other session; the workspace that built it is closed by now.
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (template,))
            admin.execute(f'CREATE DATABASE "{copied}" TEMPLATE "{template}"')
        try:
            yield f"{POSTGRES_URL.rsplit('/', 1)[0]}/{copied}", made
        finally:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{copied}" WITH (FORCE)')


@pytest.fixture(scope="session")
def store_templates(tmp_path_factory):
    with contextlib.ExitStack() as stack:
        yield StoreTemplates(tmp_path_factory, stack)


def in_new_workspace(make):
    """A ``build`` for StoreTemplates: ``make(workspace)`` on the new store, opened with the default settings."""
    def build(url: str):
        from retainly import Workspace

        with Workspace.open(url) as ws:
            return make(ws)
    return build


import_online_retail = in_new_workspace(
    lambda ws: ws.data.import_file("orders", ONLINE_RETAIL, preset="online-retail-ii"))


@contextlib.contextmanager
def online_retail_copy(store_templates: StoreTemplates, kind: str, folder: Path):
    """(url of a store of its own holding Online Retail II as one import into a new store, that ImportResult)."""
    with store_templates.copy(kind, "online-retail-ii", import_online_retail, folder) as found:
        yield found


@pytest.fixture(params=["duckdb", "postgres"])
def online_retail(request, tmp_path, store_templates):
    """On each engine: (an open workspace on a store of its own holding Online Retail II, imported once
    into a new store, and the ImportResult of that import)."""
    from retainly import Workspace

    if not ONLINE_RETAIL.exists():
        pytest.skip(f"real-data test: {ONLINE_RETAIL} is absent (it ships beside the repo as ../shared)")
    with online_retail_copy(store_templates, request.param, tmp_path) as (url, result):
        ws = Workspace.open(url)
        try:
            yield ws, result
        finally:
            ws.close()


def generated_copy(store_templates: StoreTemplates, kind: str, customers: int, seed: int, folder: Path):
    """A context: (url of a store of its own holding ``ws.data.generate(customers, seed)`` made on a new
    store, the import id that call returned)."""
    return store_templates.copy(kind, f"generated-{customers}-{seed}",
                                in_new_workspace(lambda ws: ws.data.generate(customers, seed)), folder)


@contextlib.contextmanager
def workspace_on_copy(store_templates: StoreTemplates, kind: str, name: str, make, folder: Path):
    """An open workspace on a store of its own: a copy of a new store into which ``make(workspace)`` loaded
    the shop ``name`` once per session (with the default settings, as the ``workspace`` fixture opens it)."""
    from retainly import Workspace

    with store_templates.copy(kind, name, in_new_workspace(lambda ws: make(ws) and None), folder) as (url, _):
        ws = Workspace.open(url)
        try:
            yield ws
        finally:
            ws.close()


@contextlib.contextmanager
def kpi_shop_url(store_templates: StoreTemplates, kind: str, folder: Path):
    """The url of a fresh store holding the KPI shop alone (``load_kpi_shop`` on a new store, made once per
    session and copied)."""
    from tests.features.kpi_shop import load_kpi_shop

    build = in_new_workspace(lambda ws: load_kpi_shop(ws) and None)
    with store_templates.copy(kind, "kpi-shop", build, folder) as (url, _):
        yield url


@pytest.fixture(params=["duckdb", "postgres"])
def kpi_shop_db(request, tmp_path, store_templates):
    """On each engine, the url of a fresh store holding the KPI shop alone (see ``kpi_shop_url``)."""
    with kpi_shop_url(store_templates, request.param, tmp_path) as url:
        yield url


@pytest.fixture(params=["duckdb", "postgres"])
def kpi_shop_store(request, tmp_path, store_templates):
    """On each engine, a fresh store holding the KPI shop alone (``load_kpi_shop`` of tests/features/kpi_shop.py
    on a new store; made once per session and copied for each test, which may change its copy as it likes)."""
    from tests.features.kpi_shop import load_kpi_shop

    with workspace_on_copy(store_templates, request.param, "kpi-shop", load_kpi_shop, tmp_path) as ws:
        yield ws


@pytest.fixture(params=["duckdb", "postgres"])
def model_shop_store(request, tmp_path, store_templates):
    """On each engine, a fresh store holding the model shop alone (``load_model_shop`` of
    tests/features/model_shop.py on a new store; made once per session and copied for each test)."""
    from tests.features.model_shop import load_model_shop

    with workspace_on_copy(store_templates, request.param, "model-shop", load_model_shop, tmp_path) as ws:
        yield ws


@pytest.fixture(params=["duckdb", "postgres"])
def basket_shop_store(request, tmp_path, store_templates):
    """On each engine, a fresh store holding the basket shop alone (``load_basket_shop`` of
    tests/features/basket_shop.py on a new store; made once per session and copied for each test)."""
    from tests.features.basket_shop import load_basket_shop

    with workspace_on_copy(store_templates, request.param, "basket-shop", load_basket_shop, tmp_path) as ws:
        yield ws
