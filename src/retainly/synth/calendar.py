"""The shop's calendar: seasonal demand, the sale periods, and the time warp built from them.

Time inside the generator is measured in days since ``start`` midnight (floats), turned
into whole seconds only when timestamps are written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from retainly.errors import InputError
from retainly.synth.arrays import id_strings, pick, text

# Relative demand per calendar month (Jan..Dec): the Christmas quarter sells most.
MONTH_DEMAND = np.array([0.85, 0.80, 0.90, 0.90, 0.90, 0.85, 0.90, 0.85, 0.95, 1.00, 1.45, 1.65])
# Relative demand per weekday (Mon..Sun): Sunday evening is the online shop's busiest time.
WEEKDAY_DEMAND = np.array([1.05, 1.00, 1.00, 0.98, 0.95, 0.85, 1.17])
# Relative demand per hour of day, 0..23 (local time).
HOUR_DEMAND = np.array(
    [0.3, 0.15, 0.1, 0.08, 0.08, 0.12, 0.3, 0.6, 0.9, 1.1, 1.2, 1.3,
     1.4, 1.3, 1.2, 1.2, 1.25, 1.35, 1.5, 1.8, 2.0, 1.9, 1.4, 0.8]
)
# Everybody buys a little more while a sale runs.
SALE_UPLIFT = 1.25
# Acquisition grows by this factor from the first to the last day (a growing shop).
ACQUISITION_GROWTH = 3.0

# (name, first day, days, discount rate, code stem); Black Friday week is placed per year.
SALES = (
    ("Winter sale", (1, 2), 21, 0.20, "WINTER"),
    ("Spring sale", (3, 18), 14, 0.15, "SPRING"),
    ("Summer sale", (7, 1), 21, 0.20, "SUMMER"),
    ("Black Friday week", None, 8, 0.25, "BLACKFRIDAY"),
)


@dataclass(frozen=True)
class Calendar:
    """Day grid of ``[start, end]`` with demand, the warp and the sale periods."""

    start: date
    days: int  # number of calendar days, end inclusive
    demand: np.ndarray  # relative purchase intensity per day (mean 1)
    warp_knots: np.ndarray  # operational time at each day boundary (days + 1 values)
    acquisition_knots: np.ndarray  # cumulative acquisition intensity at each day boundary
    sale_start: np.ndarray  # sale periods as [start, stop) in days since start, sorted
    sale_stop: np.ndarray
    sale_rate: np.ndarray
    sale_code: tuple[str, ...]
    sale_name: tuple[str, ...]
    sale_first: tuple[date, ...]
    sale_last: tuple[date, ...]

    def to_operational(self, t: np.ndarray) -> np.ndarray:
        """Calendar days -> operational days (the cumulative demand)."""
        return np.interp(t, np.arange(self.days + 1), self.warp_knots)

    def to_calendar(self, operational: np.ndarray) -> np.ndarray:
        """Operational days -> calendar days: a homogeneous process becomes a seasonal one."""
        return np.interp(operational, self.warp_knots, np.arange(self.days + 1, dtype=float))

    def sample_acquisitions(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Sorted acquisition times following growth x seasonal demand."""
        u = np.sort(rng.random(size)) * self.acquisition_knots[-1]
        return np.interp(u, self.acquisition_knots, np.arange(self.days + 1, dtype=float))

    def sale_at(self, t: np.ndarray) -> np.ndarray:
        """Index of the sale period containing each time, or -1."""
        if len(self.sale_start) == 0:
            return np.full(len(t), -1)
        index = np.searchsorted(self.sale_start, t, side="right") - 1
        inside = (index >= 0) & (t < self.sale_stop[index.clip(0)])
        return np.where(inside, index, -1)

    def move_into_sales(self, rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
        """Move each time to a uniformly drawn moment of its nearest sale period."""
        if len(self.sale_start) == 0:
            return t
        last = len(self.sale_start) - 1
        previous = np.searchsorted(self.sale_start, t, side="right") - 1  # -1: none started yet
        following = previous + 1
        gap_previous = np.where(previous >= 0, t - self.sale_stop[previous.clip(0)], np.inf)
        gap_following = np.where(following <= last, self.sale_start[following.clip(0, last)] - t, np.inf)
        nearest = np.where(gap_following < gap_previous, following, previous).clip(0, last)
        inside = self.sale_at(t) >= 0
        span = self.sale_stop[nearest] - self.sale_start[nearest]
        moved = self.sale_start[nearest] + rng.random(len(t)) * span
        return np.where(inside, t, moved)

    def time_of_day(self, rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
        """Keep each time's day, redraw its time of day from the hourly demand profile."""
        cdf = np.cumsum(HOUR_DEMAND) / HOUR_DEMAND.sum()
        hour = np.searchsorted(cdf, rng.random(len(t)), side="right").clip(0, 23)
        return np.floor(t) + (hour + rng.random(len(t))) / 24.0

    def promotions(self) -> pd.DataFrame:
        """The promotion calendar as the canonical ``promotions`` entity."""
        n = len(self.sale_code)
        return pd.DataFrame(
            {
                "promotion_id": text(id_strings("P", np.arange(1, n + 1), 4)),
                "name": text(pick(self.sale_name, np.arange(n))),
                "starts_on": pd.Series(np.array(self.sale_first, dtype="datetime64[D]").astype("datetime64[ns]")),
                "ends_on": pd.Series(np.array(self.sale_last, dtype="datetime64[D]").astype("datetime64[ns]")),
                "promo_code": text(pick(self.sale_code, np.arange(n))),
                "discount_rate": self.sale_rate.astype(float),
            }
        )


def black_friday(year: int) -> date:
    """The day after the fourth Thursday of November."""
    first = date(year, 11, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(days=22)


def build_calendar(start: date, end: date) -> Calendar:
    days = (end - start).days + 1
    if days < 1:
        raise InputError(f"`end` must be on or after `start` ({start}), got {end}", parameter="end")
    day_dates = np.datetime64(start, "D") + np.arange(days)
    month = day_dates.astype("datetime64[M]").astype(int) % 12
    weekday = (day_dates.astype(int) + 3) % 7  # 1970-01-01 was a Thursday
    periods = _sale_periods(start, end)
    in_sale = np.zeros(days, dtype=bool)
    for first, last, *_ in periods:
        in_sale[max((first - start).days, 0): (last - start).days + 1] = True
    demand = MONTH_DEMAND[month] * WEEKDAY_DEMAND[weekday] * np.where(in_sale, SALE_UPLIFT, 1.0)
    demand = demand / demand.mean()
    growth = ACQUISITION_GROWTH ** (np.arange(days) / max(days - 1, 1))
    sale_start = np.array([max((p[0] - start).days, 0) for p in periods], dtype=float)
    sale_stop = np.array([min((p[1] - start).days + 1, days) for p in periods], dtype=float)
    return Calendar(
        start=start,
        days=days,
        demand=demand,
        warp_knots=np.concatenate(([0.0], np.cumsum(demand))),
        acquisition_knots=np.concatenate(([0.0], np.cumsum(demand * growth))),
        sale_start=sale_start,
        sale_stop=sale_stop,
        sale_rate=np.array([p[2] for p in periods], dtype=float),
        sale_code=tuple(p[3] for p in periods),
        sale_name=tuple(p[4] for p in periods),
        sale_first=tuple(p[0] for p in periods),
        sale_last=tuple(p[1] for p in periods),
    )


def _sale_periods(start: date, end: date) -> list[tuple[date, date, float, str, str]]:
    """(first day, last day, rate, code, name) of every sale overlapping [start, end], by date."""
    periods = []
    for year in range(start.year, end.year + 1):
        for name, month_day, length, rate, stem in SALES:
            first = black_friday(year) - timedelta(days=4) if month_day is None else date(year, *month_day)
            last = first + timedelta(days=length - 1)
            if last >= start and first <= end:
                periods.append((first, last, rate, f"{stem}{year % 100:02d}", f"{name} {year}"))
    return sorted(periods)
