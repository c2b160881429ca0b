"""Property: shuffled, split and repeated imports give the same store as one import.

Orders in the native layout are shuffled (orders among themselves and lines within an order),
split into files of whole orders, imported in random order with repeats (some forced past the
already-imported check), and the store's content must equal that of importing the original
file once. Runs on DuckDB and on PostgreSQL.
"""

from __future__ import annotations

import csv
import itertools
import uuid
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retainly import Workspace
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES

COLUMNS = ["order_id", "customer_id", "placed_at", "line_no", "sku", "quantity", "unit_price", "kind", "shipping"]
_counter = itertools.count()

line_strategy = st.tuples(
    st.sampled_from(["SKU-A", "SKU-B", "SKU-C", "POST"]), st.integers(1, 5), st.integers(0, 5000)
)
order_strategy = st.tuples(
    st.sampled_from(["c1", "c2", "c3", "c4", None]),
    st.integers(0, 60 * 24 * 30),  # minutes after the start
    st.lists(line_strategy, min_size=1, max_size=4),
    st.sampled_from([None, "4.95"]),
)


def rows_of(orders) -> list[list]:
    rows = []
    for number, (customer, minutes, lines, shipping) in enumerate(orders, start=1):
        day, minute = divmod(minutes, 24 * 60)
        placed = f"2024-01-{1 + day:02d} {minute // 60:02d}:{minute % 60:02d}:00"
        for line_no, (sku, quantity, cents) in enumerate(lines, start=1):
            kind = "shipping" if sku == "POST" else "merchandise"
            rows.append([f"O{number}", customer or "", placed, line_no, sku, quantity, f"{cents / 100:.2f}", kind,
                         shipping or ""])
    return rows


def write(path: Path, rows: list[list]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return path


def dump(ws: Workspace) -> dict:
    q = ws.store.fetchall
    return {
        "customers": sorted(q("SELECT external_id, first_seen_at FROM customers")),
        "orders": sorted(q(
            "SELECT o.order_id, c.external_id, o.placed_at, o.status, o.gross, o.discount, o.shipping, o.net "
            "FROM orders o LEFT JOIN customers c ON c.customer_id = o.customer_id")),
        "lines": sorted(q("SELECT order_id, line_no, sku, quantity, unit_price, amount, kind FROM order_lines")),
        "summary": ws.data.summary(),
    }


def fresh_store(backend: str, folder: Path) -> str:
    if backend == "duckdb":
        return f"duckdb:///{folder}/s{next(_counter)}.duckdb"
    name = f"p_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"


def backends():
    if POSTGRES_URL or REQUIRE_POSTGRES:
        return ["duckdb", "postgres"]
    return ["duckdb", pytest.param("postgres", marks=pytest.mark.skip(reason="no PostgreSQL server: run ./scripts/test"))]


@pytest.mark.parametrize("backend", backends())
def test_shuffled_split_repeated_imports_give_the_same_store(backend, tmp_path_factory):
    @settings(max_examples=20 if backend == "duckdb" else 8, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(orders=st.lists(order_strategy, min_size=1, max_size=10), data=st.data())
    def check(orders, data):
        folder = tmp_path_factory.mktemp("prop")
        rows = rows_of(orders)
        with Workspace.open(fresh_store(backend, folder)) as reference:
            reference.data.import_file("orders", write(folder / "all.csv", rows))
            expected = dump(reference)

        by_order = {}
        for row in rows:
            by_order.setdefault(row[0], []).append(row)
        order_ids = data.draw(st.permutations(list(by_order)))
        pieces = data.draw(st.integers(1, len(order_ids)))
        cut = sorted(data.draw(st.lists(st.integers(1, max(1, len(order_ids) - 1)), min_size=pieces - 1,
                                        max_size=pieces - 1))) if len(order_ids) > 1 else []
        bounds = [0, *cut, len(order_ids)]
        files = []
        for index, (start, end) in enumerate(zip(bounds, bounds[1:])):
            chunk = [r for oid in order_ids[start:end] for r in data.draw(st.permutations(by_order[oid]))]
            if chunk:
                files.append(write(folder / f"part{index}.csv", chunk))
        plan = data.draw(st.lists(st.sampled_from(files), min_size=len(files), max_size=2 * len(files) + 1)
                         .filter(lambda chosen: set(chosen) == set(files)))
        with Workspace.open(fresh_store(backend, folder)) as ws:
            for step, path in enumerate(plan):
                ws.data.import_file("orders", path, force=step % 2 == 1)
            assert dump(ws) == expected

    check()
