"""The shop's own attributes per customer ("likes green", "drinks this coffee", a preferred
channel), for audience rules (`attribute(name=likes) = green`) and messages.

A file (CSV, XLSX or Parquet: anything ``read_table`` reads) has a ``customer_id`` column with
the shop's ids and one column per attribute, named as rules will name it. Each non-empty cell
sets that attribute (replacing an earlier value); an empty cell leaves it as it is. The whole
file is checked first and written in one transaction: an unknown customer or a bad attribute
name stops it with the file, line, column and value at fault, and nothing is written.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa

from retainly.errors import InputError
from retainly.ingest.erasure import find_customers
from retainly.ingest.readers import read_table
from retainly.store.backends import Store, repeated

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ID_COLUMN = "customer_id"


def attribute_name(name: str, where: str) -> str:
    """An attribute's name as rules spell it: lower case letters, digits and '_'."""
    cleaned = name.strip().lower().replace(" ", "_").replace("-", "_")
    if not NAME.match(cleaned):
        raise InputError(f"{where}: attribute name {name!r} cannot be used in rules; use letters, digits and '_', "
                         "starting with a letter (at most 63)")
    return cleaned


def set_attributes(store: Store, rows: list[tuple[int, str, str]]) -> int:
    """Set (customer_id, name, value) rows in one transaction; how many were set."""
    if not rows:
        return 0
    now = datetime.now()
    table = pa.table({"customer_id": pa.array([r[0] for r in rows], pa.int64()),
                      "name": pa.array([r[1] for r in rows], pa.string()),
                      "value": pa.array([r[2] for r in rows], pa.string()),
                      "updated_at": repeated(now, pa.timestamp("us"), len(rows))})
    with store.transaction():
        store.stage("stage_attributes", table)
        try:
            store.execute("DELETE FROM customer_attributes WHERE EXISTS (SELECT 1 FROM stage_attributes s WHERE "
                          "s.customer_id = customer_attributes.customer_id AND s.name = customer_attributes.name)")
            store.execute("INSERT INTO customer_attributes (customer_id, name, value, updated_at) "
                          "SELECT customer_id, name, value, updated_at FROM stage_attributes")
        finally:
            store.unstage("stage_attributes")
    return len(rows)


def import_attributes(store: Store, path: str | Path) -> dict:
    """Read an attributes file (see the module doc) and set them: {customers, attributes, values}."""
    raw = read_table(path)
    columns = list(raw.frame.columns)
    if ID_COLUMN not in columns:
        raise InputError(f"{raw.source}: no {ID_COLUMN} column (found: {', '.join(columns) or 'none'}); the first "
                         "row names the columns: customer_id, then one column per attribute")
    names = {column: attribute_name(column, f"{raw.source}, column {column!r}") for column in columns
             if column != ID_COLUMN}
    if not names:
        raise InputError(f"{raw.source}: no attribute columns beside {ID_COLUMN}")
    keys = [("" if pd.isna(key) else str(key)) for key in raw.frame[ID_COLUMN].tolist()]
    for position, key in enumerate(keys):
        if not key.strip():
            raise InputError(f"{raw.where(position)}, column {ID_COLUMN}: empty customer id; give the shop's id")
    found, missing = find_customers(store, sorted(set(keys)))
    if missing:
        position = keys.index(missing[0])
        raise InputError(f"{raw.where(position)}, column {ID_COLUMN}: no customer {missing[0]!r} in the store"
                         + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                         + "; import the customers first; nothing was set")
    values: dict[tuple[int, str], str] = {}  # a customer listed twice: the later line wins
    for column, name in names.items():
        for key, value in zip(keys, raw.frame[column].tolist()):
            if not pd.isna(value) and str(value).strip():
                values[(found[key], name)] = str(value).strip()
    rows = [(customer, name, value) for (customer, name), value in values.items()]
    set_attributes(store, rows)
    return {"customers": len(set(found.values())), "attributes": sorted(names.values()), "values": len(rows)}
