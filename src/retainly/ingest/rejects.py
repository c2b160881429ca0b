"""Rejected rows: described for the user, recorded, and written to a file to fix and import again.

The rejects file of ``orders.2024-01.csv`` is ``orders.2024-01.rejects.csv`` beside it (the
input's name without a final ``.csv``, so every input has its own), readable by its owner
only: it holds customers' data. Its first five columns say where and why
(``REASON_COLUMNS``); then comes each rejected row exactly as the import read it, every
column, or, for a line that could not be split into the header's columns, the fields it
was split into. Cells a spreadsheet would run as a formula get a leading apostrophe
(``retainly.csv_cells``).

Imported again, a file whose header starts with the five reason columns is recognised as a
rejects file: those columns are dropped and the apostrophes taken off again, so a fixed
rejects file imports exactly the values it shows.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from retainly.csv_cells import neutralise_cell, restore_cell
from retainly.errors import NotFoundError
from retainly.ingest.readers import RawTable, location
from retainly.ingest.values import Problems
from retainly.store.backends import Store

RECORDED_COLUMNS = ("source", "sheet", "line", "column_name", "value", "reason")
REASON_COLUMNS = ("rejected_line", "rejected_sheet", "rejected_column", "rejected_value", "rejected_reason")
# Longer values are cut where a message shows them (the rejects file has them whole).
SHOWN_CHARACTERS = 200


def rejects_table(raw: RawTable, problems: Problems, rejected: np.ndarray, group: str | None,
                  typed: pd.DataFrame) -> pd.DataFrame:
    """One row per rejected input row: where, which column, which value, why; in file order.

    ``position`` is the row's place in ``raw.frame``, or -1 for a line the reader set aside."""
    own = problems.frame()
    own = own[own["position"].isin(rejected)]
    parts = [pd.DataFrame({
        "line": raw.line[own["position"].to_numpy()],
        "sheet": [raw.sheet_at(p) for p in own["position"]],
        "column": own["column"].to_numpy(), "value": own["value"].to_numpy(), "reason": own["reason"].to_numpy(),
        "position": own["position"].to_numpy(),
    })]
    followers = np.setdiff1d(rejected, own["position"].to_numpy())
    if len(followers):
        first_bad_line: dict = {}
        for key, line in sorted(zip(typed[group].iloc[own["position"]].to_numpy(), raw.line[own["position"]]),
                                key=lambda pair: pair[1]):
            first_bad_line.setdefault(key, line)
        keys = typed[group].to_numpy(dtype=object)[followers]
        parts.append(pd.DataFrame({
            "line": raw.line[followers], "sheet": [raw.sheet_at(p) for p in followers],
            "column": None, "value": None,
            "reason": [f"another line of order {k} was rejected (line {first_bad_line.get(k)})" for k in keys],
            "position": followers,
        }))
    if raw.malformed is not None:
        parts.append(pd.DataFrame({
            "line": raw.malformed["line"].to_numpy(), "sheet": None, "column": None,
            "value": raw.malformed["value"].to_numpy(), "reason": raw.malformed["reason"].to_numpy(),
            "position": -np.arange(1, len(raw.malformed) + 1),  # -1 - (its row in raw.malformed)
        }))
    table = pd.concat(parts, ignore_index=True).sort_values("line", kind="stable").reset_index(drop=True)
    table.insert(0, "source", raw.source)
    return table


def storable(rejects: pd.DataFrame) -> pd.DataFrame:
    """The rejects as the store records them: PostgreSQL text takes no NUL byte, so it is written \\x00."""
    table = rejects.copy()
    for column in ("column", "value", "reason"):
        table[column] = pd.Series([v.replace("\x00", "\\x00") if isinstance(v, str) else v for v in table[column]],
                                  index=table.index, dtype=object)
    return table


def describe(reject: pd.Series) -> str:
    """`FILE:LINE: column C: value 'V': REASON`, the way every rejected row is reported."""
    sheet = reject["sheet"] if isinstance(reject["sheet"], str) else None
    where = location(reject["source"], int(reject["line"]), sheet, "row" if sheet else "line")
    column = f": column {reject['column']}" if isinstance(reject["column"], str) else ""
    value = f": value {shown(reject['value'])}" if isinstance(reject["value"], str) else ""
    return f"{where}{column}{value}: {reject['reason']}"


def shown(value: str) -> str:
    """A value quoted for a message; a long one is cut and its length given."""
    if len(value) <= SHOWN_CHARACTERS:
        return repr(value)
    return f"{value[:SHOWN_CHARACTERS]!r}... ({len(value):,} characters)"


def rejects_path(source: str, folder: Path | None = None) -> Path:
    """Where the rejects of ``source`` go: NAME.rejects.csv, NAME its file name without a final .csv."""
    path = Path(source)
    name = path.name[:-4] if path.name.lower().endswith(".csv") else path.name
    return (folder or path.parent) / f"{name}.rejects.csv"


def write_rejects(raw: RawTable, rejects: pd.DataFrame, rejects_dir: Path | None = None) -> str:
    """Write the rejects file beside the input (or in ``rejects_dir``; in the current folder when
    that one cannot be written); return its path."""
    target = rejects_path(raw.source, rejects_dir)
    rows = list(_file_rows(raw, rejects))
    try:
        _write_private(target, rows)
    except OSError:
        target = rejects_path(raw.source, Path.cwd())
        _write_private(target, rows)
    return str(target)


def _file_rows(raw: RawTable, rejects: pd.DataFrame):
    yield [*REASON_COLUMNS, *raw.frame.columns]
    fields = raw.malformed["fields"].tolist() if raw.malformed is not None and "fields" in raw.malformed else None
    values = raw.frame.to_numpy(dtype=object)
    for reject in rejects.itertuples(index=False):
        reasons = [int(reject.line), reject.sheet, reject.column, reject.value, reject.reason]
        if reject.position >= 0:
            cells = list(values[reject.position])
        else:
            cells = list(fields[-reject.position - 1]) if fields is not None else []
        yield [_text(neutralise_cell(_plain(v))) for v in [*reasons, *cells]]


def _plain(value):
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _text(value) -> str:
    return "" if value is None else str(value)


def _write_private(target: Path, rows: list[list[str]]) -> None:
    """Write atomically, readable by the owner only (mode 0600), whatever the umask or an older file's mode."""
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            csv.writer(out, lineterminator="\n").writerows(rows)
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def is_rejects_file(raw: RawTable) -> bool:
    return tuple(raw.frame.columns[: len(REASON_COLUMNS)]) == REASON_COLUMNS


def without_reasons(raw: RawTable) -> RawTable:
    """A rejects file imported again: its reason columns dropped, its neutralised cells restored."""
    frame = raw.frame.drop(columns=list(REASON_COLUMNS))
    for column in frame.columns:
        values = frame[column]
        quoted = values.str.startswith("'").fillna(False).to_numpy(dtype=bool)
        if quoted.any():
            frame[column] = values.mask(quoted, values[quoted].map(restore_cell))
    return dataclasses.replace(raw, frame=frame)


def recorded(store: Store, import_id: int) -> list[dict]:
    """The rejects the store recorded for import ``import_id``, in file order, as dicts of
    ``RECORDED_COLUMNS``; an import that is not in the ledger is a ``NotFoundError``."""
    if store.fetchone("SELECT 1 FROM imports WHERE import_id = ?", (int(import_id),)) is None:
        raise NotFoundError(f"no import with id {import_id}; `retainly imports` lists them", parameter="import_id")
    found = store.fetchall(f"SELECT {', '.join(RECORDED_COLUMNS)} FROM import_rejects WHERE import_id = ? "
                           "ORDER BY source, sheet NULLS FIRST, line, column_name NULLS FIRST", (int(import_id),))
    return [dict(zip(RECORDED_COLUMNS, row)) for row in found]
