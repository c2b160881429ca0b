"""Split CSV text into rows of text, with the line each row starts on.

Two splitters: Arrow's, fast, used when every row has the header's width and no value spans
lines; Python's, which keeps exact line numbers through blank lines and values that span
lines, and sets rows of the wrong width aside.

A quoted value may span lines (addresses, notes). But a quote opened by mistake takes in
every line up to the next quote, rows included, as one value, which would import "50 of 50
rows" from a file of 100. So a value that spans lines is refused, naming the line where its
quote opened, when its quote never closes, or when a line it takes in reads as a row of the
file (the header's number of fields, most of them shaped like their column's values).
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from retainly.errors import FileFormatError

_DELIMITERS = ",;\t|"
_SNIFF_ROWS = 50
_NUMBER = re.compile(r"[-+]?[\d.,\s]*\d[\d.,\s]*")
# A line taken into a value reads as a row when at least this share of its fields has its column's shape.
ROW_LIKENESS = 0.8
_FIX = 'close the quote, or double it ("") to keep it as text, and import again'

Malformed = list[tuple[int, str, str]]  # (line, the row as text, reason)


def sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the header in two or more fields and most rows as wide as it.

    Python's ``csv.Sniffer`` is not used: its regular expressions take minutes on a long line
    of quotes and commas. Splitting the first rows with each candidate is linear.
    """
    best, best_score = ",", (0.0, 0)
    for delimiter in _DELIMITERS:
        widths = []
        try:
            for record in itertools.islice(csv.reader(_lines(sample), delimiter=delimiter), _SNIFF_ROWS):
                if record:
                    widths.append(len(record))
        except csv.Error:  # a value longer than the csv module's limit: judge by the rows before it
            pass
        if not widths or widths[0] < 2:
            continue
        score = (sum(w == widths[0] for w in widths) / len(widths), widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def split_rows(name: str, text: str, delimiter: str, header: list[str]) -> tuple[pa.Table, np.ndarray, Malformed]:
    """The rows under the header as a table of text, their first lines, and the rows set aside."""
    needs_careful_read = "\n\n" in text or "\r\n\r\n" in text
    table = None if needs_careful_read else _arrow_rows(text, delimiter, header)
    if table is not None:
        _refuse_unclosed_last_line(name, text, delimiter, header)
        return table[0], table[1], []
    return _python_rows(name, text, delimiter, header)


def _arrow_rows(text: str, delimiter: str, header: list[str]):
    """Fast path. None when the file needs the careful reader."""
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
    for column in table.columns:
        # A value that spans lines needs the quote checks and exact line numbers of the careful reader.
        if pc.any(pc.match_substring_regex(column, r"[\r\n]")).as_py():
            return None
    return table, 2 + np.arange(table.num_rows, dtype=np.int64)


def _refuse_unclosed_last_line(name: str, text: str, delimiter: str, header: list[str]) -> None:
    body = text.rstrip("\r\n")
    last = body.rsplit("\n", 1)[-1]
    if body.count("\n") and _never_closes(last, delimiter):
        record = next(csv.reader([last], delimiter=delimiter))
        line = body.count("\n") + 1
        raise _unclosed(name, line, _column(header, len(record) - 1), line)


def _never_closes(tail: str, delimiter: str) -> bool:
    """Whether the first record of ``tail`` ends inside a quoted value (Python's csv, strict, says so)."""
    try:
        next(csv.reader(_lines(tail), delimiter=delimiter, strict=True), None)
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _lines(text: str) -> io.StringIO:
    # Universal newlines: a bare carriage return ends a line too (Arrow reads it so as well).
    return io.StringIO(text, newline=None)


def _python_rows(name: str, text: str, delimiter: str, header: list[str]) -> tuple[pa.Table, np.ndarray, Malformed]:
    """Careful path: exact line numbers through blank lines; rows of the wrong width set aside."""
    # A runaway quote makes one huge value; read it whole so that the checks below can name its line.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(_lines(text), delimiter=delimiter)
    rows, lines, malformed, spanning = [], [], [], []
    last = None
    start = 1
    try:
        next(reader)
        start = reader.line_num + 1
        for record in reader:
            if not record or all(not field.strip() for field in record):
                start = reader.line_num + 1
                continue
            last = (start, record)
            if any("\n" in field for field in record):
                spanning.append((start, record))
            if len(record) != len(header):
                malformed.append((start, delimiter.join(record), f"expected {len(header)} fields, found {len(record)}"))
            else:
                rows.append(record)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise FileFormatError(f"{name}:{start}: cannot be split into fields ({exc}); export the file again") from None
    if last is not None and _never_closes(_from_line(text, last[0]), delimiter):
        # Python's csv ends a quoted value at the end of the text: the record's last value is the runaway.
        position = len(last[1]) - 1
        raise _unclosed(name, _opening(*last, position), _column(header, position), reader.line_num)
    if spanning:
        _check_spanning_values(name, delimiter, header, rows, spanning)
    table = pa.table({c: pa.array([r[i] for r in rows], pa.string()) for i, c in enumerate(header)})
    return table, np.asarray(lines, dtype=np.int64), malformed


def _opening(start: int, record: list[str], position: int) -> int:
    """The line on which the value at ``position`` of a record starting on line ``start`` opens."""
    return start + sum(field.count("\n") for field in record[:position])


def _check_spanning_values(name: str, delimiter: str, header: list[str], rows: list[list[str]],
                           spanning: list[tuple[int, list[str]]]) -> None:
    shapes = _column_shapes(rows, len(header))
    for start, record in spanning:
        for position, value in enumerate(record):
            if "\n" not in value:
                continue
            taken = _row_like_line(value, delimiter, len(header), shapes)
            if taken is not None:
                line, breaks = _opening(start, record, position), value.count("\n")
                raise FileFormatError(
                    f"{name}:{line}: column {_column(header, position)}: a quote opens here and closes only on "
                    f"line {line + breaks}, so line {line + taken} would be read as part of one value "
                    f"although it reads as a row; {_FIX}"
                )


def _unclosed(name: str, line: int, column: str, last: int) -> FileFormatError:
    return FileFormatError(
        f"{name}:{line}: column {column}: a quote opens here and never closes, so everything from here to the end "
        f"of the file (line {last}) would be read as one value; {_FIX}"
    )


def _column(header: list[str], position: int) -> str:
    return header[position] if position < len(header) else f"{position + 1} (beyond the header's {len(header)})"


def _from_line(text: str, line: int) -> str:
    return _lines(text).getvalue().split("\n", line - 1)[-1] if line > 1 else text


def _shape(value: str) -> str:
    value = value.strip()
    return "empty" if not value else "number" if _NUMBER.fullmatch(value) else "text"


def _column_shapes(rows: list[list[str]], width: int) -> list[str]:
    """The most common shape (empty, number, text) of each column's values."""
    sample = rows[:: max(1, len(rows) // 2000)]
    return [Counter(_shape(r[i]) for r in sample).most_common(1)[0][0] if sample else "text" for i in range(width)]


def _row_like_line(value: str, delimiter: str, width: int, shapes: list[str]) -> int | None:
    """The first line after the first one of ``value`` that reads as a row of the file (1-based offset)."""
    if width < 2:
        return None
    for offset, line in enumerate(value.split("\n")[1:], start=1):
        fields = next(csv.reader([line], delimiter=delimiter), [])
        if len(fields) != width:
            continue
        alike = sum(_shape(f) == s for f, s in zip(fields, shapes))
        if alike >= ROW_LIKENESS * width:
            return offset
    return None
