"""Mapping files: read any other export layout by naming its columns and values.

```toml
[file]                      # all optional
encoding = "cp1252"
date_format = "%d/%m/%Y %H:%M"
currency = "EUR"

[columns]                   # retainly field = the header in your file
order_id = "Order No"
placed_at = "Date"
quantity = "Qty"
unit_price = "Price"

[values.status]             # per retainly field: your value = retainly's value
"Shipped" = "completed"
"Storno" = "cancelled"
```

The mapped file is then read as the native layout (``docs/presets.md`` lists its fields).
"""

from __future__ import annotations

import dataclasses
import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from retainly.errors import MappingError, NotFoundError
from retainly.ingest.presets.base import Options
from retainly.ingest.readers import RawTable
from retainly.ingest.values import fold_header

_FILE_KEYS = {"encoding", "date_format", "currency"}


@dataclass
class Mapping:
    path: str
    columns: dict[str, str]
    values: dict[str, dict[str, str]]
    encoding: str | None
    options: Options
    fingerprint: str

    def apply(self, raw: RawTable) -> RawTable:
        """Rename the mapped headers to retainly's field names."""
        header = list(raw.frame.columns)
        missing = [f'"{theirs}" (for {ours})' for ours, theirs in self.columns.items() if theirs not in header]
        if missing:
            raise MappingError(
                f"{self.path}: {raw.source} has no column {', '.join(missing)} (found: {', '.join(header)}); "
                "fix the [columns] table of the mapping"
            )
        # An unmapped header that carries a mapped field's name (as headers compare: without case,
        # spaces, hyphens or underscores) would be read instead of the column the mapping names; drop it.
        mapped, fields = set(self.columns.values()), {fold_header(ours) for ours in self.columns}
        shadows = [c for c in header if c not in mapped and fold_header(c) in fields]
        renamed = raw.frame.drop(columns=shadows).rename(columns={theirs: ours for ours, theirs in self.columns.items()})
        return dataclasses.replace(raw, frame=renamed)  # keeps all it knows (lines, notes, merged cells)


def load_mapping(path: str | Path) -> Mapping:
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"{path}: no such mapping file; check the path given to `mapping`", parameter="mapping")
    content = path.read_bytes()
    try:
        spec = tomllib.loads(content.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: not valid TOML ({exc}); see docs/presets.md for the mapping format") from None
    unknown = set(spec) - {"file", "columns", "values"}
    if unknown:
        raise MappingError(f"{path}: unknown table [{sorted(unknown)[0]}]; use [file], [columns] and [values.FIELD]")
    file_part = spec.get("file", {})
    bad_keys = set(file_part) - _FILE_KEYS
    if bad_keys:
        raise MappingError(f"{path}: unknown key {sorted(bad_keys)[0]!r} in [file]; use {', '.join(sorted(_FILE_KEYS))}")
    columns = {str(k): str(v) for k, v in spec.get("columns", {}).items()}
    values = {str(field): {str(k): str(v) for k, v in table.items()} for field, table in spec.get("values", {}).items()}
    options = Options(date_format=file_part.get("date_format"), currency=file_part.get("currency"), value_maps=values)
    return Mapping(str(path), columns, values, file_part.get("encoding"), options,
                   hashlib.sha256(content).hexdigest()[:16])
