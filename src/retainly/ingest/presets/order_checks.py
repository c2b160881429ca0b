"""Rules across the lines of one order (or return), for layouts that repeat its fields per line.

- The order's own fields (customer, date, status, ...) may be left blank on later lines, but
  two lines that give two different values leave it unknown which is right: the line that
  disagrees with the first one is a problem, and with it the whole order is set aside.
- Each line of an order has its own line number: a number used twice would make the store
  refuse the whole file, so the later line is a problem instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retainly.ingest.values import Problems


def conflicting_fields(group: pd.Series, fields: list[tuple[pd.Series, str, pd.Series]], line: np.ndarray,
                       problems: Problems, noun: str = "order") -> None:
    """Each row whose value of an order field differs from the one on the order's first line that has it.

    ``fields`` holds (parsed values, column label, the column's text as read) per field;
    values are compared parsed, so ``4.95`` and ``4.950`` or ``Paid`` and ``completed`` agree."""
    keys = group.to_numpy(dtype=object)
    has_key = group.notna().to_numpy(dtype=bool)
    for values, label, text in fields:
        given = has_key & values.notna().to_numpy(dtype=bool)
        if given.sum() < 2:
            continue
        positions = np.flatnonzero(given)
        frame = pd.DataFrame({"key": keys[positions], "value": values.to_numpy(dtype=object)[positions],
                              "position": positions})
        first = frame.groupby("key", sort=False)[["value", "position"]].transform("first")
        differs = (frame["value"] != first["value"]).to_numpy(dtype=bool)
        if not differs.any():
            continue
        here = frame["position"].to_numpy()[differs]
        first_at = first["position"].to_numpy()[differs]
        shown = text.to_numpy(dtype=object)
        reasons = [f"{noun} {keys[p]} has {label} {shown[f]!r} on line {line[f]}; the lines of {_a(noun)} must "
                   "agree on its fields (or leave them blank)" for p, f in zip(here, first_at)]
        problems.add_rows(here, label, shown[here], reasons)


def line_numbers(group: pd.Series, given: pd.Series, label: str, text: pd.Series, line: np.ndarray,
                 problems: Problems, noun: str = "order") -> pd.Series:
    """Line numbers within each order: the given ones, blanks numbered in file order; a number
    used twice in one order is a problem on the later line."""
    in_file_order = group.groupby(group.to_numpy(dtype=object), sort=False, dropna=False).cumcount() + 1
    numbers = given.astype("Int64").fillna(pd.Series(in_file_order.to_numpy(), index=given.index)).astype("int64")
    has_key = group.notna().to_numpy(dtype=bool)
    frame = pd.DataFrame({"key": group.to_numpy(dtype=object), "line_no": numbers.to_numpy()})[has_key]
    repeated = frame.duplicated(["key", "line_no"], keep="first").to_numpy(dtype=bool)
    if repeated.any():
        # frame's index is each row's position in the file's rows
        first_at = frame.index.to_series().groupby([frame["key"], frame["line_no"]], sort=False).transform("first")
        here, earlier = frame.index.to_numpy()[repeated], first_at.to_numpy()[repeated]
        shown = text.to_numpy(dtype=object)
        reasons = [f"{noun} {group.iloc[p]} has line_no {numbers.iloc[p]} twice (lines {line[e]} and {line[p]}); "
                   f"number each line of {_a(noun)} once" for p, e in zip(here, earlier)]
        problems.add_rows(here, label, shown[here], reasons)
    return numbers


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"
