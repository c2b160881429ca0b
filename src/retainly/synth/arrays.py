"""Vectorized building blocks: id strings, text columns, fast sorts, group positions, timestamps.

Text columns are built in Arrow and handed to pandas as its default ``str`` dtype (Arrow
backed), which costs no copy; formatting millions of ids in Python would dominate the run.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

SECONDS_PER_DAY = 86_400


def id_strings(prefix: str, numbers: np.ndarray, width: int, valid: np.ndarray | None = None) -> pa.Array:
    """``prefix`` + zero-padded ``numbers`` (e.g. "O00000042"); null where ``valid`` is False.

    Every string has the same length, widened past ``width`` when a number needs it, so the
    Arrow buffers are written directly: formatting millions of ids in Python would dominate.
    """
    numbers = np.asarray(numbers)
    size = len(numbers)
    if valid is not None and not valid.all():
        numbers = numbers[valid]  # null slots take no bytes
    if len(numbers):
        width = max(width, len(str(int(numbers.max()))))
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    row = len(head) + width
    # One contiguous row of bytes per character position, transposed into the Arrow buffer
    # at the end: much faster than writing strided columns of a row-major matrix.
    columns = np.empty((row, len(numbers)), dtype=np.uint8)
    columns[: len(head)] = head[:, None]
    small = len(numbers) == 0 or (numbers.min() >= 0 and numbers.max() < 2**32)
    rest = numbers.astype(np.uint32 if small else np.uint64)
    for position in range(row - 1, len(head) - 1, -1):
        quotient = rest // 10
        np.add(rest - quotient * 10, 48, out=columns[position], casting="unsafe")
        rest = quotient
    del rest
    chars = np.ascontiguousarray(columns.T)
    del columns
    # large_string (64-bit offsets) is what pandas keeps its ``str`` columns in: no conversion.
    if len(numbers) == size:
        offsets = np.arange(0, (size + 1) * row, row, dtype=np.int64)
    else:
        offsets = np.zeros(size + 1, dtype=np.int64)
        np.cumsum(valid * np.int64(row), out=offsets[1:])
    return pa.Array.from_buffers(
        pa.large_string(), size, [_validity(valid), pa.py_buffer(offsets), pa.py_buffer(chars)]
    )


def ids(prefix: str, index: np.ndarray, count: int, width: int) -> pa.Array:
    """Ids of items numbered from 1 (index 0 is ``prefix`` + "0...01"); a negative index gives null.

    The width fits all ``count`` items, so any subset gets the same strings as the whole.
    """
    index = np.asarray(index)
    valid = index >= 0
    return id_strings(prefix, index + 1, max(width, len(str(count))), None if valid.all() else valid)


def customer_refs(index: np.ndarray, customers: int) -> pa.Array:
    """Customer external ids, "C0000001" for customer number 0; null for a negative index."""
    return ids("C", index, customers, 7)


def order_refs(index: np.ndarray, orders: int) -> pa.Array:
    """Order ids, "O00000001" for the first order; null for a negative index."""
    return ids("O", index, orders, 8)


def pick(values, index: np.ndarray) -> pa.Array:
    """``values[index]`` for a short list of strings, as an Arrow array; a negative index gives null."""
    values = pa.array(list(values), type=pa.large_string()) if not isinstance(values, pa.Array) else (
        values.cast(pa.large_string()))
    index = np.asarray(index)
    valid = index >= 0
    codes = pa.Array.from_buffers(
        pa.int32(), len(index), [_validity(valid), pa.py_buffer(np.where(valid, index, 0).astype(np.int32))]
    )
    # Decoding a dictionary is several times faster than a take of the same strings.
    return pa.DictionaryArray.from_arrays(codes, values).cast(values.type)


def _validity(valid: np.ndarray | None):
    """An Arrow validity bitmap from a boolean mask (None: all valid)."""
    if valid is None or valid.all():
        return None
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def frame(columns: dict) -> pd.DataFrame:
    """A DataFrame over freshly built columns, without copying or consolidating them.

    Pandas' default copies every numeric column into shared blocks, which costs seconds and
    gigabytes at a million customers; the arrays here belong to nobody else.
    """
    return pd.DataFrame(columns, copy=False)


def text(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    """An Arrow string array as a pandas ``str`` column (Arrow backed, no copy)."""
    return values.to_pandas()


def join(*parts, separator: str = "") -> pa.Array:
    """Element-wise concatenation of Arrow (large) string arrays and Python strings."""
    parts = [pa.scalar(p, pa.large_string()) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*parts, pa.scalar(separator, pa.large_string()))


def timestamps(start: date, seconds: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """Naive datetime64[ns] column from whole seconds since ``start`` midnight (NaT where missing)."""
    origin = int((np.datetime64(start, "s") - np.datetime64(0, "s")).astype(np.int64))
    nanoseconds = (np.asarray(seconds, dtype=np.int64) + origin) * 1_000_000_000
    if missing is not None:
        nanoseconds[missing] = np.iinfo(np.int64).min  # NaT
    return pd.Series(nanoseconds.view("datetime64[ns]"), copy=False)


def sort_order(keys: np.ndarray) -> np.ndarray:
    """Stable argsort of non-negative integer keys.

    Packs (key, position) into one int64 and sorts values, which NumPy does several times
    faster than an argsort; falls back to a stable argsort when the pair does not fit.
    """
    keys = np.asarray(keys, dtype=np.int64)
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    position_bits = max(1, int(n - 1).bit_length())
    top = int(keys.max())
    if keys.min() < 0 or top.bit_length() + position_bits > 62:
        return np.argsort(keys, kind="stable")
    packed = (keys << position_bits) | np.arange(n, dtype=np.int64)
    packed.sort()
    return packed & ((1 << position_bits) - 1)


def to_seconds(days: np.ndarray, horizon_days: int) -> np.ndarray:
    """Float days since start -> whole seconds, kept inside the ``horizon_days`` window."""
    # The small nudge keeps a time that was whole seconds (s / 86400 * 86400) on its second.
    seconds = np.floor(np.asarray(days) * SECONDS_PER_DAY + 1e-4).astype(np.int64)
    return seconds.clip(0, horizon_days * SECONDS_PER_DAY - 1)


def sort_pairs(major: np.ndarray, minor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort non-negative integer pairs by (major, minor); fast when both fit one int64."""
    major = np.asarray(major, dtype=np.int64)
    minor = np.asarray(minor, dtype=np.int64)
    if len(major) == 0:
        return major, minor
    bits = max(1, int(minor.max()).bit_length())
    if int(major.max()).bit_length() + bits > 62 or major.min() < 0 or minor.min() < 0:
        order = np.lexsort((minor, major))
        return major[order], minor[order]
    packed = np.sort((major << bits) | minor)
    return packed >> bits, packed & ((1 << bits) - 1)


def group_starts(groups: np.ndarray) -> np.ndarray:
    """Boolean mask of the first row of each run in an array sorted by group."""
    first = np.ones(len(groups), dtype=bool)
    first[1:] = groups[1:] != groups[:-1]
    return first


def rank_in_group(groups: np.ndarray) -> np.ndarray:
    """0-based position of each row within its run of equal ``groups`` (array sorted by group)."""
    n = len(groups)
    starts = np.flatnonzero(group_starts(groups)) if n else np.zeros(0, dtype=np.int64)
    run_start = np.repeat(starts, np.diff(np.append(starts, n)))
    return np.arange(n, dtype=np.int64) - run_start


def cumsum_in_group(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` restarting at each run of equal ``groups`` (sorted by group)."""
    total = np.cumsum(values)
    n = len(values)
    if n == 0:
        return total
    starts = np.flatnonzero(group_starts(groups))
    before = np.concatenate(([0.0], total[starts[1:] - 1])) if len(starts) > 1 else np.zeros(1)
    return total - np.repeat(before, np.diff(np.append(starts, n)))


def choose(rng: np.random.Generator, weights, size: int) -> np.ndarray:
    """Indices drawn with probability proportional to ``weights`` (inverse CDF, vectorized)."""
    cdf = np.cumsum(np.asarray(weights, dtype=float))
    return np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right").clip(0, len(cdf) - 1)


def money(values: np.ndarray) -> np.ndarray:
    """Round to cents (half away from zero, so 0.125 -> 0.13 as a till would)."""
    values = np.asarray(values, dtype=float)
    cents = np.abs(values) * 100
    cents += 0.5 + 1e-9
    np.floor(cents, out=cents)
    cents /= 100
    return np.copysign(cents, values, out=cents)
