"""CSV cells a spreadsheet shows as data and never runs (OWASP's advice on CSV injection).

Excel, LibreOffice and Google Sheets run a cell that starts with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return as a formula, so a customer named ``=HYPERLINK(...)`` in an export
would run when the shop opens it. Every CSV retainly writes passes its cells through
``neutralise_cell``: such a text cell gets a leading apostrophe, which spreadsheets read as
"this is text" and do not show. Numbers stay numbers: a typed number is never touched, and
neither is text that is a plain number (``-3``, ``+4.50``, ``-1e3``), which spreadsheets read
as that number and no formula can hide in.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise_cell(value):
    """``value`` as a CSV cell that no spreadsheet runs: text starting like a formula gets a leading '.

    Text that already starts with apostrophes before a formula start (``'=x``) gets one more,
    so that ``restore_cell`` can tell every neutralised cell from one that was written so.
    """
    if isinstance(value, str) and _runs(value.lstrip("'")):
        return "'" + value
    return value


def restore_cell(value):
    """The inverse of ``neutralise_cell``: reading back a CSV retainly wrote gives the original text."""
    if isinstance(value, str) and value.startswith("'") and _runs(value.lstrip("'")):
        return value[1:]
    return value


def _runs(text: str) -> bool:
    """Whether a spreadsheet would run ``text`` as a formula."""
    return text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text)
