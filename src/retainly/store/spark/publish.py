"""Publishing the store's tables to Parquet for Spark: partitioned, idempotent, never half-written.

Each table becomes a folder of partitions under the warehouse folder:

    <warehouse>/<table>/part=202401/data.parquet     (facts: one partition per month)
    <warehouse>/<table>/part=20261130/data.parquet   (results kept per date: one per ``as_of``)
    <warehouse>/<table>/part=0/data.parquet          (everything else: one partition)
    <warehouse>/<table>/_retainly_published.json     (the completion marker)

The marker holds each partition's fingerprint on the store of record (row count and the sum of
a hash of every row, one grouped scan there). Publishing compares fingerprints and rewrites only
the partitions that differ, so publishing after an import rewrites the months it touched, and
publishing twice changes nothing. A partition is written beside its place and renamed into it;
the marker is replaced last, so a publish cut short is finished by the next one. Spark skips
files and folders whose names start with ``.`` or ``_``.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import pyarrow.parquet as pq

from retainly.store.backends import Store

MARKER = "_retainly_published.json"
PARTITION = "part"  # the folder key; the published views drop it
# Facts partitioned by the month of a date column (order lines by their order's month).
MONTH_COLUMNS = {
    "orders": "placed_at",
    "purchases": "placed_at",
    "returns": "returned_at",
    "marketing_spend": "spend_date",
    "interactions": "occurred_at",
    "site_events": "occurred_at",
    "customer_months": "month",
}
BY_ORDER = {"order_lines": "orders"}  # tables partitioned by the month of their order
STAMPS = ("computed_at", "fitted_at")  # when a result kept per date was written


@dataclass
class Published:
    """What one publish of a table did."""

    table: str
    written: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    kept: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed)


class Publisher:
    """Keeps Parquet copies of a store's tables under ``warehouse``, one folder per table."""

    def __init__(self, record: Store, warehouse: str | os.PathLike):
        self.record = record
        self.warehouse = Path(warehouse)

    def folder(self, table: str) -> Path:
        return self.warehouse / table

    def publish(self, table: str) -> Published:
        """Bring ``table``'s Parquet copy up to the store's rows, rewriting only changed partitions."""
        done = Published(table)
        folder = self.folder(table)
        folder.mkdir(parents=True, exist_ok=True)
        marker = _read_marker(folder)
        fingerprints = self._fingerprints(table)
        if not fingerprints:  # an empty table still needs its columns: one empty partition
            fingerprints = {0: "0:0"}
        for part, print_ in sorted(fingerprints.items()):
            if marker.get(str(part)) == print_ and (folder / f"{PARTITION}={part}").is_dir():
                done.kept += 1
                continue
            self._write_partition(table, folder, part)
            done.written.append(part)
        for part in sorted(set(marker) - {str(p) for p in fingerprints}):
            shutil.rmtree(folder / f"{PARTITION}={part}", ignore_errors=True)
            done.removed.append(int(part))
        if done.changed or marker != {str(p): f for p, f in fingerprints.items()}:
            _write_marker(folder, {str(p): f for p, f in fingerprints.items()})
        return done

    # -- the store's side --------------------------------------------------------------------
    def _fingerprints(self, table: str) -> dict[int, str]:
        """Per partition: its row count and the sum of its rows' hashes. A result kept per date is
        only ever replaced whole, with a new time stamp: its count and latest stamp do (no hashing)."""
        part, source = partition_sql(self.record, table)
        columns = self.record.table(table).columns
        stamp = next((c for c in STAMPS if c in columns), None) if "as_of" in columns else None
        summed = f"MAX(t.{stamp})" if stamp else f"SUM({self.record.row_hash_sql('t')})"
        rows = self.record.fetchall(f"SELECT {part} AS part, COUNT(*), {summed} FROM {source} GROUP BY 1")
        return {int(p): f"{n}:{h}" for p, n, h in rows}

    def _rows(self, table: str, part: int):
        """The rows of one partition as Arrow, typed by the table's schema on the store."""
        rows = self.record.table(table)
        if table in BY_ORDER:
            parent = self.record.table(BY_ORDER[table])
            month = _month_expr(parent[MONTH_COLUMNS[BY_ORDER[table]]])
            chosen = parent.filter(month == part).select("order_id")
            return rows.semi_join(chosen, "order_id").to_pyarrow()
        if table in MONTH_COLUMNS:
            return rows.filter(_month_expr(rows[MONTH_COLUMNS[table]]) == part).to_pyarrow()
        if "as_of" in rows.columns:
            day = rows.as_of
            return rows.filter(day.year() * 10000 + day.month() * 100 + day.day() == part).to_pyarrow()
        return rows.to_pyarrow()

    # -- the warehouse's side ----------------------------------------------------------------
    def _write_partition(self, table: str, folder: Path, part: int) -> None:
        staging = folder / f".{PARTITION}={part}.{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        pq.write_table(self._rows(table, part), staging / "data.parquet")
        target = folder / f"{PARTITION}={part}"
        if target.exists():
            retired = folder / f".retired.{uuid.uuid4().hex[:8]}"
            target.rename(retired)
            staging.rename(target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(target)


def partition_sql(record: Store, table: str, alias: str = "t") -> tuple[str, str]:
    """(SQL of the partition number of row ``alias``, the FROM clause that defines ``alias``)."""
    if table in BY_ORDER:
        parent = BY_ORDER[table]
        return (month_number_sql(f"o.{MONTH_COLUMNS[parent]}"),
                f"{table} {alias} JOIN {parent} o ON o.order_id = {alias}.order_id")
    if table in MONTH_COLUMNS:
        return month_number_sql(f"{alias}.{MONTH_COLUMNS[table]}"), f"{table} {alias}"
    if "as_of" in record.table(table).columns:
        return day_number_sql(f"{alias}.as_of"), f"{table} {alias}"
    return "0", f"{table} {alias}"


def month_number_sql(column: str) -> str:
    """SQL: 202401 for a date in January 2024 (0 for none), the same on DuckDB and PostgreSQL."""
    return f"COALESCE(CAST(EXTRACT(YEAR FROM {column}) * 100 + EXTRACT(MONTH FROM {column}) AS INTEGER), 0)"


def day_number_sql(column: str) -> str:
    return (f"COALESCE(CAST(EXTRACT(YEAR FROM {column}) * 10000 + EXTRACT(MONTH FROM {column}) * 100 "
            f"+ EXTRACT(DAY FROM {column}) AS INTEGER), 0)")


def _month_expr(column) -> ibis.Expr:
    return ibis.coalesce(column.year() * 100 + column.month(), 0)


def _read_marker(folder: Path) -> dict[str, str]:
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def _write_marker(folder: Path, fingerprints: dict[str, str]) -> None:
    staging = folder / f".{MARKER}.{uuid.uuid4().hex[:8]}"
    staging.write_text(json.dumps(fingerprints, sort_keys=True), encoding="utf-8")
    os.replace(staging, folder / MARKER)
