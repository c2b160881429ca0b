"""One import, start to finish: read, type, set bad rows aside, merge, record.

The store changes in exactly one transaction at the end, so an import killed at any moment
leaves it as it was. Re-importing a file already imported with the same options is
recognised by its content hash and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from retainly.errors import ImportAborted, InputError
from retainly.ingest.load import LedgerEntry, load_batch
from retainly.ingest.mapping import Mapping, load_mapping
from retainly.ingest.presets import Options, Preset, detect_preset, get_preset
from retainly.ingest.readers import RawTable, location, read_table
from retainly.ingest.values import Problems
from retainly.results.data import ImportResult
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
) -> ImportResult:
    """Import one file of ``kind`` rows into ``store``; see the module docstring."""
    step = progress or (lambda _name: None)
    if kind not in IMPORT_KINDS:
        raise InputError(f"unknown import kind {kind!r}; choose one of: {', '.join(IMPORT_KINDS)}")
    chosen = get_preset(preset) if preset and preset != "auto" else None
    recipe: Mapping | None = load_mapping(mapping) if mapping else None
    started = datetime.now().replace(microsecond=0)
    step("reading")
    raw = read_table(path, encoding=encoding or (recipe.encoding if recipe else None))
    if recipe:
        raw = recipe.apply(raw)
        chosen = chosen or get_preset("retainly")
    chosen = chosen or detect_preset(kind, raw)
    options = recipe.options if recipe else Options()
    options_key = json.dumps({"preset": chosen.name, "mapping": recipe.fingerprint if recipe else None,
                              "encoding": encoding}, sort_keys=True)

    previous = _previous_import(store, kind, raw.content_hash, options_key)
    if previous is not None and not force:
        return ImportResult(source=raw.source, kind=kind, preset=chosen.name, rows_read=len(raw.frame), rows_accepted=0,
                            rows_rejected=0, skipped_as_duplicate_of=previous)

    step("checking")
    problems = Problems()
    typed = chosen.parse(kind, raw, problems, options)
    rejected_positions = _rejected_positions(chosen, kind, typed, problems)
    rejects = _rejects_table(raw, problems, rejected_positions, chosen.group_column(kind), typed)
    if strict and len(rejects):
        first = rejects.iloc[0]
        raise ImportAborted(f"{_describe(first)}; `strict` stopped the import, the store is unchanged")
    keep = np.ones(len(typed), dtype=bool)
    keep[rejected_positions] = False
    accepted = typed[keep]
    if accepted.empty:
        raise InputError(
            f"{raw.source}: no row could be imported ({len(rejects)} rejected; first: {_describe(rejects.iloc[0])})"
        )
    batch = chosen.build(kind, accepted, options)

    step("loading")
    rejects_file = _write_rejects(raw, rejects, rejects_dir) if len(rejects) else None
    ledger = LedgerEntry(kind, raw.source, chosen.name, raw.content_hash, options_key, len(raw.frame) + _malformed(raw),
                         int(keep.sum()), len(rejects), started)
    import_id = load_batch(store, batch, ledger, rejects)
    return ImportResult(source=raw.source, kind=kind, preset=chosen.name, rows_read=ledger.rows_read,
                        rows_accepted=ledger.rows_accepted, rows_rejected=ledger.rows_rejected, import_id=import_id,
                        rejects_file=rejects_file, rejects=rejects, notes=batch.notes,
                        reject_examples=[_describe(row) for _, row in rejects.head(REJECTS_DESCRIBED).iterrows()])


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


def _rejects_table(raw: RawTable, problems: Problems, rejected: np.ndarray, group: str | None,
                   typed: pd.DataFrame) -> pd.DataFrame:
    """One row per rejected input row: where, which column, which value, why; in file order."""
    own = problems.frame()
    own = own[own["position"].isin(rejected)]
    parts = [pd.DataFrame({
        "line": raw.line[own["position"].to_numpy()],
        "sheet": [raw.sheet_at(p) for p in own["position"]],
        "column": own["column"].to_numpy(), "value": own["value"].to_numpy(), "reason": own["reason"].to_numpy(),
        "position": own["position"].to_numpy(),
    })]
    followers = np.setdiff1d(rejected, own["position"].to_numpy())
    if len(followers):
        first_bad_line: dict = {}
        for key, line in sorted(zip(typed[group].iloc[own["position"]].to_numpy(), raw.line[own["position"]]),
                                key=lambda pair: pair[1]):
            first_bad_line.setdefault(key, line)
        keys = typed[group].to_numpy(dtype=object)[followers]
        parts.append(pd.DataFrame({
            "line": raw.line[followers], "sheet": [raw.sheet_at(p) for p in followers],
            "column": None, "value": None,
            "reason": [f"another line of order {k} was rejected (line {first_bad_line.get(k)})" for k in keys],
            "position": followers,
        }))
    if raw.malformed is not None:
        parts.append(pd.DataFrame({
            "line": raw.malformed["line"].to_numpy(), "sheet": None, "column": None,
            "value": raw.malformed["value"].to_numpy(), "reason": raw.malformed["reason"].to_numpy(), "position": -1,
        }))
    table = pd.concat(parts, ignore_index=True).sort_values("line", kind="stable").reset_index(drop=True)
    table.insert(0, "source", raw.source)
    return table


def _describe(reject: pd.Series) -> str:
    where = location(reject["source"], int(reject["line"]), reject["sheet"] if isinstance(reject["sheet"], str) else None,
                     "line" if not isinstance(reject["sheet"], str) else "row")
    column = f": column {reject['column']}" if isinstance(reject["column"], str) else ""
    value = f": value {str(reject['value'])!r}" if isinstance(reject["value"], str) else ""
    return f"{where}{column}{value}: {reject['reason']}"


def _write_rejects(raw: RawTable, rejects: pd.DataFrame, rejects_dir: Path | None) -> str:
    """Bad rows, as they were, plus where and why, beside the input (or in ``rejects_dir``)."""
    source = Path(raw.source)
    stem = source.name.split(".")[0]
    folder = rejects_dir or source.parent
    target = folder / f"{stem}.rejects.csv"
    original = raw.frame.iloc[rejects["position"].clip(lower=0).to_numpy()].reset_index(drop=True)
    original[rejects["position"].to_numpy() < 0] = None
    out = pd.concat([rejects[["line", "sheet", "column", "value", "reason"]].reset_index(drop=True), original], axis=1)
    try:
        out.to_csv(target, index=False)
    except OSError:
        target = Path.cwd() / f"{stem}.rejects.csv"
        out.to_csv(target, index=False)
    return str(target)
