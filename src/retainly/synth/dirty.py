"""Deterministic corruption of a native orders file, for testing how imports handle bad rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retainly.errors import InputError

# (column, value written, fault): what real exports get wrong.
FAULTS: tuple[tuple[str, str, str], ...] = (
    ("placed_at", "2024-13-45", "unparseable_date"),
    ("placed_at", "yesterday", "unparseable_date"),
    ("unit_price", "12,3,4", "garbage_number"),
    ("unit_price", "abc", "garbage_number"),
    ("unit_price", "-5.00", "negative_price"),
    ("quantity", "two", "non_integer_quantity"),
    ("order_id", "", "empty_order_id"),
)


def make_dirty(orders_text: pd.DataFrame, seed: int, share: float = 0.01) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Corrupt about ``share`` of the rows, one cell per row, with a deterministic mix of faults.

    ``orders_text`` is an orders file in the native layout, every cell a string. Returns the
    corrupted copy and the faults: ``row_index`` (0-based position), ``column``, ``value``
    (what was written) and ``fault``. Every listed cell differs from the original, and no
    other cell does.
    """
    if not 0.0 <= share <= 1.0:
        raise InputError(f"`share` must be between 0 and 1, got {share}", parameter="share")
    usable = [f for f in FAULTS if f[0] in orders_text.columns]
    dirty = orders_text.copy()
    n_rows = len(orders_text)
    count = min(int(round(share * n_rows)), n_rows) if usable else 0
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n_rows, size=count, replace=False)) if count else np.zeros(0, dtype=np.int64)
    fault = rng.integers(0, len(usable), count) if count else np.zeros(0, dtype=np.int64)

    # A fault that would write the value already there moves on to the next kind, so that
    # every listed fault changes its cell; a row no fault can change is left alone.
    changed = np.zeros(count, dtype=bool)
    for _ in range(len(usable)):
        pending = np.flatnonzero(~changed)
        if len(pending) == 0:
            break
        for code, (column, value, _name) in enumerate(usable):
            here = pending[fault[pending] == code]
            # A missing cell reads as "" once written to a file, so "" would not change it.
            original = orders_text[column].iloc[rows[here]].astype("object")
            differs = original.where(original.notna(), "").astype(str).to_numpy() != value
            changed[here[differs]] = True
        still = np.flatnonzero(~changed)
        fault[still] = (fault[still] + 1) % len(usable)
    rows, fault = rows[changed], fault[changed]

    for code, (column, value, _name) in enumerate(usable):
        here = rows[fault == code]
        if len(here):
            dirty.iloc[here, dirty.columns.get_loc(column)] = value
    faults = pd.DataFrame(
        {
            "row_index": rows.astype(np.int64),
            "column": pd.Series([usable[f][0] for f in fault], dtype="str"),
            "value": pd.Series([usable[f][1] for f in fault], dtype="str"),
            "fault": pd.Series([usable[f][2] for f in fault], dtype="str"),
        }
    )
    return dirty, faults
