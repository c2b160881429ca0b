"""Tables that fit the terminal without cutting a number.

Rich squeezes a table that is too wide by cutting cells ("5,72…"). Here each column is at
least as wide as its widest number, date or short word; only longer text wraps or folds. A
table that still does not fit is cut into parts of whole columns, each part repeating the
first column (what names the row: a period, a cohort, a segment); when not even the first
column and one other fit, every row is printed as a block of "name: value" lines.

Cells are ``Text``: data is never read as Rich markup, and control characters in it (a
terminal escape code, a right-to-left override) are shown escaped (``\\x1b``), never sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

# C0 and C1 controls, DEL, and the invisible characters that reorder or break a line on screen.
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# Words up to this long stay whole in a text column; longer ones fold across lines.
_LONGEST_WHOLE_WORD = 20
# Rich's default box with one space of padding: a border or separator and 2 spaces per column, one border more.
_PER_COLUMN, _EDGE = 3, 1


def visible(text: str) -> str:
    """``text`` with every control character written as an escape (\\x1b, \\u202e) instead of sent."""
    return _HIDDEN.sub(_escaped, text)


def _escaped(match: re.Match) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def human(value) -> str:
    """A value as people read it: thousands separators, 2 decimals for money, yes/no, — for none."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return ", ".join(f"{visible(str(k))} {human(v)}" for k, v in value.items()) or "—"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return visible(str(value))


def is_atom(value) -> bool:
    """Numbers, dates, yes/no and the none mark: shown whole, never wrapped or cut."""
    return value is None or isinstance(value, (int, float, Decimal, date))


@dataclass
class Column:
    header: str
    cells: list[Text]
    floor: int  # the narrowest width that cuts no number, date or short word
    natural: int  # the width with nothing wrapped
    style: str = ""


def column(header: str, values: list, record: bool = False, style: str = "") -> Column:
    """A column of cells; in a ``record`` (name, value) values line up right, sentences left."""
    header = visible(header)
    texts = [human(v) for v in values]
    atoms = [cell_len(t) for v, t in zip(values, texts) if is_atom(v)]
    words = [cell_len(w) for v, t in zip(values, texts) if not is_atom(v) for w in t.split()]
    header_words = [cell_len(w) for w in header.split()] or [0]
    floor = max(max(atoms, default=0), min(max(words, default=0), _LONGEST_WHOLE_WORD),
                min(max(header_words), _LONGEST_WHOLE_WORD), 1)
    natural = max([cell_len(header), *(cell_len(t) for t in texts), floor])
    cells = [Text(t, overflow="fold", justify=("left" if len(t) > 40 else "right") if record else None)
             for t in texts]
    return Column(header, cells, floor, natural, style)


def widths(columns: list[Column], available: int) -> list[int] | None:
    """Each column's width so that the table fits ``available`` cells, or None when it cannot.

    Columns shrink from their natural width, the widest first, never below their floor."""
    if sum(c.floor for c in columns) + _PER_COLUMN * len(columns) + _EDGE > available:
        return None
    sizes = [c.natural for c in columns]
    excess = sum(sizes) + _PER_COLUMN * len(columns) + _EDGE - available
    while excess > 0:
        shrinkable = [i for i, c in enumerate(columns) if sizes[i] > c.floor]
        widest = max(shrinkable, key=lambda i: sizes[i])
        sizes[widest] -= 1
        excess -= 1
    return sizes


def parts(columns: list[Column], available: int) -> list[list[Column]] | None:
    """The columns in parts that each fit, each led by the first column; None when a column does not fit beside it."""
    key, rest = columns[0], columns[1:]
    if not rest:
        return [columns] if widths(columns, available) else None
    found: list[list[Column]] = []
    current = [key]
    for col in rest:
        if widths([*current, col], available) is None:
            if len(current) == 1:
                return None
            found.append(current)
            current = [key]
            if widths([key, col], available) is None:
                return None
        current.append(col)
    found.append(current)
    return found


def render(title: str | None, columns: list[Column], sizes: list[int], show_header: bool = True) -> Table:
    table = Table(title=None if title is None else Text(visible(title)), title_justify="left", show_header=show_header)
    for col, size in zip(columns, sizes):
        table.add_column(Text(visible(col.header), overflow="fold"), width=size, overflow="fold", style=col.style)
    for row in zip(*(col.cells for col in columns)):
        table.add_row(*row)
    return table


def blocks(title: str, columns: list[Column], show_header: bool = True) -> list[Text]:
    """One block of "name: value" lines per row, for a screen too narrow for any table."""
    lines = [Text(visible(title))]
    if not show_header:  # a record: its first column names the values in the second
        return lines + [Text(f"  {name.plain}: {value.plain}") for name, value in zip(*(c.cells for c in columns))]
    key, rest = columns[0], columns[1:]
    for i, cell in enumerate(key.cells):
        lines.append(Text(f"{visible(key.header)}: {cell.plain}"))
        lines += [Text(f"  {visible(col.header)}: {col.cells[i].plain}") for col in rest]
    return lines
