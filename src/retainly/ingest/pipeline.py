"""One import, start to finish: read, type, set bad rows aside, merge, record.

The store changes in exactly one transaction at the end, so an import killed at any moment
leaves it as it was. Re-importing a file already imported with the same options is
recognised by its content hash and changes nothing. Everything the store could refuse (a
value too large, a NUL byte, a repeated line number) is checked here first, row by row, so
that one bad row never fails the file and both engines accept the same rows.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from retainly.errors import ImportAborted, InputError
from retainly.ingest.checks import merged_cells, nul_bytes, order_too_big, oversized_orders
from retainly.ingest.load import LedgerEntry, load_batch
from retainly.ingest.mapping import Mapping, load_mapping
from retainly.ingest.presets import Options, Preset, detect_preset, get_preset, refuse_other_kind
from retainly.ingest.readers import RawTable, read_table
from retainly.ingest.rejects import (
    describe, is_rejects_file, rejects_table, without_reasons, write_rejects,
)
from retainly.ingest.values import DateRange, Problems
from retainly.results.data import ImportResult
from retainly.settings import ImportSettings
from retainly.store.backends import Store

IMPORT_KINDS = ("orders", "customers", "products", "returns", "spend", "interactions", "events", "promotions")


# How many rejected rows an import describes in words for a shell to print (all are in the file).
REJECTS_DESCRIBED = 5


def import_file(
    store: Store,
    kind: str,
    path: str | Path,
    *,
    preset: str | None = None,
    mapping: str | Path | None = None,
    encoding: str | None = None,
    strict: bool = False,
    force: bool = False,
    rejects_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    settings: ImportSettings | None = None,
    today: date | None = None,
    rows_read: Callable[[int], None] | None = None,
    source: str | None = None,
) -> ImportResult:
    """Import one file of ``kind`` rows into ``store``; see the module docstring.

    ``settings`` (the [import] section of the settings file) and ``today`` set the range of
    plausible dates; ``today`` defaults to the day the import runs. ``progress`` hears each step
    (reading, checking, loading) and ``rows_read`` the rows the file holds once it is read.
    ``source`` names the file in the ledger and the rejects instead of ``path`` (an upload saved
    to a temporary file keeps the name it was sent with)."""
    step = progress or (lambda _name: None)
    settings = settings or ImportSettings()
    if kind not in IMPORT_KINDS:
        raise InputError(f"unknown import kind {kind!r}; choose one of: {', '.join(IMPORT_KINDS)}")
    chosen = get_preset(preset) if preset and preset != "auto" else None
    recipe: Mapping | None = load_mapping(mapping) if mapping else None
    started = datetime.now().replace(microsecond=0)
    step("reading")
    raw = read_table(path, encoding=encoding or (recipe.encoding if recipe else None))
    if source is not None:
        raw = dataclasses.replace(raw, source=source)
    if rows_read is not None:
        rows_read(len(raw.frame))
    if is_rejects_file(raw):
        raw = without_reasons(raw)
    if recipe:
        raw = recipe.apply(raw)
        chosen = chosen or get_preset("retainly")
    if chosen is None:
        refuse_other_kind(kind, raw)
    chosen = chosen or detect_preset(kind, raw)
    dates = DateRange.for_events(settings.earliest_date, settings.latest_days_ahead, today or date.today())
    options = dataclasses.replace(recipe.options if recipe else Options(), dates=dates)
    options_key = json.dumps({"preset": chosen.name, "mapping": recipe.fingerprint if recipe else None,
                              "encoding": encoding, **_date_options(settings)}, sort_keys=True)

    previous = _previous_import(store, kind, raw.content_hash, options_key)
    if previous is not None and not force:
        return ImportResult(source=raw.source, kind=kind, preset=chosen.name, rows_read=len(raw.frame), rows_accepted=0,
                            rows_rejected=0, skipped_as_duplicate_of=previous)

    step("checking")
    problems = Problems()
    nul_bytes(raw, problems)
    merged_cells(raw, problems)
    typed = chosen.parse(kind, raw, problems, options)
    group = chosen.group_column(kind)
    keep, batch = _accept(chosen, kind, typed, problems, options)
    rejected = np.flatnonzero(~keep)
    rejects = rejects_table(raw, problems, rejected, group, typed)
    if strict and len(rejects):
        first = rejects.iloc[0]
        raise ImportAborted(f"{describe(first)}; `strict` stopped the import, the store is unchanged")
    if batch is None:
        raise InputError(
            f"{raw.source}: no row could be imported ({len(rejects)} rejected; first: {describe(rejects.iloc[0])})"
        )

    step("loading")
    rejects_file = write_rejects(raw, rejects, rejects_dir) if len(rejects) else None
    ledger = LedgerEntry(kind, raw.source, chosen.name, raw.content_hash, options_key, len(raw.frame) + _malformed(raw),
                         int(keep.sum()), len(rejects), started)
    import_id = load_batch(store, batch, ledger, rejects)
    return ImportResult(source=raw.source, kind=kind, preset=chosen.name, rows_read=ledger.rows_read,
                        rows_accepted=ledger.rows_accepted, rows_rejected=ledger.rows_rejected, import_id=import_id,
                        rejects_file=rejects_file, rejects=rejects, notes=[*raw.notes, *batch.notes],
                        reject_examples=[describe(row) for _, row in rejects.head(REJECTS_DESCRIBED).iterrows()])


def _accept(preset: Preset, kind: str, typed: pd.DataFrame, problems: Problems, options: Options):
    """The rows kept (a mask) and their batch (None when none is kept).

    An order whose amounts add up past what the store holds is found only once built: its
    rows then join the rejected ones and the batch is built again without them."""
    for _attempt in range(2):
        keep = np.ones(len(typed), dtype=bool)
        keep[_rejected_positions(preset, kind, typed, problems)] = False
        if not keep.any():
            return keep, None
        batch = preset.build(kind, typed[keep], options)
        group = preset.group_column(kind)
        too_big = oversized_orders(batch) if group is not None else []
        if not too_big:
            return keep, batch
        keys = typed[group].to_numpy(dtype=object)
        positions = np.flatnonzero(pd.Series(keys).isin(too_big).to_numpy())
        first_lines = pd.Series(positions).groupby(keys[positions], sort=False).first().to_numpy()
        problems.add_rows(first_lines, None, None, [order_too_big(keys[p]) for p in first_lines])
    raise AssertionError("an order too big for the store was still accepted")  # pragma: no cover


def _date_options(settings: ImportSettings) -> dict:
    """The [import] dates, when not the defaults, tell two imports of one file apart (defaults: as before)."""
    changed = {k: str(v) for k, v in dataclasses.asdict(settings).items()
               if v != getattr(ImportSettings(), k)}
    return {"import": changed} if changed else {}


def _malformed(raw: RawTable) -> int:
    return 0 if raw.malformed is None else len(raw.malformed)


def _previous_import(store: Store, kind: str, content_hash: str, options_key: str) -> int | None:
    row = store.fetchone(
        "SELECT MAX(import_id) FROM imports WHERE kind = ? AND content_hash = ? AND options = ? AND status = 'completed'",
        (kind, content_hash, options_key),
    )
    return None if row is None or row[0] is None else int(row[0])


def _rejected_positions(preset: Preset, kind: str, typed: pd.DataFrame, problems: Problems) -> np.ndarray:
    """Rows with a problem, and every other row of the same order (no half orders)."""
    bad = problems.bad_positions()
    group = preset.group_column(kind)
    if len(bad) == 0 or group is None:
        return bad
    keys = typed[group].to_numpy(dtype=object)
    bad_keys = {k for k in keys[bad] if k is not None and not pd.isna(k)}
    in_bad_group = np.fromiter((k in bad_keys for k in keys), dtype=bool, count=len(keys)) if bad_keys else \
        np.zeros(len(keys), dtype=bool)
    return np.union1d(bad, np.flatnonzero(in_bad_group))
