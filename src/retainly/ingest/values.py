"""Turn text columns into typed values, collecting every problem with its row and column.

Each parser takes a text Series (null = empty cell) and returns the parsed Series, with
null where the text could not be used; the reason goes to ``Problems``. Nothing raises on
bad data here: the pipeline decides whether a problem rejects a row or (``--strict``) the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

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
# What the store can hold, checked here so that both engines accept and reject the same rows:
# money is DECIMAL(18,4), whole numbers (quantities, line numbers) are INTEGER, and an id is a
# key in a PostgreSQL index, whose entries must stay under 2,704 bytes (4 bytes a character).
MONEY_LIMIT = Decimal("99999999999999.9999")
INTEGER_LIMIT = 2**31 - 1
ID_LENGTH_LIMIT = 255
_MONEY_TOO_BIG = "more than the store can hold; amounts must be below 100,000,000,000,000"
_FORMAT_CHARACTERS = r"\p{Cf}"  # invisible: zero-width spaces and joiners, direction marks, BOM
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


@dataclass(frozen=True)
class DateRange:
    """The dates an import accepts for a column, and what to do about one outside them."""

    first: date
    last: date
    advice: str

    def reason(self) -> str:
        return f"outside the plausible dates {self.first} to {self.last}; {self.advice}"

    @classmethod
    def for_events(cls, earliest: date, days_ahead: int, today: date) -> DateRange:
        """Orders, returns, contacts, spend: nothing before ``earliest`` or after ``today`` + ``days_ahead``."""
        return cls(earliest, today + timedelta(days=days_ahead),
                   "if it is right, change earliest_date or latest_days_ahead under [import] in retainly.toml")

    def for_birthdays(self) -> DateRange:
        return DateRange(date(1900, 1, 1), self.last, "check the birthday")

    def for_plans(self) -> DateRange:
        """Promotions are planned ahead: up to five years after the latest date of events."""
        return DateRange(self.first, self.last + timedelta(days=1826),
                         "promotions may be planned up to five years ahead; if it is right, change "
                         "earliest_date under [import] in retainly.toml")


def require(values: pd.Series, column: str, problems: Problems) -> pd.Series:
    problems.add(values.isna(), column, values, "required value is missing")
    return values


def parse_timestamp(values: pd.Series, column: str, problems: Problems, date_format: str | None = None,
                    dates: DateRange | None = None) -> pd.Series:
    """Parse dates or date-times; an explicit ``date_format`` (strftime codes) skips detection.
    With ``dates``, a date outside that range is a problem (and null)."""
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
    if dates is not None:
        outside = (result < datetime.combine(dates.first, datetime.min.time())) | (
            result >= datetime.combine(dates.last + timedelta(days=1), datetime.min.time()))
        outside = outside.fillna(False).to_numpy(dtype=bool)
        problems.add(outside, column, values, dates.reason())
        result = result.mask(outside)
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


def parse_date(values: pd.Series, column: str, problems: Problems, date_format: str | None = None,
               dates: DateRange | None = None) -> pd.Series:
    return parse_timestamp(values, column, problems, date_format, dates).dt.normalize()


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
    too_big = _money_too_big(text)
    problems.add(too_big, column, values, _MONEY_TOO_BIG)
    return text.where(~too_big)


def _money_too_big(text: pd.Series) -> np.ndarray:
    # Only numbers of 14 digits or more before the point can reach the limit; Decimal checks those exactly.
    long = np.flatnonzero(text.str.match(r"^[+-]?0*[1-9]\d{13}").fillna(False).to_numpy(dtype=bool))
    too_big = np.zeros(len(text), dtype=bool)
    too_big[long] = [abs(Decimal(v)) > MONEY_LIMIT for v in text.iloc[long]]
    return too_big


def check_amounts(quantity: pd.Series, price: pd.Series, column: str, values: pd.Series, problems: Problems) -> None:
    """A line's quantity x unit price must fit the store's money too (its amount is computed from them)."""
    both = quantity.notna().to_numpy(dtype=bool) & price.notna().to_numpy(dtype=bool)
    # Floats find the candidates (no false negatives at this margin); Decimal decides exactly.
    rough = np.zeros(len(price), dtype=bool)
    rough[both] = np.abs(quantity.to_numpy(dtype=object)[both].astype(float)
                         * pd.to_numeric(price[both]).to_numpy(dtype=float)) > 1e13
    positions = np.flatnonzero(rough)
    too_big = np.zeros(len(price), dtype=bool)
    too_big[positions] = [abs(int(q) * Decimal(p)) > MONEY_LIMIT
                          for q, p in zip(quantity.iloc[positions], price.iloc[positions])]
    problems.add(too_big, column, values, f"quantity x price is {_MONEY_TOO_BIG}")

def parse_integer(values: pd.Series, column: str, problems: Problems, allow_negative: bool = True) -> pd.Series:
    text = normalise_number(values)
    valid = text.str.match(_INTEGER).fillna(False).astype(bool)
    present = values.notna()
    problems.add(present & ~valid, column, values, "not a whole number")
    # Checked on the text: through a float, 10^20 would become a negative int64 without a word.
    digits = text.where(valid).str.replace(r"^[+-]?0*|\.0*$", "", regex=True).str.len()
    too_big = (digits > 10).fillna(False).to_numpy(dtype=bool)
    valid = valid & ~too_big
    numbers = pd.to_numeric(text.where(valid), errors="coerce").astype("Int64")
    too_big |= (numbers.abs() > INTEGER_LIMIT).fillna(False).to_numpy(dtype=bool)
    problems.add(too_big, column, values,
                 f"more than the store can hold; whole numbers here must be at most {INTEGER_LIMIT:,}")
    numbers = numbers.mask(too_big)
    if not allow_negative:
        negative = (numbers < 0).fillna(False).astype(bool)
        problems.add(negative, column, values, "negative number not allowed here")
        numbers = numbers.mask(negative)
    return numbers


def parse_float(values: pd.Series, column: str, problems: Problems) -> pd.Series:
    text = normalise_number(values)
    numbers = pd.to_numeric(text, errors="coerce")
    # "nan", "inf" and 1e999 read as floats, but no store column can hold them.
    numbers = numbers.where(np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan)))
    problems.add(values.notna() & numbers.isna(), column, values, "not a number")
    return numbers


def parse_rate(values: pd.Series, column: str, problems: Problems) -> pd.Series:
    """A share such as a discount rate: a number from 0 to 1 (0.2 for 20 % off)."""
    numbers = parse_float(values, column, problems)
    outside = ((numbers < 0) | (numbers > 1)).fillna(False).to_numpy(dtype=bool)
    problems.add(outside, column, values, "not a rate from 0 to 1 (0.2 for 20 % off)")
    return numbers.mask(outside)


def normalise_ids(values: pd.Series) -> pd.Series:
    """Ids as the shop means them: Unicode NFC, invisible format characters (Unicode category
    Cf: zero-width spaces, direction marks, BOM) removed, surrounding spaces stripped; empty -> null.

    So `C1`, `C1` followed by a zero-width space, and `C\u200f1` are one customer, and an id
    typed with a composed `é` matches one exported with `e` and a combining accent."""
    text = values.astype(pd.StringDtype("pyarrow"))
    text = text.str.normalize("NFC").str.replace(_FORMAT_CHARACTERS, "", regex=True).str.strip()
    return text.mask(text.eq("").fillna(False).to_numpy(dtype=bool))


def normalise_id(value: str) -> str:
    """One id normalised as ``normalise_ids`` does (for ids typed on a command line)."""
    result = normalise_ids(pd.Series([value])).iloc[0]
    return "" if pd.isna(result) else str(result)


def parse_id(values: pd.Series, column: str, problems: Problems, required: bool = False) -> pd.Series:
    """An id (order, customer, product, ...): normalised, and short enough to be a key in the store.
    ``required``: an empty id (or one of invisible characters only) is a problem."""
    ids = normalise_ids(values)
    if required:
        require(ids, column, problems)
    too_long = (ids.str.len() > ID_LENGTH_LIMIT).fillna(False).to_numpy(dtype=bool)
    problems.add(too_long, column, values, f"too long for an id; ids may have at most {ID_LENGTH_LIMIT} characters")
    return ids.mask(too_long)


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


_WEB_ADDRESS = r"^https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?$"


def parse_url(values: pd.Series, column: str, problems: Problems) -> pd.Series:
    """Web addresses (http or https, with a host): what a message may link to or show as a picture.
    Anything else (``javascript:``, a relative path, a bare name) would break or endanger a message."""
    trimmed = values.astype("string").str.strip()
    ok = trimmed.str.match(_WEB_ADDRESS, case=False).fillna(False).astype(bool)
    problems.add(values.notna() & ~ok, column, values, "not a web address; give it as https://host/path")
    return trimmed.where(ok)


def text(values: pd.Series) -> pd.Series:
    return values.astype("string")


def find_column(columns: list[str], *names: str) -> str | None:
    """The first header among ``names``, compared without case, spaces or underscores."""
    index = {fold_header(c): c for c in columns}
    for name in names:
        found = index.get(fold_header(name))
        if found is not None:
            return found
    return None


def fold_header(name: str) -> str:
    """A header as retainly compares it: without case, spaces, hyphens or underscores."""
    return re.sub(r"[\s_\-]+", "", name).lower()


def missing_columns_error(source: str, preset: str, missing: list[str], found: list[str]) -> MappingError:
    quoted = ", ".join(f'"{m}"' for m in missing)
    noun = "column" if len(missing) == 1 else "columns"
    return MappingError(
        f"{source}: missing required {noun} {quoted} for preset {preset} "
        f"(found: {', '.join(found)}); pick the right `preset` or map the columns with `mapping`",
        parameter="preset",
    )
