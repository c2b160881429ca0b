"""Audience rules written in a TOML or YAML file.

A file holds a table ``audiences`` of named audiences; each has a ``rule``, either a one-line
expression (retainly.audiences.expression) or the JSON shape of the tree as a table / mapping
(retainly.audiences.tree), and an optional ``description``::

    [audiences.coffee_filters_due]
    description = "Coffee-machine buyers whose filters are due"
    rule = 'bought(sku="COFFEE-MACHINE") and reorder_due(sku="FILTERS")'

    [audiences.win_back]
    rule = { all = [ { field = "days_since_last_order", op = ">", value = 180 } ] }

Other top-level tables are left to their readers (playbooks may share the file). The rules are
parsed, not checked against the field catalog: the caller validates (retainly.audiences.validate).
Every error names the file, and the audience and column (or line and column) at fault.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from retainly.audiences.expression import parse
from retainly.audiences.tree import from_json
from retainly.errors import InputError, NotFoundError

SUFFIXES = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}
_AUDIENCE_KEYS = ("rule", "description")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def load_rule_file(path) -> dict[str, dict]:
    """``{name: {"rule": Rule, "description": str | None}}`` for each audience of the file, in order."""
    path = Path(path)
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path}: an audience file ends in .toml, .yaml or .yml, not {path.suffix or 'nothing'}")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: byte {exc.start + 1} is not UTF-8; save the file as UTF-8") from None
    data = _read_toml(text, path) if kind == "toml" else _read_yaml(text, path)
    return _audiences(data, path)


def _read_toml(text: str, path: Path) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        if position is None:
            raise InputError(f"{path}: not valid TOML: {message}") from None
        line, column = position.groups()
        reason = message[: position.start()]
        raise InputError(f"{path}, line {line}, column {column}: not valid TOML: {reason[0].lower()}{reason[1:]}") \
            from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice is an error (else the last one silently wins)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)):
                continue  # an unhashable key: the safe loader itself refuses it
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice; keep one", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(text: str, path: Path):
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "unreadable"
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        raise InputError(f"{where}: not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None


def _audiences(data, path: Path) -> dict[str, dict]:
    sample = "[audiences.NAME] with rule = '...'" if path.suffix.lower() == ".toml" else \
        "audiences: with NAME: {rule: ...} beneath it"
    if not isinstance(data, dict) or "audiences" not in data:
        raise InputError(f"{path}: no audiences in the file; write {sample}")
    audiences = data["audiences"]
    if not isinstance(audiences, dict) or not audiences:
        raise InputError(f"{path}: audiences holds no named audiences; write {sample}")
    out: dict[str, dict] = {}
    for name, body in audiences.items():
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{path}: audience name {name!r} is not a name; use text such as win_back")
        where = f"{path}: audience {name}"
        if isinstance(body, str):
            raise InputError(f"{where}: write the rule as rule = '...' (with an optional description)")
        if not isinstance(body, dict):
            raise InputError(f"{where}: expected rule and description, got {body!r}")
        unknown = [key for key in body if key not in _AUDIENCE_KEYS]
        if unknown:
            raise InputError(f"{where}: unknown key {', '.join(map(repr, unknown))}; an audience has rule and "
                             f"description")
        if "rule" not in body:
            raise InputError(f"{where}: no rule; add rule = '...' (an expression or the rule's JSON shape)")
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise InputError(f"{where}: description is text, not {description!r}")
        out[name] = {"rule": _rule(body["rule"], f"{where}: rule"), "description": description}
    return out


def _rule(value, where: str):
    if isinstance(value, str):
        return parse(value, where=where)
    if isinstance(value, dict):
        return from_json(value, where=where)
    raise InputError(f"{where}: expected an expression in quotes or a table of all, any, not or field, "
                     f"got {value!r}")
