"""Read a shop's export file into a table of text, remembering where each row came from.

Every value arrives as text (stripped, empty -> null) so that presets decide what it means
and can name the file, line and column of anything they cannot use. Formats: CSV with any
common delimiter and encoding (detected, or forced), gzipped CSV, Parquet, and XLSX (every
sheet, in order).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from retainly.errors import FileFormatError, NotFoundError

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
    """Read one export file of any supported format."""
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise FileFormatError(f"{path}: is a folder; name the export files inside it")
    data = path.read_bytes()
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
        except (OSError, EOFError) as exc:
            raise FileFormatError(f"{name}: damaged gzip file ({exc}); download or compress it again") from None
    return _read_csv(name, data, digest, encoding)


# -- CSV ------------------------------------------------------------------------------------

def _decode(name: str, data: bytes, encoding: str | None) -> tuple[str, str]:
    """Return (encoding used, text)."""
    if encoding:
        try:
            return encoding, data.decode(encoding)
        except LookupError:
            raise FileFormatError(f"unknown encoding {encoding!r}; use a name such as utf-8, cp1252 or latin-1") from None
        except UnicodeDecodeError as exc:
            raise _decode_error(name, data, exc, encoding) from None
    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8"
    try:
        return encoding, data.decode(encoding)
    except UnicodeDecodeError as exc:
        first_error = exc
    from charset_normalizer import from_bytes

    guess = from_bytes(data[: 4 * _SNIFF_BYTES]).best()
    if guess is not None and guess.encoding not in {"utf_8", "utf-8", "ascii"}:
        try:
            return guess.encoding, data.decode(guess.encoding)
        except UnicodeDecodeError:
            pass
    raise _decode_error(name, data, first_error, "utf-8", guessed=True)


def _decode_error(name: str, data: bytes, exc: UnicodeDecodeError, encoding: str, guessed: bool = False):
    line = data.count(b"\n", 0, exc.start) + 1
    byte = data[exc.start : exc.start + 1].hex()
    how = "the encoding could not be detected" if guessed else f"it is not valid {encoding}"
    return FileFormatError(
        f"{name}:{line}: byte 0x{byte} cannot be read ({how}); "
        "pass `encoding` with the file's encoding, for example `encoding` cp1252",
        parameter="encoding",
    )


def _read_csv(name: str, data: bytes, digest: str, encoding: str | None) -> RawTable:
    encoding, text = _decode(name, data, encoding)
    if not text.strip():
        raise FileFormatError(f"{name}: the file is empty; export it again with a header row and data rows")
    sample = text[:_SNIFF_BYTES]
    delimiter = _sniff_delimiter(sample)
    header = next(csv.reader(io.StringIO(sample), delimiter=delimiter))
    header = [h.strip() for h in header]
    _check_header(name, header)
    body_start = text.find("\n")
    if body_start < 0 or not text[body_start + 1 :].strip():
        raise FileFormatError(f"{name}: the file has a header but no data rows; export it again with data")
    needs_careful_read = "\n\n" in text or "\r\n\r\n" in text
    table = None if needs_careful_read else _arrow_csv(text, delimiter, header)
    if table is None:
        return _python_csv(name, text, delimiter, header, digest)
    frame, line = table
    return RawTable(name, frame, line, None, digest, "line")


def _sniff_delimiter(sample: str) -> str:
    first_lines = "\n".join(sample.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(first_lines, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _check_header(name: str, header: list[str]) -> None:
    seen = set()
    for position, column in enumerate(header, start=1):
        if not column:
            raise FileFormatError(f"{name}:1: column {position} has no name; give every column a header")
        if column in seen:
            raise FileFormatError(f"{name}:1: column {column!r} appears twice in the header; rename one")
        seen.add(column)


def _arrow_csv(text: str, delimiter: str, header: list[str]):
    """Fast path. Returns None when the file needs the careful line-by-line reader."""
    ragged = []
    parse = pa_csv.ParseOptions(
        delimiter=delimiter, newlines_in_values=True, invalid_row_handler=lambda row: ragged.append(row) or "skip"
    )
    read = pa_csv.ReadOptions(column_names=header, skip_rows=1, block_size=16 << 20)
    convert = pa_csv.ConvertOptions(
        column_types={c: pa.string() for c in header}, strings_can_be_null=False, quoted_strings_can_be_null=False
    )
    try:
        table = pa_csv.read_csv(pa.BufferReader(text.encode("utf-8")), read, parse, convert)
    except pa.ArrowInvalid:
        return None
    if ragged:
        return None
    # Line of each row: header is line 1; values with embedded newlines push later rows down.
    extra = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        extra += pc.count_substring(column, "\n").to_numpy(zero_copy_only=False).astype(np.int64)
    line = 2 + np.arange(table.num_rows, dtype=np.int64) + np.concatenate(([0], np.cumsum(extra)[:-1]))
    return _text_frame(table), line


def _python_csv(name: str, text: str, delimiter: str, header: list[str], digest: str) -> RawTable:
    """Careful path: exact line numbers through blank lines, and ragged rows kept as rejects."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    next(reader)
    rows, lines, malformed = [], [], []
    start = reader.line_num + 1
    for record in reader:
        if not record or all(not field.strip() for field in record):
            start = reader.line_num + 1
            continue
        if len(record) != len(header):
            malformed.append((start, delimiter.join(record)[:200], f"expected {len(header)} fields, found {len(record)}"))
        else:
            rows.append(record)
            lines.append(start)
        start = reader.line_num + 1
    table = pa.table({c: pa.array([r[i] for r in rows], pa.string()) for i, c in enumerate(header)})
    bad = pd.DataFrame(malformed, columns=["line", "value", "reason"]) if malformed else None
    if not rows and not malformed:
        raise FileFormatError(f"{name}: the file has a header but no data rows; export it again with data")
    return RawTable(name, _text_frame(table), np.asarray(lines, dtype=np.int64), None, digest, "line", bad)


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
        sheets = [(sheet, workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)) for sheet in workbook.sheet_names]
    except Exception:  # calamine raises its own error types for every kind of damage
        raise FileFormatError(
            f"{name}: not a readable XLSX workbook; open it in a spreadsheet program and save it "
            "again as .xlsx, or export it as CSV"
        ) from None
    frames, lines, sheet_names, header = [], [], [], None
    for sheet, rows in sheets:
        rows = [r for r in rows]
        if not rows or all(_cell_text(v) is None for v in rows[0]):
            continue
        sheet_header = [(_cell_text(v) or "").strip() for v in rows[0]]
        while sheet_header and not sheet_header[-1]:
            sheet_header.pop()
        _check_header(f"{name}, sheet {sheet!r}", sheet_header)
        width = len(sheet_header)
        body = [(i + 2, r) for i, r in enumerate(rows[1:]) if any(_cell_text(v) is not None for v in r[:width])]
        header = header or sheet_header
        frames.append(pa.table({
            c: pa.array([_cell_text(r[j]) if j < len(r) else None for _, r in body], pa.string())
            for j, c in enumerate(sheet_header)
        }))
        lines.extend(n for n, _ in body)
        sheet_names.extend([sheet] * len(body))
    if header is None:
        raise FileFormatError(f"{name}: the file is empty; export it again with a header row and data rows")
    if not lines:
        raise FileFormatError(f"{name}: the file has a header but no data rows; export it again with data")
    table = pa.concat_tables(frames, promote_options="default")
    return RawTable(
        name, _text_frame(table), np.asarray(lines, dtype=np.int64), np.asarray(sheet_names, dtype=object), digest, "row"
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
