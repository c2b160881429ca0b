"""What a file's header says it holds, to catch a file imported as the wrong kind.

The CDNOW orders file imported as ``customers`` would import every row (it has a
customer_id) and add nothing but ids. Each layout has signature columns: a preset's, and for
the native layout one set per kind. A file is refused as another kind's when it has that
kind's signature and either lacks the asked kind's, or the other signature (of two columns
or more, so that a lone customer_id or sku does not count) has columns the asked kind does
not know. An orders file with a customer_id is still an orders file; a customers file with
order_id, placed_at and quantity is not a customers file.
"""

from __future__ import annotations

from retainly.errors import InputError
from retainly.ingest.presets.base import Preset
from retainly.ingest.presets.native import FIELDS
from retainly.ingest.readers import RawTable
from retainly.ingest.values import find_column, fold_header

# The native layout's signature columns per kind (each found under its name or an alias).
NATIVE_SIGNATURES = {
    "orders": ("order_id", "placed_at", "quantity"),
    "customers": ("customer_id",),
    "products": ("sku",),
    "returns": ("return_id", "returned_at"),
    "spend": ("date", "channel", "amount"),
    "interactions": ("customer_id", "occurred_at", "kind"),
    "events": ("event_id", "occurred_at", "kind"),
    "promotions": ("promotion_id", "starts_on", "ends_on"),
}


def refuse_other_kind(kind: str, raw: RawTable, presets: list[Preset]) -> None:
    """Raise when the header is another kind's rather than ``kind``'s (see the module docstring)."""
    header = list(raw.frame.columns)
    found = []
    for k, columns in _signatures(presets):
        matched = _found(header, columns)
        if matched is not None:
            found.append((k, matched))
    own = any(k == kind for k, _ in found)
    known = _known(kind)
    others = [(k, columns) for k, columns in found if k != kind and
              (not own or (len(columns) >= 2 and any(fold_header(c) not in known for c in columns)))]
    if not others:
        return
    # The kind that reads most of the header wins (an events file has the columns of interactions'
    # signature too), then the longer signature.
    other = max(others, key=lambda pair: (sum(fold_header(c) in _known(pair[0]) for c in header), len(pair[1])))[0]
    article = "an" if other[0] in "aeiou" else "a"
    raise InputError(
        f"{raw.source}: this looks like {article} {other} file; did you mean `retainly import {other}`? "
        f"(if it really holds {kind}, pass `preset` retainly)", parameter="preset"
    )


def _signatures(presets: list[Preset]) -> list[tuple[str, list[tuple[str, ...]]]]:
    """(kind, signature columns each with its accepted names) of every preset, then of each native kind."""
    result = []
    for preset in presets:
        if preset.name != "retainly":
            result += [(k, [(column,) for column in preset.signature]) for k in preset.kinds]
    for k, columns in NATIVE_SIGNATURES.items():
        aliases = {f.name: (f.name, *f.aliases) for f in FIELDS[k]}
        result.append((k, [aliases[c] for c in columns]))
    return result


def _found(header: list[str], columns: list[tuple[str, ...]]) -> list[str] | None:
    """The header's columns that carry the signature, or None when one is missing."""
    matched = [find_column(header, *names) for names in columns]
    return None if any(m is None for m in matched) else matched


def _known(kind: str) -> set[str]:
    """Every header name (folded) the native layout of ``kind`` reads."""
    return {fold_header(name) for f in FIELDS[kind] for name in (f.name, *f.aliases)}
