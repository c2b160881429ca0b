"""Who may open a store, and how: a mistyped --db, read-only commands, a busy DuckDB file, file modes.

The busy and read-only cases use a real second process holding the DuckDB file, as a second
`retainly` command would.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from retainly import Workspace
from retainly.errors import NotFoundError, StoreBusyError, StoreError
from tests.cli.running import run
from tests.conftest import DATA

# Every command that only looks at the store: none may create one.
NON_CREATING = [["summary"], ["imports"], ["kpis"], ["cohorts"], ["rfm"], ["segments"], ["score"],
                ["backtest", "--calibration-end", "2025-06-30"], ["lifecycle"], ["buyer-types"], ["reorders"],
                ["customer", "show", "c1"], ["report"]]
# The commands that open the store read-only (they store nothing, so several can run at once).
READ_ONLY = [["summary"], ["imports"], ["kpis"], ["cohorts"], ["backtest", "--calibration-end", "2025-06-30"],
             ["db", "status"]]


def _where(store_url: str, tmp_path: Path) -> str:
    """How the message names the store: the file, or the URL without a password (the tests use none)."""
    return str(tmp_path / "store.duckdb") if store_url.startswith("duckdb") else store_url


def _tables(store_url: str) -> set[str]:
    with Workspace.open_unchecked(store_url, create=False) as ws:
        return ws.store.table_names()


@pytest.mark.parametrize("argv", NON_CREATING, ids=lambda argv: argv[0])
def test_a_missing_store_is_refused_not_created(store_url, tmp_path, capsys, argv):
    assert run(["--db", store_url, *argv]) == 1
    assert capsys.readouterr().err == (
        f"error: no store at {_where(store_url, tmp_path)}: check --db, or import data first\n")
    if store_url.startswith("duckdb"):
        assert not (tmp_path / "store.duckdb").exists()
    else:  # the database exists on the server but holds no retainly schema: it is left empty
        assert _tables(store_url) == set()


def test_db_status_refuses_a_missing_duckdb_file(tmp_path, capsys):
    assert run(["--db", str(tmp_path / "store.duckdb"), "db", "status"]) == 1
    assert capsys.readouterr().err == f"error: no store at {tmp_path / 'store.duckdb'}: check --db, or import data first\n"
    assert not (tmp_path / "store.duckdb").exists()


def test_db_status_shows_an_empty_postgres_database_as_version_0(postgres_url, capsys):
    # The database exists, so `db status` says what it holds and what `db upgrade` would do; it makes nothing.
    assert run(["--db", postgres_url, "db", "status", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"version": 0,' in out and '"name": "core store: customers, products, orders' in out
    assert _tables(postgres_url) == set()


def test_a_mistyped_path_is_named_as_typed(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run(["--db", "shop.duckbd", "summary"]) == 1
    assert capsys.readouterr().err == "error: no store at shop.duckbd: check --db, or import data first\n"
    assert list(tmp_path.iterdir()) == []


def test_import_and_db_upgrade_create_a_store(store_url, tmp_path):
    assert run(["--db", store_url, "db", "upgrade"]) == 0
    assert "imports" in _tables(store_url)
    other = tmp_path / "other.duckdb"
    assert run(["--db", str(other), "import", "orders", str(DATA / "native" / "orders.csv")]) == 0
    assert other.exists()


def test_library_opens_create_unless_told_not_to(store_url, tmp_path):
    with pytest.raises(NotFoundError) as error:
        Workspace.open(store_url, create=False)
    assert error.value.parameter == "url"
    assert str(error.value) == f"no store at {_where(store_url, tmp_path)}: check `url`, or import data first"
    with Workspace.open(store_url) as ws:  # the default still makes a new store
        assert ws.schema.status().is_current


def _generated(url) -> None:
    """A generated shop of 300 customers (2023-01-01 to 2025-12-31), and no derived result stored yet."""
    with Workspace.open(url) as ws:
        ws.data.generate(300, seed=2)


def test_read_only_commands_work_before_any_result_is_stored(store_url, capsys):
    _generated(store_url)
    for argv in READ_ONLY:  # they open the store read-only, so storing anything would fail
        assert run(["--db", store_url, *argv]) == 0, capsys.readouterr().err


def test_a_read_only_workspace_refuses_to_store_a_result(store_url):
    with Workspace.open(store_url) as ws:
        ws.data.import_file("orders", DATA / "native" / "orders.csv")
    with Workspace.open(store_url, read_only=True) as ws:
        assert ws.data.summary().orders == 3  # 1001, 1002 and 1005: the customers' purchase orders
        with pytest.raises(StoreError, match="the store was opened read-only, and this stores a result"):
            ws.rfm.segments()


def test_in_one_process_a_read_only_open_shares_an_open_writer(tmp_path, capsys):
    path = tmp_path / "shop.duckdb"
    with Workspace.open(path) as ws:  # DuckDB allows one mode per file and process: the reader joins the writer's
        ws.data.import_file("orders", DATA / "native" / "orders.csv")
        assert run(["--db", str(path), "summary", "--json"]) == 0
        assert '"orders": 3,' in capsys.readouterr().out
    message = f"this process has the store {path} open read-only; close that"
    with Workspace.open(path, read_only=True), pytest.raises(StoreBusyError, match=message):
        Workspace.open(path)


# -- DuckDB: one writing process at a time, readers together ---------------------------------------------

HOLDER = """
import sys
from retainly import Workspace
ws = Workspace.open(sys.argv[1], read_only=sys.argv[2] == "read")
print("holding", flush=True)
sys.stdin.readline()
ws.close()
"""


class Holder:
    """Another process that has the store open (for writing, or read-only) until the block ends."""

    def __init__(self, path: Path, mode: str):
        self.args = [sys.executable, "-c", HOLDER, str(path), mode]

    def __enter__(self):
        self.process = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        assert line == "holding\n", self.process.stderr.read()
        return self

    def __exit__(self, *exc):
        self.process.communicate("done\n")
        assert self.process.returncode == 0


BUSY = "error: the store is busy with another retainly command; try again\n"


@pytest.fixture
def duckdb_store(tmp_path):
    path = tmp_path / "shop.duckdb"
    _generated(path)
    return path


def test_a_second_command_while_another_writes_is_told_the_store_is_busy(duckdb_store, capsys):
    capsys.readouterr()
    with Holder(duckdb_store, "write"):
        for argv in (["import", "customers", str(DATA / "native" / "customers.csv")], ["summary"], ["rfm"]):
            assert run(["--db", str(duckdb_store), *argv]) == 1
            assert capsys.readouterr().err == BUSY
    # Once the other command is done, the same commands work, and nothing was half-written.
    assert run(["--db", str(duckdb_store), "import", "customers", str(DATA / "native" / "customers.csv")]) == 0
    with Workspace.open(duckdb_store) as ws:
        assert [row.kind for row in ws.data.imports()] == ["generated", "customers"]


def test_readers_share_the_store_and_a_writer_waits_for_them(duckdb_store, capsys):
    capsys.readouterr()
    with Holder(duckdb_store, "read"):
        for argv in READ_ONLY:  # read-only commands run beside another reader
            assert run(["--db", str(duckdb_store), *argv]) == 0, capsys.readouterr().err
        capsys.readouterr()
        assert run(["--db", str(duckdb_store), "import", "customers", str(DATA / "native" / "customers.csv")]) == 1
        assert capsys.readouterr().err == BUSY


# -- the store file holds personal data: its owner's only --------------------------------------------------

def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """A umask that lets everyone read new files, as on many systems."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_store_and_its_write_ahead_log_are_readable_by_their_owner_only(tmp_path, open_umask):
    path = tmp_path / "shop.duckdb"
    with Workspace.open(path) as ws:
        assert _mode(path) == 0o600
        ws.data.import_file("orders", DATA / "native" / "orders.csv")
        wal = tmp_path / "shop.duckdb.wal"
        assert wal.exists() and _mode(wal) == 0o600  # DuckDB keeps the log until the next checkpoint
    assert run(["--db", str(tmp_path / "cli.duckdb"), "import", "orders", str(DATA / "native" / "orders.csv")]) == 0
    assert _mode(tmp_path / "cli.duckdb") == 0o600


def test_an_existing_store_keeps_the_mode_its_owner_gave_it(tmp_path, open_umask):
    path = tmp_path / "shared.duckdb"
    Workspace.open(path).close()
    path.chmod(0o640)  # shared with a group on purpose
    with Workspace.open(path) as ws:
        ws.data.import_file("orders", DATA / "native" / "orders.csv")
        assert _mode(path) == 0o640 and _mode(tmp_path / "shared.duckdb.wal") == 0o640
