"""Two `retainly` commands writing one PostgreSQL store at the same time: both land, exactly once.

Each race is made certain rather than likely: the test locks the table both commands write
(reads stay allowed), starts two real `retainly` processes, waits until both are blocked
inside their writing transactions, and only then lets them go. Before ids came from sequences
both picked the same "highest + 1" id there, and the loser failed on a unique key.
"""

from __future__ import annotations

import subprocess
import sys
import time

import psycopg
import pytest

from retainly import Workspace

HEADER = ("order_id,customer_id,placed_at,status,currency,channel,promo_code,country,shipping,tax,order_discount,"
          "line_no,sku,description,quantity,unit_price,line_discount,line_amount,kind")
# Two exports that share customer "shared": each also brings a customer of its own.
FILE_A = ["A1,shared,2024-01-05 10:00:00,completed,EUR,online,,,0,0,,1,MUG-1,Mug,1,9.90,,,merchandise",
          "A2,only-a,2024-01-06 10:00:00,completed,EUR,online,,,0,0,,1,MUG-1,Mug,2,9.90,,,merchandise"]
FILE_B = ["B1,shared,2024-02-05 10:00:00,completed,EUR,online,,,0,0,,1,CUP-1,Cup,1,4.50,,,merchandise",
          "B2,only-b,2024-02-06 10:00:00,completed,EUR,online,,,0,0,,1,CUP-1,Cup,3,4.50,,,merchandise",
          "B3,only-b,2024-02-07 10:00:00,completed,EUR,online,,,0,0,,1,MUG-1,Mug,1,9.90,,,merchandise"]


def _start(url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "retainly", "--db", url, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _race(url: str, table: str, commands: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Run ``commands`` at once, released together once both wait to write ``table``."""
    with psycopg.connect(url) as gate, psycopg.connect(url, autocommit=True) as watch:
        gate.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")  # blocks writers, not readers
        processes = [_start(url, *command) for command in commands]
        deadline = time.monotonic() + 600  # a guard against a hang, not a timing assertion
        while True:
            waiting = watch.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'").fetchone()[0]
            if waiting == len(processes):
                break
            ended = [p for p in processes if p.poll() is not None]
            if ended or time.monotonic() > deadline:
                for p in processes:
                    p.kill()
                pytest.fail(f"the commands did not both reach the write: {[p.communicate() for p in processes]}")
            time.sleep(0.1)
        gate.rollback()  # both go
    return [subprocess.CompletedProcess(p.args, p.wait(), *p.communicate()) for p in processes]


def test_two_imports_at_once_both_land_exactly_once(postgres_url, tmp_path):
    Workspace.open(postgres_url).close()  # the store exists; the race is between the imports
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("\n".join([HEADER, *FILE_A]) + "\n")
    b.write_text("\n".join([HEADER, *FILE_B]) + "\n")
    done = _race(postgres_url, "customers", [["import", "orders", str(a)], ["import", "orders", str(b)]])
    assert [d.returncode for d in done] == [0, 0], [d.stderr for d in done]
    with Workspace.open(postgres_url) as ws:
        one = ws.store.fetchall
        assert sorted(one("SELECT source FROM imports")) == [(str(a),), (str(b),)]
        assert sorted(one("SELECT import_id FROM imports")) == [(1,), (2,)]
        assert sorted(one("SELECT order_id FROM orders")) == [("A1",), ("A2",), ("B1",), ("B2",), ("B3",)]
        assert sorted(one("SELECT external_id FROM customers")) == [("only-a",), ("only-b",), ("shared",)]
        assert sorted(one("SELECT customer_id FROM customers")) == [(1,), (2,), (3,)]
        # Every order points at its customer, "shared" at one row for both files.
        assert sorted(one("SELECT o.order_id, c.external_id FROM orders o JOIN customers c USING (customer_id)")) == [
            ("A1", "shared"), ("A2", "only-a"), ("B1", "shared"), ("B2", "only-b"), ("B3", "only-b")]


def test_two_scores_at_once_both_succeed(postgres_url):
    with Workspace.open(postgres_url) as ws:
        ws.data.generate(300, seed=2)
        buyers = ws.store.fetchone("SELECT COUNT(DISTINCT customer_id) FROM purchases WHERE customer_id IS NOT NULL")[0]
        as_of = ws.data.last_order_date()
    done = _race(postgres_url, "model_fits", [["score", "--json"], ["score", "--json"]])
    assert [d.returncode for d in done] == [0, 0], [d.stderr for d in done]
    with Workspace.open(postgres_url) as ws:
        fits = ws.store.fetchall("SELECT fit_id, as_of FROM model_fits ORDER BY fit_id")
        assert fits == [(1, as_of), (2, as_of)]
        # The later of the two replaced the earlier's predictions: one row per buyer, from one fit.
        assert ws.store.fetchall("SELECT COUNT(*), COUNT(DISTINCT customer_id), COUNT(DISTINCT fit_id) "
                                 "FROM customer_scores WHERE as_of = ?", (as_of,)) == [(buyers, buyers, 1)]
