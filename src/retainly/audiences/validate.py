"""Checking a rule tree against the field catalog, and normalising it.

``validate`` checks every condition of a rule however it was written (expression, JSON, file):
the field exists, its arguments are the ones it takes (required ones present) and of their
types, the operator suits the field's type and the value suits both. It returns the
normalised tree: ISO-date strings (JSON keeps dates as text) become dates for date fields and
date arguments, lists become tuples, nested ``all`` / ``any`` of one kind are flattened and a
group of one rule is that rule, so a rule written as JSON and as an expression validate to
equal trees. The first fault raises ``InputError`` with one line naming the field and the fix.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from datetime import date, datetime

from retainly.audiences.expression import format_value
from retainly.audiences.tree import COMPARISONS, OPERATORS, UNITS, AllOf, Ago, AnyOf, Condition, FieldSpec, Not, Rule
from retainly.errors import InputError

_TYPE_NAMES = {"number": "a number", "text": "text", "date": "a date", "boolean": "yes or no"}
_EXAMPLES = {
    "number": "a number (60)",
    "text": 'text ("DE")',
    "date": "a date (2024-05-01) or a relative date (60 days ago)",
    "boolean": "true or false",
}
_SAMPLE_COMPARISONS = {"number": "> 0", "text": '= "..."', "date": "< 60 days ago"}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ORDERING = ("<", "<=", ">", ">=", "between")


def validate(rule: Rule, catalog: Mapping[str, FieldSpec]) -> Rule:
    """The rule checked against ``catalog`` and normalised; ``InputError`` at the first fault."""
    if isinstance(rule, (AllOf, AnyOf)):
        kind = type(rule)
        if not rule.rules:
            word = "all" if kind is AllOf else "any"
            raise InputError(f"rule: an empty '{word}' has nothing to check; give it at least one rule")
        rules: list[Rule] = []
        for child in rule.rules:
            checked = validate(child, catalog)
            rules.extend(checked.rules if isinstance(checked, kind) else (checked,))
        return rules[0] if len(rules) == 1 else kind(tuple(rules))
    if isinstance(rule, Not):
        return Not(validate(rule.rule, catalog))
    if isinstance(rule, Condition):
        return _condition(rule, catalog)
    raise InputError(f"rule: expected all, any, not or a condition, got {rule!r}")


def _condition(rule: Condition, catalog: Mapping[str, FieldSpec]) -> Condition:
    spec = catalog.get(rule.field)
    if spec is None:
        raise InputError(_unknown_field(rule.field, catalog))
    args = _args(rule, spec)
    name, op, value = spec.name, rule.op, rule.value
    if op not in OPERATORS:
        raise InputError(f"{name}: unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
    if op in ("is null", "is not null"):
        if value is not None:
            raise InputError(f"{name} {op} takes no value; drop {_shown(value)}")
        return Condition(name, op, None, args)
    if spec.type == "boolean" and op in _ORDERING:
        raise InputError(f"{name} is yes or no; write {name}, not {name} or {name} = false, not {op}")
    if spec.type == "text" and op in _ORDERING:
        raise InputError(f"{name} is text; compare it with =, !=, in or not in, not {op}")
    if spec.type != "boolean" and op == "=" and value is True:
        raise InputError(f"{name} is {_TYPE_NAMES[spec.type]}, not yes or no; "
                         f"write a comparison such as {name} {_SAMPLE_COMPARISONS[spec.type]}")
    if op in COMPARISONS:
        if isinstance(value, (tuple, list)):
            raise InputError(f"{name} {op} takes one value, not a list; use in [...] to match any of several")
        if value is None:
            raise InputError(f"{name} {op} null compares with nothing; write {name} is null or {name} is not null")
        return Condition(name, op, _typed(name, spec.type, value, f"compare it with {_EXAMPLES[spec.type]}"), args)
    if op in ("in", "not in"):
        if not isinstance(value, (tuple, list)):
            raise InputError(f"{name} {op} takes a list, such as {name} {op} [{_list_sample(spec.type)}], "
                             f"not {_shown(value)}")
        if not value:
            raise InputError(f"{name} {op} [] lists no values; give at least one")
        items = tuple(_typed(name, spec.type, item, f"list {_EXAMPLES[spec.type]}") for item in value)
        return Condition(name, op, items, args)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise InputError(f"{name} between takes two values, the low and the high end "
                         f"({name} between {_list_sample(spec.type, ' and ')}), not {_shown(value)}")
    low, high = (_typed(name, spec.type, item, f"give it {_EXAMPLES[spec.type]}") for item in value)
    comparable = (isinstance(low, date) and isinstance(high, date)) or (
        isinstance(low, (int, float)) and isinstance(high, (int, float)))
    if comparable and low > high:
        raise InputError(f"{name} between {format_value(low)} and {format_value(high)} matches nobody; "
                         f"write the low end first")
    return Condition(name, op, (low, high), args)


def _unknown_field(field: str, catalog: Mapping[str, FieldSpec]) -> str:
    close = difflib.get_close_matches(str(field), list(catalog), n=3, cutoff=0.6)
    if close:
        suggestion = close[0] if len(close) == 1 else ", ".join(close[:-1]) + " or " + close[-1]
        return f"unknown field {field!r}; did you mean {suggestion}? See `retainly audiences fields`"
    return f"unknown field {field!r}; see `retainly audiences fields` for the fields a rule can use"


def _args(rule: Condition, spec: FieldSpec) -> tuple:
    given = dict(rule.args)
    params = {param.name: param for param in spec.params}
    if given and not params:
        raise InputError(f"{spec.name} takes no arguments; write {spec.name} without ({', '.join(given)})")
    unknown = [arg for arg in given if arg not in params]
    if unknown:
        raise InputError(f"{spec.name} has no argument{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(map(str, unknown))}; its arguments are {', '.join(params)}")
    missing = [param.name for param in spec.params if param.required and param.name not in given]
    if missing:
        sample = ", ".join(f"{param}=..." for param in missing)
        raise InputError(f"{spec.name} needs the argument{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(missing)}, as in {spec.name}({sample})")
    checked = []
    for arg, value in given.items():
        kind = params[arg].type
        where = f"{spec.name}({arg}=...)"
        checked.append((arg, _typed(where, kind, value, f"give it {_EXAMPLES[kind]}", subject="takes")))
    return tuple(sorted(checked))


def _typed(name: str, kind: str, value, fix: str, subject: str = "is"):
    """``value`` as a value of type ``kind`` (an ISO-date string becomes a date), or InputError."""
    what = _TYPE_NAMES[kind]
    wrong = InputError(f"{name} {subject} {what}; {fix}, not {_shown(value)}")
    if kind == "boolean":
        if not isinstance(value, bool):
            raise wrong
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong
        if not math.isfinite(value):
            raise InputError(f"{name}: {value} is not a number a rule can compare with; give a finite number")
        return value
    if kind == "text":
        if not isinstance(value, str):
            raise wrong
        return value
    if isinstance(value, datetime):  # TOML and YAML read 2024-05-01T10:00 as a datetime
        raise InputError(f"{name} {subject} a date without a time; give {value.date().isoformat()}, not {value}")
    if isinstance(value, date):
        return value
    if isinstance(value, Ago):
        if isinstance(value.amount, bool) or not isinstance(value.amount, int) or value.amount < 0:
            raise InputError(f"{name}: {_shown(value)} needs a whole number (0 or more) of {value.unit}")
        if value.unit not in UNITS:
            raise InputError(f"{name}: unknown unit {value.unit!r}; use one of {', '.join(UNITS)}")
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise InputError(f"{name}: {value} is not a date; write a real date as YYYY-MM-DD") from None
    raise wrong


def _shown(value) -> str:
    """A value as the user wrote it, text in quotes so that it stands out."""
    if isinstance(value, list):
        value = tuple(value)
    try:
        return format_value(value, bare_words=False)
    except (TypeError, AttributeError):  # a value no rule can hold (from code, not from a file)
        return repr(value)


def _list_sample(kind: str, joiner: str = ", ") -> str:
    samples = {"number": ("1", "5"), "text": ('"a"', '"b"'), "date": ("2024-01-01", "2024-03-31"),
               "boolean": ("true", "false")}
    return joiner.join(samples[kind])
