"""Edited copies of a CSV fixture, for tests that need one bad cell or a missing column."""

from __future__ import annotations

import csv
from pathlib import Path


def edited_copy(fixture: Path, target: Path, cells: dict[tuple[int, str], str] | None = None,
                drop: tuple[str, ...] = (), rename: dict[str, str] | None = None) -> Path:
    """``fixture`` with cells changed (keyed by file line and header), columns dropped or renamed."""
    with fixture.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    for (line, column), value in (cells or {}).items():
        rows[line - 1][header.index(column)] = value
    keep = [i for i, column in enumerate(header) if column not in drop]
    rows = [[row[i] for i in keep] for row in rows]
    rows[0] = [(rename or {}).get(column, column) for column in rows[0]]
    with target.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return target
