"""Read a shop's export file into a table of text, remembering where each row came from.

Every value arrives as text (stripped, empty -> null) so that presets decide what it means
and can name the file, line and column of anything they cannot use. Formats: CSV with any
common delimiter and encoding (detected, or forced: ``encodings``), gzipped CSV, Parquet,
and XLSX (every sheet, in order). Only a regular file is read, and a header whose names are
alike once folded is refused.
"""

from __future__ import annotations

import csv
import errno
import gzip
import hashlib
import io
import os
import re
import stat
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retainly.errors import FileFormatError, NotFoundError
from retainly.ingest.csv_rows import sniff_delimiter, split_rows
from retainly.ingest.encodings import decode
from retainly.ingest.values import fold_header

_SNIFF_BYTES = 256 * 1024


@dataclass
class RawTable:
    """An export file's rows as text, with the line (or row) each came from."""

    source: str
    frame: pd.DataFrame  # columns as in the header, every value str or null
    line: np.ndarray  # int64: CSV line number, or spreadsheet / Parquet row number
    sheet: np.ndarray | None  # XLSX sheet name per row, else None
    content_hash: str
    unit: str = "line"  # "line" for CSV, "row" for XLSX and Parquet
    malformed: pd.DataFrame | None = None  # rows that could not be split into fields
    notes: list[str] = field(default_factory=list)  # what the user should know about how the file was read
    # XLSX merged cells over data rows: (sheet, first row, last row, first column, last column, its header);
    # rows as in ``line``, columns 0-based.
    merged: list[tuple] = field(default_factory=list)

    def where(self, position: int) -> str:
        """`file:line` (or `file, sheet S, row N`) of the row at ``position``."""
        return location(self.source, int(self.line[position]), self.sheet_at(position), self.unit)

    def sheet_at(self, position: int) -> str | None:
        return None if self.sheet is None else str(self.sheet[position])


def location(source: str, line: int | None, sheet: str | None, unit: str) -> str:
    if line is None:
        return source
    if sheet is not None:
        return f"{source}, sheet {sheet!r}, row {line}"
    return f"{source}:{line}" if unit == "line" else f"{source}, row {line}"


def read_table(path: str | Path, encoding: str | None = None) -> RawTable:
    """Read one export file of any supported format (only a regular file: see ``read_source``)."""
    path = Path(path)
    data = read_source(path)
    digest = hashlib.sha256(data).hexdigest()
    name = str(path)
    suffixes = [s.lower() for s in path.suffixes]
    if data[:4] == b"PK\x03\x04" or suffixes[-1:] in ([".xlsx"], [".xlsm"], [".xls"]):
        return _read_xlsx(path, data, digest)
    if data[:4] == b"PAR1" or suffixes[-1:] == [".parquet"]:
        return _read_parquet(name, data, digest)
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise FileFormatError(f"{name}: damaged gzip file ({exc}); download or compress it again") from None
    return _read_csv(name, data, digest, encoding)


# -- Opening the file -----------------------------------------------------------------------
# Only a regular file is read: a named pipe waits forever for a writer, /dev/zero never ends,
# a folder or a socket has nothing to import. The file is opened without blocking and checked
# on the open descriptor, so nothing can swap it in between; standard input is read only
# through a regular file (/dev/stdin redirected from one), never from a pipe.

_WHAT = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_INSTEAD = "save the export to a file and import that file"


def read_source(path: Path) -> bytes:
    """The bytes of the regular file at ``path``; see the comment above."""
    name = str(path)
    if name == "-":
        raise FileFormatError(f"-: reading standard input is not supported; {_INSTEAD}")
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise _open_error(path, exc) from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        if stat.S_ISDIR(mode):
            raise FileFormatError(f"{name}: is a folder; name the export files inside it")
        raise FileFormatError(f"{name}: {_link_to(path)}{_what(mode)}, not a regular file; {_INSTEAD}")
    os.set_blocking(descriptor, True)
    with os.fdopen(descriptor, "rb") as handle:
        return handle.read()


def _what(mode: int) -> str:
    return next((what for test, what in _WHAT if test(mode)), "a special file")


def _link_to(path: Path) -> str:
    return f"links to {os.readlink(path)}, which is " if path.is_symlink() else "is "


def _open_error(path: Path, exc: OSError) -> Exception:
    name = str(path)
    if exc.errno == errno.ELOOP:
        return FileFormatError(f"{name}: symbolic link loop (the link leads back to itself); point it at the export file")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        if path.is_symlink():
            return NotFoundError(f"{name}: links to {os.readlink(path)}, which does not exist; "
                                 "point the link at the export file")
        return NotFoundError(f"{name}: no such file; check the path")
    if exc.errno == errno.ENXIO:  # opening a Unix socket
        return FileFormatError(f"{name}: is a socket, not a regular file; {_INSTEAD}")
    return FileFormatError(f"{name}: cannot be opened ({exc.strerror}); check the path and the file's permissions")


# -- CSV ------------------------------------------------------------------------------------

def _read_csv(name: str, data: bytes, digest: str, encoding: str | None) -> RawTable:
    decoded = decode(name, data, encoding)
    text = decoded.text
    if not text.strip():
        raise FileFormatError(f"{name}: the file is empty; export it again with a header row and data rows")
    sample = text[:_SNIFF_BYTES]
    delimiter = sniff_delimiter(sample)
    try:
        header = [h.strip() for h in next(csv.reader(io.StringIO(sample, newline=None), delimiter=delimiter))]
    except csv.Error as exc:  # a header value longer than the csv module's limit: a quote left open
        raise FileFormatError(f"{name}:1: the header cannot be split into fields ({exc}); fix the header") from None
    _check_header(f"{name}:1", header)
    first_break = re.search(r"[\r\n]", text)
    if first_break is None or not text[first_break.end() :].strip():
        raise FileFormatError(f"{name}: the file has a header but no data rows; export it again with data")
    table, line, malformed = split_rows(name, text, delimiter, header)
    bad = pd.DataFrame(malformed, columns=["line", "value", "reason"]) if malformed else None
    if not len(line) and bad is None:
        raise FileFormatError(f"{name}: the file has a header but no data rows; export it again with data")
    notes = [decoded.note] if decoded.note else []
    return RawTable(name, _text_frame(table), line, None, digest, "line", bad, notes)


def _check_header(where: str, header: list[str]) -> None:
    """Every column named, no two names alike once case, spaces, hyphens and underscores are set aside."""
    seen: dict[str, str] = {}
    for position, column in enumerate(header, start=1):
        if not column:
            raise FileFormatError(f"{where}: column {position} has no name; give every column a header")
        if "\n" in column or "\r" in column:
            raise FileFormatError(f"{where}: the name of column {position} runs over several lines; "
                                  "a quote in the header is not closed: fix the header")
        if column in seen.values():
            raise FileFormatError(f"{where}: column {column!r} appears twice in the header; rename one")
        # Columns are found by their folded names, so the later one would silently be read instead.
        other = seen.setdefault(fold_header(column), column)
        if other != column:
            raise FileFormatError(f"{where}: columns {other!r} and {column!r} name the same field (case, spaces, "
                                  "hyphens and underscores do not count); rename or remove one")


def _text_frame(table: pa.Table) -> pd.DataFrame:
    """Strip every value and make empty text null."""
    columns = {}
    for name, column in zip(table.column_names, table.columns):
        if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
            column = pc.cast(column, pa.string())
        stripped = pc.utf8_trim_whitespace(column)
        columns[name] = pc.if_else(pc.equal(stripped, ""), pa.scalar(None, pa.string()), stripped)
    return pa.table(columns).to_pandas(types_mapper=lambda t: pd.StringDtype("pyarrow"))


# -- Parquet --------------------------------------------------------------------------------

def _read_parquet(name: str, data: bytes, digest: str) -> RawTable:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise FileFormatError(f"{name}: not a readable Parquet file ({exc}); export it again") from None
    if table.num_columns == 0:
        raise FileFormatError(f"{name}: the file is empty; export it again with a header row and data rows")
    if table.num_rows == 0:
        raise FileFormatError(f"{name}: the file has a header but no data rows; export it again with data")
    _check_header(name, [c.strip() for c in table.column_names])
    nested = [c for c, kind in zip(table.column_names, table.schema.types) if pa.types.is_nested(kind)]
    if nested:
        raise FileFormatError(f"{name}: column {nested[0]!r} holds lists or records, not one value per cell; "
                              "export the file again with that column flattened or left out")
    columns = {}
    for column_name, column in zip(table.column_names, table.columns):
        if pa.types.is_timestamp(column.type):
            column = pc.strftime(column, "%Y-%m-%d %H:%M:%S")
        # Floats need no special case: Arrow prints the shortest form (13085.0 -> "13085", 6.95 -> "6.95").
        columns[column_name] = column
    frame = _text_frame(pa.table(columns))
    return RawTable(name, frame, np.arange(1, table.num_rows + 1, dtype=np.int64), None, digest, "row")


# -- XLSX -----------------------------------------------------------------------------------

def _read_xlsx(path: Path, data: bytes, digest: str) -> RawTable:
    from python_calamine import CalamineWorkbook

    name = str(path)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = []
        for sheet in workbook.sheet_names:
            content = workbook.get_sheet_by_name(sheet)
            sheets.append((sheet, content.to_python(skip_empty_area=False), content.merged_cell_ranges or []))
    except Exception:  # calamine raises its own error types for every kind of damage
        raise FileFormatError(
            f"{name}: not a readable XLSX workbook; open it in a spreadsheet program and save it "
            "again as .xlsx, or export it as CSV"
        ) from None
    frames, lines, sheet_names, header, merged = [], [], [], None, []
    for sheet, rows, merges in sheets:
        rows = [r for r in rows]
        if not rows or all(_cell_text(v) is None for v in rows[0]):
            continue
        sheet_header = [(_cell_text(v) or "").strip() for v in rows[0]]
        while sheet_header and not sheet_header[-1]:
            sheet_header.pop()
        _check_header(f"{name}, sheet {sheet!r}:1", sheet_header)
        width = len(sheet_header)
        body = [(i + 2, r) for i, r in enumerate(rows[1:]) if any(_cell_text(v) is not None for v in r[:width])]
        header = header or sheet_header
        frames.append(pa.table({
            c: pa.array([_cell_text(r[j]) if j < len(r) else None for _, r in body], pa.string())
            for j, c in enumerate(sheet_header)
        }))
        lines.extend(n for n, _ in body)
        sheet_names.extend([sheet] * len(body))
        # 0-based (row, column) corners; rows become 1-based like ``line``. Merges in the header alone are its business.
        merged.extend((sheet, r0 + 1, r1 + 1, c0, c1, sheet_header[c0])
                      for (r0, c0), (r1, c1) in merges if r1 >= 1 and c0 < width)
    if header is None:
        raise FileFormatError(f"{name}: the file is empty; export it again with a header row and data rows")
    if not lines:
        raise FileFormatError(f"{name}: the file has a header but no data rows; export it again with data")
    table = pa.concat_tables(frames, promote_options="default")
    return RawTable(
        name, _text_frame(table), np.asarray(lines, dtype=np.int64), np.asarray(sheet_names, dtype=object), digest, "row",
        merged=merged,
    )


def _number_text(value: float) -> str:
    # Spreadsheets store 13085 as 13085.0 and 6.95 as the nearest double; repr gives the short form.
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _cell_text(value) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number_text(value)
    if hasattr(value, "isoformat"):
        text = value.isoformat(sep=" ") if hasattr(value, "hour") and hasattr(value, "date") else value.isoformat()
        return text
    return str(value)
