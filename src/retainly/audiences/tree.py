"""The rule tree: what an audience rule *is*, whatever it was written as.

A rule is a tree of ``AllOf`` / ``AnyOf`` / ``Not`` over ``Condition`` leaves. A condition names a
field of the catalog (retainly.audiences.fields), optionally with arguments (``bought`` takes
``sku`` or ``category`` and ``within_days``), an operator and a value. The tree is stored as
JSON (``to_json`` / ``from_json``), written by people in a TOML or YAML file as that JSON's
shape, or as a one-line expression (retainly.audiences.expression); all three give equal trees.

JSON shape::

    {"all": [rule, ...]}    {"any": [rule, ...]}    {"not": rule}
    {"field": "days_since_last_order", "op": ">", "value": 60}
    {"field": "stage", "op": "in", "value": ["at_risk", "lapsed"]}
    {"field": "last_order_at", "op": "<", "value": {"ago": 60, "unit": "days"}}
    {"field": "bought", "args": {"category": "kids", "within_days": 90}, "op": "=", "value": true}
    {"field": "email", "op": "is not null"}

Values are numbers, strings, booleans, ISO dates (``"2024-05-01"`` stays a string in JSON and
becomes a date when the field is a date) and relative dates (``Ago``: N units before the
as-of date of the evaluation). ``between`` takes two values (both ends included); ``in`` and
``not in`` a list; ``is null`` / ``is not null`` none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Union

from retainly.errors import InputError

FIELD_TYPES = ("number", "text", "date", "boolean")
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
OPERATORS = (*COMPARISONS, "in", "not in", "between", "is null", "is not null")
UNITS = ("hours", "days", "weeks", "months", "years")


@dataclass(frozen=True)
class Param:
    """An argument a parameterised field takes (``sku``, ``within_days``)."""

    name: str
    type: str  # one of FIELD_TYPES
    help: str
    required: bool = False


@dataclass(frozen=True)
class FieldSpec:
    """A customer field of the catalog: its name, type, group and a line of help."""

    name: str
    type: str  # one of FIELD_TYPES
    group: str  # profile, orders, rfm, predictions, lifecycle, ...
    help: str
    params: tuple[Param, ...] = ()


@dataclass(frozen=True)
class Ago:
    """A date relative to the evaluation's as-of date: ``amount`` ``unit`` before it."""

    amount: int
    unit: str = "days"  # one of UNITS


Scalar = Union[int, float, str, bool, date, Ago, None]


@dataclass(frozen=True)
class Condition:
    """``field(args) op value``."""

    field: str
    op: str
    value: Scalar | tuple[Scalar, ...] = None
    args: tuple[tuple[str, Scalar], ...] = ()  # sorted by name, so equal rules are equal trees


@dataclass(frozen=True)
class AllOf:
    rules: tuple[Rule, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class AnyOf:
    rules: tuple[Rule, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Not:
    rule: Rule


Rule = Union[AllOf, AnyOf, Not, Condition]


def _value_to_json(value):
    if isinstance(value, Ago):
        return {"ago": value.amount, "unit": value.unit}
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_value_to_json(item) for item in value]
    return value


def to_json(rule: Rule) -> dict:
    """The rule as JSON-ready dicts and lists (the stored form)."""
    if isinstance(rule, AllOf):
        return {"all": [to_json(r) for r in rule.rules]}
    if isinstance(rule, AnyOf):
        return {"any": [to_json(r) for r in rule.rules]}
    if isinstance(rule, Not):
        return {"not": to_json(rule.rule)}
    out = {"field": rule.field}
    if rule.args:
        out["args"] = {name: _value_to_json(value) for name, value in rule.args}
    out["op"] = rule.op
    if rule.op not in ("is null", "is not null"):
        out["value"] = _value_to_json(rule.value)
    return out


def _value_from_json(value, where: str):
    if isinstance(value, dict):
        if set(value) - {"ago", "unit"} or not isinstance(value.get("ago"), int):
            raise InputError(f"{where}: a relative date is {{\"ago\": N, \"unit\": \"days\"}}, not {value!r}")
        unit = value.get("unit", "days")
        if unit not in UNITS:
            raise InputError(f"{where}: unknown unit {unit!r}; use one of {', '.join(UNITS)}")
        return Ago(value["ago"], unit)
    if isinstance(value, list):
        return tuple(_value_from_json(item, where) for item in value)
    return value


def from_json(data, where: str = "rule") -> Rule:
    """A rule tree from its JSON form; ``where`` names the place in errors (``rule.all[2]``)."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected an object with all, any, not or field, got {data!r}")
    for key, kind in (("all", AllOf), ("any", AnyOf)):
        if key in data:
            if set(data) != {key} or not isinstance(data[key], list):
                raise InputError(f"{where}: {key!r} takes a list of rules and nothing beside it")
            return kind(tuple(from_json(item, f"{where}.{key}[{n}]") for n, item in enumerate(data[key])))
    if "not" in data:
        if set(data) != {"not"}:
            raise InputError(f"{where}: 'not' takes one rule and nothing beside it")
        return Not(from_json(data["not"], f"{where}.not"))
    if "field" not in data:
        raise InputError(f"{where}: expected all, any, not or field, got keys {sorted(data)}")
    unknown = set(data) - {"field", "args", "op", "value"}
    if unknown:
        raise InputError(f"{where}: unknown keys {sorted(unknown)}; a condition has field, args, op and value")
    op = data.get("op", "=")
    if op not in OPERATORS:
        raise InputError(f"{where}: unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
    args = data.get("args") or {}
    if not isinstance(args, dict):
        raise InputError(f"{where}: args is an object of name: value, got {args!r}")
    # {"field": "vip"} alone means vip = true, as a bare field does in an expression.
    value = True if "op" not in data and "value" not in data else data.get("value")
    return Condition(field=str(data["field"]), op=op, value=_value_from_json(value, where),
                     args=tuple(sorted((name, _value_from_json(v, where)) for name, v in args.items())))
