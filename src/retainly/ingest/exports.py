"""Files that are several exports concatenated, and orders that arrive again.

A shop that exports "last year" and "this year" and glues the files together repeats the
days where the two overlap. Such a file is in time order except where the next export
starts and time jumps back. When a file's rows are in time order apart from a few such
points (fewer than one per ten rows), each point starts a new export, and an order found in
several exports keeps only its copy from the last one — a later export replaces an earlier
copy as a whole, exactly as a later import does. Repeated lines inside one copy stay: they
are genuine. A file in no particular order is one export.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def export_numbers(placed_at: pd.Series) -> np.ndarray:
    """The export (0, 1, ...) each row belongs to, by position."""
    times = placed_at.ffill().bfill().to_numpy(dtype="datetime64[us]")
    count = len(times)
    if count < 2:
        return np.zeros(count, dtype=np.int64)
    starts = np.flatnonzero(times[1:] < times[:-1]) + 1
    if len(starts) == 0 or len(starts) * 10 > count:
        return np.zeros(count, dtype=np.int64)
    export = np.zeros(count, dtype=np.int64)
    export[starts] = 1
    return np.cumsum(export)


def keep_last_copy(rows: pd.DataFrame, order_column: str, time_column: str) -> pd.DataFrame:
    """Drop every copy of an order except the one from the latest export in the file."""
    export = export_numbers(rows[time_column])
    if len(export) == 0 or export[-1] == 0:
        return rows
    last = pd.Series(export, index=rows.index).groupby(rows[order_column].to_numpy(), dropna=False).transform("max")
    return rows[export == last.to_numpy()]
