"""What every result type shares: it is a frozen dataclass that turns itself into plain data.

Results are what the core hands to the shells: the CLI prints them, the API serializes them
(its schemas derive from these classes), the report and the web pages render them. A field
whose metadata says ``omit_none`` is left out of ``to_dict`` when it is None (a KPI row has a
channel only when rows are per channel); ``key`` renames a field that is a Python keyword.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Result:
    """Base of every result type."""

    def to_dict(self) -> dict[str, Any]:
        """Fields in declaration order, nested results and lists of them turned into dicts too."""
        out: dict[str, Any] = {}
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if value is None and spec.metadata.get("omit_none"):
                continue
            out[spec.metadata.get("key", spec.name)] = plain(value)
        return out


def plain(value: Any) -> Any:
    """A result, or lists and dicts holding results, as plain dicts and lists."""
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def cell(value: Any) -> Any:
    """One plain value as the shells print it: an exact decimal as a number (whole ones as
    integers), a date as YYYY-MM-DD, a time as YYYY-MM-DD HH:MM:SS."""
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return value


def json_text(data: Any, indent: int | None = None) -> str:
    """Results (and lists and dicts of them) as strict JSON, the same in the CLI's ``--json`` and
    the API: fields by name, values as ``cell`` gives them, NaN and infinities as null."""
    separators = None if indent else (",", ":")
    return json.dumps(_finite(plain(data)), default=cell, indent=indent, allow_nan=False, separators=separators)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def optional(default: Any = None) -> Any:
    """A field left out of ``to_dict`` while it is None."""
    return field(default=default, metadata={"omit_none": True})


def renamed(key: str) -> Any:
    """A field spelled ``key`` in ``to_dict`` (``from`` cannot be an attribute)."""
    return field(metadata={"key": key})


def rows(kind: type, records: list[dict]) -> list:
    """Typed rows from dicts with exactly the fields of ``kind`` (a wrong key raises TypeError)."""
    return [kind(**record) for record in records]
