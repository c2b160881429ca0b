"""A generated shop as export files in the native layout, or straight into a store."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pandas as pd

from retainly.ingest.batch import Batch
from retainly.ingest.load import LedgerEntry, load_batch
from retainly.ingest.presets.native import native_frame
from retainly.store.backends import Store
from retainly.synth import generate_shop
from retainly.synth.dirty import make_dirty

# Import order: people and products first, then what refers to them.
FILE_KINDS = ("customers", "products", "promotions", "spend", "orders", "returns", "interactions", "events")


def write_shop(batch: Batch, folder: Path, file_format: str = "csv", dirty: bool = False, seed: int = 0) -> list[Path]:
    """Write one native file per entity (and the hidden truth under truth/); return the import files."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    entities = batch.entities()
    for kind in FILE_KINDS:
        if kind not in entities:
            continue
        frame = native_frame(kind, batch)
        if dirty and kind == "orders":
            text = frame.astype("string")
            frame, faults = make_dirty(text, seed)
            faults.to_csv(folder / "orders.faults.csv", index=False)
        written.append(_write(frame, folder / f"{kind}.{file_format}", file_format))
    truth = folder / "truth"
    truth.mkdir(exist_ok=True)
    for name in ("truth", "product_truth"):
        if name in entities:
            entities[name].to_csv(truth / f"{name}.csv", index=False)
    return written


def _write(frame: pd.DataFrame, path: Path, file_format: str) -> Path:
    if file_format == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S")
    return path


def load_generated(store: Store, batch: Batch, customers: int, seed: int) -> int:
    """Load a generated shop straight into the store, in one transaction."""
    ledger = LedgerEntry(
        kind="generated",
        source=f"generated shop: {customers} customers, seed {seed}",
        preset="generator",
        content_hash=hashlib.sha256(f"generate:{customers}:{seed}".encode()).hexdigest(),
        options="{}",
        rows_read=batch.row_count(),
        rows_accepted=batch.row_count(),
        rows_rejected=0,
        started_at=datetime.now().replace(microsecond=0),
    )
    return load_batch(store, batch, ledger)


def generate_into(store: Store, customers: int, seed: int, progress: Callable[[str], None] | None = None) -> int:
    batch = generate_shop(customers, seed, progress=progress)
    if progress:
        progress("loading")
    return load_generated(store, batch, customers, seed)


__all__ = ["FILE_KINDS", "generate_into", "load_generated", "write_shop"]
