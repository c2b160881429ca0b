"""What a preset is: a known export layout turned into the canonical batch.

A preset works in two steps so that bad rows can be set aside without half-importing an
order: ``parse`` types every raw row (one output row per input row, same positions) and
records problems; ``build`` turns the rows that survived into a ``Batch``. Rows that share
``group_column`` (the lines of one order) are accepted or rejected together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from retainly.errors import InputError
from retainly.ingest.batch import Batch
from retainly.ingest.readers import RawTable
from retainly.ingest.values import DateRange, Problems, find_column, missing_columns_error


@dataclass
class Options:
    """Per-import knobs a preset may honour (mapping files set them too).

    ``dates`` is the range of plausible dates of events (orders, returns, contacts); the
    pipeline sets it from the [import] settings, and a date outside it rejects its row."""

    date_format: str | None = None
    currency: str | None = None
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    dates: DateRange | None = None


class Preset:
    name: str = "?"
    kinds: tuple[str, ...] = ()
    description: str = ""
    # Header names that identify this layout when no --preset is given.
    signature: tuple[str, ...] = ()

    def group_column(self, kind: str) -> str | None:
        return None

    def parse(self, kind: str, raw: RawTable, problems: Problems, options: Options) -> pd.DataFrame:
        raise NotImplementedError

    def build(self, kind: str, rows: pd.DataFrame, options: Options) -> Batch:
        raise NotImplementedError

    # -- helpers for subclasses -----------------------------------------------------------
    def check_kind(self, kind: str) -> None:
        if kind not in self.kinds:
            raise InputError(
                f"preset {self.name} reads {', '.join(self.kinds)} files, not {kind}; "
                f"run `retainly import {self.kinds[0]} FILE --preset {self.name}` or pick another preset"
            )

    def columns(self, raw: RawTable, required: dict[str, tuple[str, ...]],
                optional: dict[str, tuple[str, ...]] | None = None) -> dict[str, str | None]:
        return find_columns(raw, self.name, required, optional)


def find_columns(raw: RawTable, preset_name: str, required: dict[str, tuple[str, ...]],
                 optional: dict[str, tuple[str, ...]] | None = None) -> dict[str, str | None]:
    """Find the header of each wanted field (first alias first); name every missing required one."""
    header = list(raw.frame.columns)
    found: dict[str, str | None] = {}
    missing = []
    for field_name, aliases in required.items():
        column = find_column(header, *aliases) if aliases else find_column(header, field_name)
        if column is None:
            missing.append(aliases[0] if aliases else field_name)
        found[field_name] = column
    if missing:
        raise missing_columns_error(raw.source, preset_name, missing, header)
    for field_name, aliases in (optional or {}).items():
        found[field_name] = find_column(header, *aliases) if aliases else find_column(header, field_name)
    return found


def column_or_null(raw: RawTable, column: str | None) -> pd.Series:
    if column is None:
        return pd.Series(pd.NA, index=raw.frame.index, dtype="string")
    return raw.frame[column]
