"""Turn text columns into typed values, collecting every problem with its row and column.

Each parser takes a text Series (null = empty cell) and returns the parsed Series, with
null where the text could not be used; the reason goes to ``Problems``. Nothing raises on
bad data here: the pipeline decides whether a problem rejects a row or (``--strict``) the file.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from retainly.errors import MappingError

# Dates as shops export them, tried in order; the first that reads every value of a column wins.
_DATETIME_FORMATS = (
    "ISO8601",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y%m%d",
)
# Plain pattern strings (not compiled) so pandas runs them in Arrow's vectorized regex engine.
_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)$"
_THOUSANDS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"
_DECIMAL_COMMA = r"^[+-]?\d+,\d+$"
_CURRENCY = r"[£$€¥\s]|^[A-Z]{3}\s*|\s*[A-Z]{3}$"
_INTEGER = r"^[+-]?\d+(\.0*)?$"
_ZONE = r"\s*(?:[+-]\d{2}:?\d{2}|Z|UTC)$"
_TIME_WITH_ZONE = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?" + _ZONE
_TRUE = {"1", "true", "t", "yes", "y", "opt-in", "optin", "opted_in", "subscribed", "granted", "accepted"}
_FALSE = {"0", "false", "f", "no", "n", "opt-out", "optout", "opted_out", "unsubscribed", "not_subscribed", "denied", "declined", "none"}


class Problems:
    """Problems found in a table, one per (row position, column)."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def add(self, mask: pd.Series | np.ndarray, column: str, values: pd.Series | None, reason: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        positions = np.flatnonzero(mask)
        shown = values.to_numpy(dtype=object)[positions] if values is not None else [None] * len(positions)
        self._parts.append(pd.DataFrame({"position": positions, "column": column, "value": shown, "reason": reason}))

    def add_rows(self, positions: np.ndarray, column: str | None, values, reason) -> None:
        if len(positions) == 0:
            return
        self._parts.append(pd.DataFrame({"position": positions, "column": column, "value": values, "reason": reason}))

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame({"position": pd.Series([], dtype=np.int64), "column": [], "value": [], "reason": []})
        frame = pd.concat(self._parts, ignore_index=True)
        return frame.sort_values(["position"], kind="stable").drop_duplicates("position").reset_index(drop=True)

    def bad_positions(self) -> np.ndarray:
        if not self._parts:
            return np.array([], dtype=np.int64)
        return np.unique(np.concatenate([p["position"].to_numpy() for p in self._parts]))

    def __bool__(self) -> bool:
        return bool(self._parts)


def require(values: pd.Series, column: str, problems: Problems) -> pd.Series:
    problems.add(values.isna(), column, values, "required value is missing")
    return values


def parse_timestamp(values: pd.Series, column: str, problems: Problems, date_format: str | None = None) -> pd.Series:
    """Parse dates or date-times; an explicit ``date_format`` (strftime codes) skips detection."""
    present = values.notna()
    text = values[present].astype(str)
    parsed = None
    formats = (date_format,) if date_format else _DATETIME_FORMATS
    best, best_bad = None, None
    for fmt in formats:
        candidate = _to_datetime(text, fmt)
        bad = int(candidate.isna().sum())
        if best_bad is None or bad < best_bad:
            best, best_bad = candidate, bad
        if bad == 0:
            break
    parsed = best
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    if parsed is not None and len(parsed):
        result[present] = parsed.to_numpy(dtype="datetime64[us]")
    unparsed = present & result.isna()
    expected = date_format or "a date like 2024-03-31 or 2024-03-31 14:05:00"
    problems.add(unparsed, column, values, f"unparseable date; expected {expected}")
    return result


def _to_datetime(text: pd.Series, fmt: str) -> pd.Series:
    # Wall-clock time as the shop exported it: a zone offset, when present, is dropped, not applied.
    zoned = text.str.contains(_TIME_WITH_ZONE, regex=True).fillna(False).astype(bool)
    cleaned = text.where(~zoned, text.str.replace(_ZONE, "", regex=True)) if zoned.any() else text
    if fmt == "ISO8601":
        cleaned = cleaned.str.replace("T", " ", n=1, regex=False)
    try:
        parsed = pd.to_datetime(cleaned, format=fmt, errors="coerce")
    except (ValueError, TypeError):
        return pd.Series(pd.NaT, index=text.index)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed


def parse_date(values: pd.Series, column: str, problems: Problems, date_format: str | None = None) -> pd.Series:
    return parse_timestamp(values, column, problems, date_format).dt.normalize()


def normalise_number(values: pd.Series) -> pd.Series:
    """Text numbers as shops write them ("£1,234.50", "6,95", "EUR 12") -> plain "1234.50"."""
    text = values.astype("string")
    if text.str.match(_NUMBER).fillna(True).all():
        return text  # the common case: plain numbers already
    text = text.str.replace(_CURRENCY, "", regex=True)
    thousands = text.str.match(_THOUSANDS).fillna(False)
    text = text.where(~thousands, text.str.replace(",", "", regex=False))
    decimal_comma = text.str.match(_DECIMAL_COMMA).fillna(False)
    return text.where(~decimal_comma, text.str.replace(",", ".", regex=False))


def parse_money(values: pd.Series, column: str, problems: Problems, allow_negative: bool = True) -> pd.Series:
    """Validate money text; return it as plain decimal text for an exact DECIMAL cast in the store."""
    text = normalise_number(values)
    valid = text.str.match(_NUMBER).fillna(False).astype(bool)
    present = values.notna()
    problems.add(present & ~valid, column, values, "not a number")
    text = text.where(valid)
    if not allow_negative:
        negative = (text.str.startswith("-").fillna(False)) & (pd.to_numeric(text, errors="coerce") != 0)
        problems.add(negative, column, values, "negative amount not allowed here")
        text = text.where(~negative)
    return text


def parse_integer(values: pd.Series, column: str, problems: Problems, allow_negative: bool = True) -> pd.Series:
    text = normalise_number(values)
    valid = text.str.match(_INTEGER).fillna(False).astype(bool)
    present = values.notna()
    problems.add(present & ~valid, column, values, "not a whole number")
    numbers = pd.to_numeric(text.where(valid), errors="coerce").astype("Int64")
    if not allow_negative:
        negative = (numbers < 0).fillna(False).astype(bool)
        problems.add(negative, column, values, "negative number not allowed here")
        numbers = numbers.mask(negative)
    return numbers


def parse_float(values: pd.Series, column: str, problems: Problems) -> pd.Series:
    text = normalise_number(values)
    numbers = pd.to_numeric(text, errors="coerce")
    problems.add(values.notna() & numbers.isna(), column, values, "not a number")
    return numbers


def parse_bool(values: pd.Series, column: str, problems: Problems) -> pd.Series:
    lowered = values.astype("string").str.lower().str.replace(" ", "_", regex=False)
    result = pd.Series(pd.NA, index=values.index, dtype="boolean")
    result[lowered.isin(_TRUE).fillna(False).astype(bool)] = True
    result[lowered.isin(_FALSE).fillna(False).astype(bool)] = False
    problems.add(values.notna() & result.isna(), column, values, "not a yes/no value (use true/false, yes/no or 1/0)")
    return result


def parse_choice(values: pd.Series, column: str, problems: Problems, choices: tuple[str, ...],
                 aliases: dict[str, str] | None = None) -> pd.Series:
    lowered = values.astype("string").str.strip().str.lower()
    if aliases:
        lowered = lowered.replace(aliases)
    ok = lowered.isin(choices).fillna(False).astype(bool)
    problems.add(values.notna() & ~ok, column, values, f"not one of {', '.join(choices)}")
    return lowered.where(ok)


def text(values: pd.Series) -> pd.Series:
    return values.astype("string")


def find_column(columns: list[str], *names: str) -> str | None:
    """The first header among ``names``, compared without case, spaces or underscores."""
    index = {_fold(c): c for c in columns}
    for name in names:
        found = index.get(_fold(name))
        if found is not None:
            return found
    return None


def _fold(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).lower()


def missing_columns_error(source: str, preset: str, missing: list[str], found: list[str]) -> MappingError:
    quoted = ", ".join(f'"{m}"' for m in missing)
    noun = "column" if len(missing) == 1 else "columns"
    return MappingError(
        f"{source}: missing required {noun} {quoted} for preset {preset} "
        f"(found: {', '.join(found)}); pick the right `preset` or map the columns with `mapping`",
        parameter="preset",
    )
