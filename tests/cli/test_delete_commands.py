"""`retainly delete` and `retainly customer erase` on the command line: what they print, the
question they ask on a terminal, and the --yes they need elsewhere.

The store is the KPI shop (tests/features/kpi_shop.py): imports #1 customers A-E, #2 orders,
#3 return R1 of order A3, #4 spend; customer A is Ada, ada@example.com.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from retainly import Workspace
from retainly.cli.app import main
from tests.conftest import kpi_shop_url

REFUSED = ("error: this cannot be undone: add --yes to go ahead without a question, or --dry-run to see what it "
           "would change\n")


@pytest.fixture(params=["duckdb", "postgres"])
def db(request, tmp_path, store_templates):
    """On each engine, a fresh store holding the KPI shop alone (loaded once per session, copied for each test)."""
    with kpi_shop_url(store_templates, request.param, tmp_path) as url:
        yield url


def run(capsys, db: str, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["--db", db, *args])
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def orders(db: str) -> int:
    with Workspace.open(db) as ws:
        return ws.store.fetchone("SELECT COUNT(*) FROM orders")[0]


def test_delete_needs_yes_when_nobody_can_answer(capsys, db):
    assert run(capsys, db, "delete", "orders", "A3") == (1, "", REFUSED)
    assert run(capsys, db, "customer", "erase", "A") == (1, "", REFUSED)
    assert orders(db) == 10


def test_delete_dry_run_then_yes(capsys, db):
    code, out, err = run(capsys, db, "delete", "orders", "A3", "--dry-run")
    assert (code, err) == (0, "")
    assert out == ("would delete orders A3: order lines 1, purchases 1, orders 1\n"
                   "  note: 1 returns refer to the deleted orders and stay; delete them with "
                   "`retainly delete returns ID...` if they should go too\n")
    assert orders(db) == 10
    code, out, err = run(capsys, db, "delete", "orders", "A3", "--yes")
    assert (code, err) == (0, "")
    assert out.startswith("deleted orders A3: order lines 1, purchases 1, orders 1 "
                          "(recorded as #5 in `retainly imports`)\n")
    assert orders(db) == 9
    code, out, _ = run(capsys, db, "imports", "--json")
    assert json.loads(out)[-1] | {"started_at": None} == {
        "import_id": 5, "kind": "delete", "source": "delete orders 'A3'", "preset": "-", "rows_read": 1,
        "rows_accepted": 3, "rows_rejected": 0, "started_at": None, "status": "completed"}


def test_delete_json_and_undo_an_import(capsys, db):
    code, out, err = run(capsys, db, "delete", "--import", "3", "--yes", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"kind": "import", "ids": [], "import_id": 3, "rows_removed": {"returns": 1},
                               "dry_run": False, "ledger_id": 5, "notes": []}
    code, out, err = run(capsys, db, "delete", "--import", "3", "--yes")
    assert (code, err) == (1, ("error: import #3 is undone, not completed: there is nothing of it to undo; "
                               "nothing was deleted\n"))


def test_delete_mistakes(capsys, db):
    assert run(capsys, db, "delete", "orders", "A3", "X1", "--yes") == (
        1, "", "error: no orders with id 'X1' in the store; nothing was deleted (use the shop's ids, as in the import)\n")
    assert run(capsys, db, "delete", "orders", "A3", "--import", "2", "--yes") == (
        1, "", "error: give either KIND with ID... or --import, not both\n")
    assert run(capsys, db, "delete", "--yes") == (
        1, "", "error: say what to delete: one of orders, customers, returns with ids, or an import id\n")
    assert run(capsys, db, "delete", "orders", "--yes") == (1, "", "error: name the orders to delete by their ids\n")
    assert run(capsys, db, "delete", "--import", "9", "--yes") == (
        1, "", "error: no import #9 in the store; see `retainly imports` for the ids; nothing was deleted\n")
    assert orders(db) == 10


def test_customer_erase(capsys, db):
    code, out, err = run(capsys, db, "customer", "erase", "A", "--yes", "--json")
    assert (code, err) == (0, "")
    erased = json.loads(out)
    assert (erased["customer_id"], erased["fields"], erased["rows_changed"]) == (
        1, ["external_id", "name", "email", "gender", "country", "email_consent", "email_consent_at", "returns.reason"],
        {"customers": 1, "returns": 1})
    code, out, err = run(capsys, db, "customer", "show", erased["external_id"], "--json")
    shown = json.loads(out)["customer"]
    assert (shown["name"], shown["email"], shown["external_id"]) == (None, None, erased["external_id"])
    code, out, err = run(capsys, db, "customer", "erase", "A", "--yes")
    assert out == (f"erased again customer 1 (now {erased['external_id']}): nothing left to erase\n"
                   f"  first erased at {erased['erased_at'][:19]}\n")
    assert run(capsys, db, "customer", "erase", "Q", "--yes") == (
        1, "", ("error: no customer with id 'Q'; use the shop's customer id, as in the import (see `retainly customer "
                "show`); nothing was erased\n"))


def _on_a_terminal(db: str, answer: str, *args: str) -> tuple[int, str]:
    """Run retainly with its standard input on a pseudo-terminal, answering its question with ``answer``."""
    leader, follower = os.openpty()
    try:
        process = subprocess.Popen([sys.executable, "-m", "retainly", "--db", db, *args], stdin=follower,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        os.write(leader, answer.encode() + b"\n")
        out, _ = process.communicate(timeout=120)
    finally:
        os.close(leader)
        os.close(follower)
    return process.returncode, out


def test_on_a_terminal_it_shows_what_goes_and_asks(db):
    code, out = _on_a_terminal(db, "n", "delete", "customers", "A")
    assert code == 1
    assert out.startswith("would delete customers A: returns 1, order lines 3, purchases 3, orders 3, customers 1\n"
                          "Delete these rows for good? [y/N]: ")
    assert out.endswith("nothing was changed\n")
    assert orders(db) == 10
    code, out = _on_a_terminal(db, "y", "delete", "customers", "A")
    assert code == 0
    assert "deleted customers A: returns 1, order lines 3, purchases 3, orders 3, customers 1" in out
    assert orders(db) == 7
