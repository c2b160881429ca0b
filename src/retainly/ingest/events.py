"""Events sent item by item over the API, checked the way the file import checks rows.

An item is a JSON object of one kind (an order with its lines, a return with its lines, an
interaction, a site event, a customer, a consent change). The items are laid out as rows of
the native file layout (an order as one row per line, each carrying its order's fields), so
that the native preset (``retainly.ingest.presets.native``) types and checks them with the
very parsers a file import uses, and builds the canonical ``Batch`` the loader merges. What
this module adds is what JSON brings: field names instead of columns, nesting, types, and a
path for every problem (``items[3].lines[0].unit_price``) instead of a file line.

Rules of the API beyond the file layout (docs/api.md, "Events"):
- dates and times are ISO 8601 (``2024-03-31``, ``2024-03-31T14:05:00``); a zone offset is
  dropped, as in files: times are the shop's wall-clock time;
- an unknown field is a problem (a typo must not lose a value without a word);
- one item per order (return, interaction, event, customer; per customer and channel for
  consent) in a batch: a later item for the same one is refused; across batches a later one
  replaces it, as a re-imported file does;
- interactions and site events without an id take their idempotency key as id;
- an item for a customer the store does not know creates that customer, except a consent
  change, which is refused: consent is given by someone the shop knows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from retainly.ingest.batch import Batch
from retainly.ingest.checks import nul_bytes, order_too_big, oversized_orders
from retainly.ingest.presets.base import Options
from retainly.ingest.presets.native import FIELDS, Field, Native
from retainly.ingest.readers import RawTable
from retainly.ingest.values import Problems

KINDS = ("orders", "returns", "interactions", "site_events", "customers", "consent")
MAX_ITEMS = 1000
MAX_LINES = 1000
KEY_LENGTH_LIMIT = 200
KEY = "idempotency_key"
CONSENT_CHANNELS = ("email", "sms")


@dataclass(frozen=True)
class Shape:
    """How items of one kind are laid out as rows of a native kind."""

    native: str  # the native preset's kind
    noun: str
    fields: dict[str, str]  # JSON name -> native column
    line_fields: dict[str, str] | None = None  # the same for each of ``lines``
    record: str = ""  # the native column naming what an item writes


def _same(*names: str) -> dict[str, str]:
    return {name: name for name in names}


SHAPES: dict[str, Shape] = {
    "orders": Shape("orders", "order", {
        **_same("order_id", "customer_id", "placed_at", "status", "currency", "channel", "promo_code", "country",
                "shipping", "tax"), "discount": "order_discount"},
        {**_same("line_no", "sku", "description", "quantity", "unit_price"), "discount": "line_discount",
         "amount": "line_amount", "kind": "kind"}, "order_id"),
    "returns": Shape("returns", "return", _same("return_id", "customer_id", "order_id", "returned_at", "reason"),
                     _same("line_no", "order_line_no", "sku", "quantity", "unit_price", "amount", "reason"),
                     "return_id"),
    "interactions": Shape("interactions", "interaction", _same(*(f.name for f in FIELDS["interactions"])),
                          record="interaction_id"),
    "site_events": Shape("events", "site event", _same(*(f.name for f in FIELDS["events"])), record="event_id"),
    "customers": Shape("customers", "customer", _same(*(f.name for f in FIELDS["customers"])), record="customer_id"),
    "consent": Shape("customers", "consent change", {"customer_id": "customer_id", "channel": "", "granted": "",
                                                     "at": ""}, record="customer_id"),
}

# The field of an item naming what it writes (an interaction or event without one: its idempotency key).
RECORD_FIELD = {"orders": "order_id", "returns": "return_id", "interactions": "interaction_id",
                "site_events": "event_id", "customers": "customer_id", "consent": "customer_id"}
# The consent fields that are not native columns, described for the API's documentation.
CONSENT_FIELDS = (
    Field("customer_id", "id", True, (), "the shop's customer id; the customer must be known"),
    Field("channel", "choice:consent_channel", True, (), "email or sms"),
    Field("granted", "bool", True, (), "true: the customer agreed to marketing on this channel; false: withdrew"),
    Field("at", "timestamp", False, (), "when consent was given or withdrawn; default: when the item arrives"),
)
# The native columns whose names differ in JSON, as messages of the native preset name them.
_REWORDED = {"line_amount": "amount", "line_discount": "discount", "order_discount": "discount",
             "unparseable date; expected ISO8601": "not a date; send ISO 8601, e.g. 2024-03-31 or 2024-03-31T14:05:00"}


def item_fields(kind: str) -> tuple[tuple[Field, ...], tuple[Field, ...]]:
    """The fields of an item of ``kind`` and of each of its lines, named as in JSON, with their
    native descriptions (for the API's schema; ``required`` as the checks here apply it)."""
    if kind == "consent":
        return CONSENT_FIELDS, ()
    shape = SHAPES[kind]
    native = {f.name: f for f in FIELDS[shape.native]}
    defaulted = {"interaction_id", "event_id"}  # default: the idempotency key

    def renamed(names: dict[str, str]) -> tuple[Field, ...]:
        return tuple(Field(json, native[column].kind, native[column].required and column not in defaulted, (),
                           native[column].help) for json, column in names.items())

    return renamed(shape.fields), renamed(shape.line_fields or {})


@dataclass
class Checked:
    """The items of one batch after the checks: problems per invalid item, the record per valid one."""

    kind: str
    errors: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # item -> (path, message)
    records: dict[int, str] = field(default_factory=dict)  # valid item -> the id it writes
    typed: pd.DataFrame | None = None
    row_item: np.ndarray | None = None
    options: Options | None = None
    _built: tuple[frozenset[int], Batch] | None = None  # the last batch built, for its items

    def batch(self, chosen: Collection[int]) -> Batch | None:
        """The canonical batch of the valid items ``chosen``."""
        if self.typed is None or not chosen:
            return None
        wanted = frozenset(chosen)
        if self._built is None or self._built[0] != wanted:
            self._built = (wanted, self._build(wanted))
        return self._built[1]

    def _build(self, chosen: frozenset[int]) -> Batch:
        keep = np.isin(self.row_item, np.fromiter(chosen, dtype=np.int64))
        rows = self.typed[keep]
        if self.kind == "consent":
            # One row per customer: their email and sms changes side by side (first value of each column).
            merged = rows.groupby("customer_id", sort=False).first().reset_index()
            return Batch(customers=merged.rename(columns={"customer_id": "external_id"}))
        return Native().build(SHAPES[self.kind].native, rows, self.options)


def check_items(kind: str, items: Mapping[int, Any], options: Options, received_at: str,
                known_customers: Callable[[list[str]], set[str]]) -> Checked:
    """Check ``items`` (by their index in the batch) of ``kind``: what each would write, or why not.

    ``received_at`` (ISO text) is a consent change's time when it gives none; ``known_customers``
    says which of some customer ids the store holds (consent is refused for the others)."""
    shape = SHAPES[kind]
    checked = Checked(kind, options=options)
    rows, row_item, row_line, paths = [], [], [], []
    for index, item in items.items():
        errors = _shape_errors(shape, index, item)
        if errors:
            checked.errors[index] = errors
            continue
        for line, (row, where) in enumerate(_rows(kind, shape, index, item, received_at)):
            rows.append(row)
            paths.append(where)
            row_item.append(index)
            row_line.append(line)
    if not rows:
        return checked
    columns = [f.name for f in FIELDS[shape.native]]
    frame = pd.DataFrame(rows, columns=columns).astype(pd.StringDtype("pyarrow"))
    # The line within its item stands where a file's line number would: messages about two lines name them.
    raw = RawTable("api", frame, np.asarray(row_line, dtype=np.int64), None, "")
    problems = _AllProblems()
    nul_bytes(raw, problems)
    typed = Native().parse(shape.native, raw, problems, options)
    row_item = np.asarray(row_item, dtype=np.int64)
    _repeated_records(kind, shape, typed, row_item, problems)
    if kind == "consent":
        _unknown_customers(typed, known_customers, problems)
    for position, column, reason in problems.all():
        # One problem per field: an order's fields repeat on each of its lines, and "give unit_price
        # or amount" after "not a number" for that unit_price says nothing new.
        errors = checked.errors.setdefault(int(row_item[position]), [])
        path = _path(paths[position], column, row_item[position])
        if all(path != known for known, _ in errors):
            errors.append((path, _reworded(reason)))
    checked.typed, checked.row_item = typed, row_item
    valid = [i for i in dict.fromkeys(row_item.tolist()) if i not in checked.errors]
    if shape.native == "orders" and valid:
        _oversized(checked, valid)
        valid = [i for i in valid if i not in checked.errors]
    items_in_order, first_row = np.unique(row_item, return_index=True)
    record = dict(zip(items_in_order.tolist(), typed[shape.record].to_numpy(dtype=object)[first_row].tolist()))
    checked.records = {i: str(record[i]) for i in valid}
    return checked


class _AllProblems(Problems):
    """Problems, every one of them (a file's rejects show one per row; an API answer shows all)."""

    def all(self) -> list[tuple[int, str | None, str]]:
        found = []
        for part in self._parts:
            found += [(int(p), None if c is None or pd.isna(c) else str(c), str(r))
                      for p, c, r in zip(part["position"], part["column"], part["reason"])]
        return sorted(dict.fromkeys(found), key=lambda problem: problem[0])


def _shape_errors(shape: Shape, index: int, item: Any) -> list[tuple[str, str]]:
    """What is wrong with an item's structure: unknown fields, values that are not scalars, lines."""
    here = f"items[{index}]"
    if not isinstance(item, dict):
        return [(here, f"not a JSON object; send each {shape.noun} as an object of its fields")]
    errors = []
    lines = "lines" if shape.line_fields is not None else None
    for name, value in item.items():
        if name == KEY or name == lines:
            continue
        if name not in shape.fields:
            errors.append((f"{here}.{name}", f"unknown field; {_a(shape.noun)} has the fields "
                                             f"{', '.join([KEY, *shape.fields, *([lines] if lines else [])])}"))
        elif _scalar_problem(value):
            errors.append((f"{here}.{name}", _scalar_problem(value)))
    if lines:
        errors += _line_errors(shape, here, item.get("lines"))
    if shape.native == "customers" and "channel" in shape.fields:
        errors += _consent_errors(here, item)
    return errors


def _consent_errors(here: str, item: dict) -> list[tuple[str, str]]:
    """A consent change's channel and answer, which are not columns the native checks know."""
    errors = []
    channel = item.get("channel")
    if not isinstance(channel, str) or channel.strip().lower() not in CONSENT_CHANNELS:
        problem = "required value is missing" if channel is None else "not one of email, sms"
        errors.append((f"{here}.channel", f"{problem}; send the channel consent was given or withdrawn on: email or sms"))
    if item.get("granted") is None:
        errors.append((f"{here}.granted", "required value is missing; send true (consent given) or false (withdrawn)"))
    return errors


def _line_errors(shape: Shape, here: str, lines: Any) -> list[tuple[str, str]]:
    if not isinstance(lines, list) or not lines:
        return [(f"{here}.lines", f"required: a list of 1 to {MAX_LINES:,} lines, each an object with some of "
                                  f"{', '.join(shape.line_fields)}")]
    if len(lines) > MAX_LINES:
        return [(f"{here}.lines", f"{len(lines):,} lines; {_a(shape.noun)} may have at most {MAX_LINES:,}")]
    errors = []
    for number, line in enumerate(lines):
        where = f"{here}.lines[{number}]"
        if not isinstance(line, dict):
            errors.append((where, "not a JSON object; send each line as an object of its fields"))
            continue
        for name, value in line.items():
            if name not in shape.line_fields:
                errors.append((f"{where}.{name}",
                               f"unknown field; a line has the fields {', '.join(shape.line_fields)}"))
            elif _scalar_problem(value):
                errors.append((f"{where}.{name}", _scalar_problem(value)))
    return errors


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return None if is_text(value) else NOT_TEXT
    if value is None or isinstance(value, (int, float)):
        return None
    what = "an object" if isinstance(value, dict) else "a list" if isinstance(value, list) else type(value).__name__
    return f"{what}; send a string, a number, true/false or null"


NOT_TEXT = "not valid Unicode text (a lone surrogate such as \\ud800); send the text as UTF-8"


def is_text(value: str) -> bool:
    """Whether a JSON string can be stored: JSON lets a string hold half a surrogate pair, which no store can."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(value: Any) -> str | None:
    """A JSON value as the text a file cell would hold (stripped, empty -> null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # 6.95 stays 6.95 and 1e16 is written out in digits: the money parser reads plain numbers only.
        return format(Decimal(repr(value)), "f") if math.isfinite(value) else repr(value)
    return value.strip() or None


def _rows(kind: str, shape: Shape, index: int, item: dict, received_at: str):
    """The native rows of one item, each with the JSON path of every column it fills."""
    here = f"items[{index}]"
    head, where = {}, {}
    for name, column in shape.fields.items():
        if column:  # a path for every column, so that a missing required field is named too
            where[column] = f"{here}.{name}"
            if name in item:
                head[column] = _text(item[name])
    if kind == "consent":
        yield _consent_row(here, item, head, where, received_at)
        return
    if kind in ("interactions", "site_events") and head.get(shape.record) is None:
        head[shape.record], where[shape.record] = item[KEY], f"{here}.{KEY}"
    if shape.line_fields is None:
        yield head, where
        return
    for number, line in enumerate(item["lines"]):
        row, paths = dict(head), dict(where)
        for name, column in shape.line_fields.items():
            value = _text(line.get(name))
            if value is not None or column not in row:  # a line's reason overrides its return's
                row[column], paths[column] = value, f"{here}.lines[{number}].{name}"
        yield row, paths


def _consent_row(here: str, item: dict, head: dict, where: dict, received_at: str):
    channel = item["channel"].strip().lower()  # checked by _consent_errors
    head[f"{channel}_consent"], where[f"{channel}_consent"] = _text(item["granted"]), f"{here}.granted"
    head[f"{channel}_consent_at"] = _text(item.get("at")) or received_at
    where[f"{channel}_consent_at"] = f"{here}.at"
    return head, where


def _repeated_records(kind: str, shape: Shape, typed: pd.DataFrame, row_item: np.ndarray, problems: Problems) -> None:
    """A second item for the same record in one batch: refused (which one would win is not clear)."""
    record = typed[shape.record].astype("string").fillna("")
    if kind == "consent":
        record = record + "|" + typed["sms_consent"].notna().astype(str)
    first_item = pd.Series(row_item).groupby(record.to_numpy(dtype=object)).transform("first").to_numpy()
    later = (first_item != row_item) & (record != "").to_numpy(dtype=bool)
    for position in np.flatnonzero(later):
        first = f"items[{first_item[position]}]"
        problems.add_rows(np.array([position]), shape.record, None,
                          f"the same customer and channel as {first}; send one consent change per customer and "
                          "channel in a batch" if kind == "consent" else
                          f"the same {shape.noun} as {first}; send one item per {shape.noun} in a batch (a later "
                          "batch may replace it)")


def _unknown_customers(typed: pd.DataFrame, known_customers: Callable[[list[str]], set[str]],
                       problems: Problems) -> None:
    ids = typed["customer_id"]
    wanted = sorted({str(v) for v in ids.dropna()})
    known = known_customers(wanted) if wanted else set()
    unknown = ids.notna().to_numpy(dtype=bool) & ~ids.isin(known).fillna(False).to_numpy(dtype=bool)
    problems.add(unknown, "customer_id", ids, "no customer with this id; send the customer first "
                                              "(POST /api/v1/events/customers) or check the id")


def _oversized(checked: Checked, valid: list[int]) -> None:
    """Orders whose amounts add up past what the store holds, found once built (as in a file import)."""
    too_big = set(oversized_orders(checked.batch(valid)))
    if not too_big:
        return
    ids = checked.typed["order_id"].to_numpy(dtype=object)
    for position in np.flatnonzero(np.isin(checked.row_item, valid)):
        order = ids[position]
        if order in too_big and int(checked.row_item[position]) not in checked.errors:
            checked.errors[int(checked.row_item[position])] = [(f"items[{checked.row_item[position]}]",
                                                                order_too_big(order))]


def _path(where: dict[str, str], column: str | None, index: int) -> str:
    return where.get(column, f"items[{index}]") if column else f"items[{index}]"


def _reworded(reason: str) -> str:
    for native, json in _REWORDED.items():
        reason = reason.replace(native, json)
    return reason


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"
