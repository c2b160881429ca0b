"""Reporting periods: calendar months, quarters or years, clipped to a date range.

A period is half-open, ``start <= placed_at < end``, so every order falls in exactly one.
The user gives inclusive dates (``--to 2011-12-09`` means through the end of that day);
``date_range`` turns them into the half-open form once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from retainly.errors import InputError
from retainly.features.orders import check_day

PERIOD_UNITS = ("month", "quarter", "year")


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime
    end: datetime  # exclusive


def date_range(first: date | None, last: date | None, store_first: datetime | None,
               store_last: datetime | None) -> tuple[datetime, datetime]:
    """Half-open [start, end) for inclusive dates; missing ends default to the store's orders."""
    check_day(first, "first"), check_day(last, "last")
    if store_first is None and (first is None or last is None):
        raise InputError("the store has no purchase orders yet; import orders first (see `retainly import --help`)")
    start = _midnight(first) if first is not None else _midnight(store_first.date())
    end = _midnight(last) + timedelta(days=1) if last is not None else _midnight(store_last.date()) + timedelta(days=1)
    if end <= start:
        raise InputError(f"`first` {start.date()} is after `last` {(end - timedelta(days=1)).date()}; swap them",
                         parameter="first")
    return start, end


def unit_start(moment: datetime, unit: str) -> datetime:
    """The start of the calendar month, quarter or year containing ``moment``."""
    if unit == "month":
        return datetime(moment.year, moment.month, 1)
    if unit == "quarter":
        return datetime(moment.year, 3 * ((moment.month - 1) // 3) + 1, 1)
    if unit == "year":
        return datetime(moment.year, 1, 1)
    raise InputError(f"unknown period {unit!r}; use one of {', '.join(PERIOD_UNITS)}")


def next_unit_start(moment: datetime, unit: str) -> datetime:
    begin = unit_start(moment, unit)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    index = begin.year * 12 + begin.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1)


def label(moment: datetime, unit: str) -> str:
    if unit == "month":
        return f"{moment.year}-{moment.month:02d}"
    if unit == "quarter":
        return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"
    return str(moment.year)


def split(start: datetime, end: datetime, unit: str | None) -> list[Period]:
    """The periods covering [start, end): one whole-range period when ``unit`` is None."""
    if unit is None:
        return [Period(f"{start.date()}..{(end - timedelta(microseconds=1)).date()}", start, end)]
    periods = []
    cursor = start
    while cursor < end:
        stop = min(next_unit_start(cursor, unit), end)
        periods.append(Period(label(cursor, unit), cursor, stop))
        cursor = stop
    return periods


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)
