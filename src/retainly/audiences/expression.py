"""The one-line rule expression: ``days_since_last_order > 60 and stage in [at_risk, lapsed]``.

``parse`` turns an expression into the rule tree (retainly.audiences.tree); ``to_expression``
prints a tree back so that it parses to an equal tree. The grammar, loosest first::

    rule       := and_rule ("or" and_rule)*
    and_rule   := not_rule ("and" not_rule)*
    not_rule   := "not" not_rule | "(" rule ")" | condition
    condition  := subject [op value | "in" list | "not" "in" list | "between" value "and" value
                           | "is" "null" | "is" "not" "null"]          (no operator: "= true")
    subject    := name ["(" [name "=" value ("," name "=" value)*] ")"]
    value      := number | 'text' | "text" | bare_word | true | false | null | YYYY-MM-DD
                | N (hours|days|weeks|months|years) ago

Keywords are case-insensitive and reserved (quote a value such as ``"in"``); ``==`` is ``=``
and ``<>`` is ``!=``. A backslash in a quoted string takes the next character as it is.
Nested ``and`` / ``or`` flatten into one ``AllOf`` / ``AnyOf``; arguments are sorted by name.
Errors are ``InputError`` with one line: the column (1-based), the word and what was expected.
"""

from __future__ import annotations

import math
import re
from datetime import date

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput

from retainly.audiences.tree import COMPARISONS, AllOf, Ago, AnyOf, Condition, Not, Rule
from retainly.errors import InputError

_GRAMMAR = r"""
?start: or_rule
?or_rule: and_rule (OR and_rule)*
?and_rule: not_rule (AND not_rule)*
?not_rule: NOT not_rule -> negation
         | "(" or_rule ")"
         | condition
condition: subject                               -> bare
         | subject op value                      -> compare
         | subject IN list                       -> in_list
         | subject NOT IN list                   -> not_in_list
         | subject BETWEEN value AND value       -> between
         | subject IS NULL                       -> is_null
         | subject IS NOT NULL                   -> is_not_null
subject: NAME ["(" [arg ("," arg)*] ")"]
arg: NAME EQ value
op: EQ | NE | LE | GE | LT | GT
list: "[" [value ("," value)*] "]"
?value: NUMBER -> number
      | STRING -> string
      | NAME -> word
      | UNIT -> word
      | DATE -> iso_date
      | TRUE -> true
      | FALSE -> false
      | NULL -> null
      | NUMBER UNIT AGO -> ago

AND.2: /and\b/i
OR.2: /or\b/i
NOT.2: /not\b/i
IN.2: /in\b/i
BETWEEN.2: /between\b/i
IS.2: /is\b/i
NULL.2: /null\b/i
TRUE.2: /true\b/i
FALSE.2: /false\b/i
AGO.2: /ago\b/i
UNIT.2: /(hours?|days?|weeks?|months?|years?)\b/i
DATE.3: /\d{4}-\d{2}-\d{2}(?![\w.-])/
NUMBER: /-?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?/
STRING: /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/s
NAME: /[A-Za-z_][A-Za-z0-9_]*/
EQ: "==" | "="
NE: "!=" | "<>"
LE: "<="
GE: ">="
LT: "<"
GT: ">"
%ignore /\s+/
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="basic", propagate_positions=False, maybe_placeholders=True)

KEYWORDS = ("and", "or", "not", "in", "between", "is", "null", "true", "false", "ago")
_BARE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

# What each terminal is called in "expected ..." (None: folded into "a value" or left out).
_VALUE_TERMINALS = {"NUMBER", "STRING", "DATE", "TRUE", "FALSE", "NULL", "UNIT"}
_DESCRIBED = {
    "AND": "and", "OR": "or", "NOT": "not", "IN": "in", "BETWEEN": "between", "IS": "is", "NULL": "null",
    "AGO": "ago", "UNIT": "a unit (hours, days, weeks, months, years)", "LPAR": "'('", "RPAR": "')'",
    "LSQB": "'['", "RSQB": "']'", "COMMA": "','", "EQ": "=",
}
_OPERATOR_TERMINALS = {"EQ", "NE", "LE", "GE", "LT", "GT", "IN", "BETWEEN", "IS"}
_HINTS = {"&": "and", "&&": "and", "|": "or", "||": "or", "!": "not"}


def parse(text: str, where: str = "rule") -> Rule:
    """The rule tree of a one-line expression; ``where`` starts error messages (``rule, column 5: ...``)."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{where}: the rule is empty; write a condition such as days_since_last_order > 60")
    try:
        return _build(_PARSER.parse(text), where)
    except UnexpectedInput as exc:
        raise InputError(_describe_error(exc, text, where)) from None
    except RecursionError:
        raise InputError(f"{where}: the rule nests too deeply; use fewer brackets and nots") from None


# -- from lark's tree to the rule tree ---------------------------------------------------------


def _build(node, where: str) -> Rule:
    if node.data == "or_rule":
        return AnyOf(_flatten(AnyOf, [_build(child, where) for child in node.children if isinstance(child, Tree)]))
    if node.data == "and_rule":
        return AllOf(_flatten(AllOf, [_build(child, where) for child in node.children if isinstance(child, Tree)]))
    if node.data == "negation":
        return Not(_build(node.children[1], where))
    subject, *rest = node.children
    field, args = _subject(subject, where)
    kind = node.data
    if kind == "bare":
        return Condition(field, "=", True, args)
    if kind == "compare":
        return Condition(field, _OPS[str(rest[0].children[0])], _value(rest[1], where), args)
    if kind in ("in_list", "not_in_list"):
        items = rest[-1].children
        values = () if items == [None] else tuple(_value(item, where) for item in items)
        return Condition(field, "in" if kind == "in_list" else "not in", values, args)
    if kind == "between":
        return Condition(field, "between", (_value(rest[1], where), _value(rest[3], where)), args)
    return Condition(field, "is null" if kind == "is_null" else "is not null", None, args)


def _flatten(kind, rules: list[Rule]) -> tuple[Rule, ...]:
    out: list[Rule] = []
    for rule in rules:
        out.extend(rule.rules if isinstance(rule, kind) else (rule,))
    return tuple(out)


def _subject(node: Tree, where: str) -> tuple[str, tuple]:
    name, *args = node.children
    named: dict[str, object] = {}
    for arg in args:
        if arg is None:  # "bought()" or a bare field
            continue
        arg_name, _eq, value = arg.children
        if str(arg_name) in named:
            raise InputError(f"{where}, column {arg_name.column}: argument {arg_name} is given twice")
        named[str(arg_name)] = _value(value, where)
    return str(name), tuple(sorted(named.items()))


def _value(node, where: str):
    kind, children = node.data, node.children
    token: Token = children[0]
    if kind == "number":
        return _number(token, where)
    if kind == "string":
        return re.sub(r"\\(.)", r"\1", str(token)[1:-1], flags=re.S)
    if kind == "word":
        return str(token)
    if kind in ("true", "false"):
        return kind == "true"
    if kind == "null":
        return None
    if kind == "iso_date":
        try:
            return date.fromisoformat(str(token))
        except ValueError:
            raise InputError(f"{where}, column {token.column}: {token} is not a date; write YYYY-MM-DD") from None
    amount = _number(token, where)
    if not isinstance(amount, int) or amount < 0:
        raise InputError(f"{where}, column {token.column}: {token} {children[1]} ago needs a whole number "
                         f"of {_unit(children[1])} (0 or more)")
    return Ago(amount, _unit(children[1]))


def _number(token: Token, where: str) -> int | float:
    text = str(token)
    try:
        number = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:  # more digits than Python converts
        number = math.inf
    if not math.isfinite(number):
        raise InputError(f"{where}, column {token.column}: {text[:20]} is too large a number")
    return number


def _unit(token: Token) -> str:
    unit = str(token).lower()
    return unit if unit.endswith("s") else unit + "s"


# -- errors -----------------------------------------------------------------------------------


def _describe_error(exc: UnexpectedInput, text: str, where: str) -> str:
    if isinstance(exc, UnexpectedCharacters):
        word = re.match(r"\S+", text[exc.pos_in_stream:]).group(0)
        if word[0] in "\"'":
            return f"{where}, column {exc.column}: the quoted text {word[:20]} is not closed; end it with {word[0]}"
        symbol = re.match(r"[^\w\s\"'()\[\],]+", word)
        hint = _HINTS.get(symbol.group(0) if symbol else "")
        fix = f"; write {hint}" if hint else "; see the rule language in docs/audiences.md"
        return f"{where}, column {exc.column}: unexpected {word[:20]!r}{fix}"
    token = getattr(exc, "token", None)
    at_end = token is None or token.type == "$END"
    position = len(text) if at_end else token.start_pos
    expected = _expected(set(getattr(exc, "expected", None) or ()), _open_bracket(text[:position]))
    if at_end:
        return f"{where}, column {len(text.rstrip()) + 1}: the rule ends too early; expected {expected}"
    word = str(token) if len(str(token)) <= 30 else str(token)[:27] + "..."
    return f"{where}, column {token.column}: unexpected {word!r}; expected {expected}"


def _open_bracket(prefix: str) -> str | None:
    """The innermost bracket still open before the error: '(' a group, 'args' a field's arguments, '['."""
    stack: list[str] = []
    previous = None
    try:
        for token in _PARSER.lex(prefix):
            if token.type in ("LPAR", "LSQB"):
                stack.append("args" if token.type == "LPAR" and previous == "NAME" else str(token))
            elif token.type in ("RPAR", "RSQB") and stack:
                stack.pop()
            previous = token.type
    except UnexpectedInput:  # the prefix parsed, so it lexes; this is only a guard
        return None
    return stack[-1] if stack else None


# The order words appear in after "expected".
_ORDER = ["operator", "value", "NAME", "comparison", "AND", "OR", "NOT", "IN", "BETWEEN", "IS", "NULL", "UNIT",
          "AGO", "EQ", "LPAR", "LSQB", "COMMA", "RSQB", "RPAR", "$END"]


def _expected(terminals: set[str], bracket: str | None) -> str:
    names = set(terminals)
    # LALR merges look-aheads: keep only the closing marks the open bracket allows.
    if bracket not in ("(", "args"):
        names.discard("RPAR")
    if bracket != "[":
        names.discard("RSQB")
    if bracket not in ("[", "args"):
        names.discard("COMMA")
    if bracket in ("[", "args"):  # a list or arguments hold values, never whole rules
        names -= {"AND", "OR", "$END"}
    elif names & {"$END", "RPAR"}:  # a complete rule: and/or may always follow (LALR reduced past them)
        names |= {"AND", "OR"}
    if bracket is not None:
        names.discard("$END")
    words: dict[str, str] = {}
    if names & _OPERATOR_TERMINALS and "AND" in names:
        words["operator"] = "an operator (=, !=, <, <=, >, >=, in, not in, between, is null)"
        names -= _OPERATOR_TERMINALS | {"NOT", "LPAR"}
    if names & (_VALUE_TERMINALS - {"UNIT", "NULL"}):
        words["value"] = "a value"
        names -= _VALUE_TERMINALS | {"NAME"}
    if "NAME" in names:
        words["NAME"] = "a field" if names & {"NOT", "LPAR"} else "an argument name"
    if {"EQ", "NE", "LT", "LE", "GT", "GE"} <= names:
        words["comparison"] = "a comparison (=, !=, <, <=, >, >=)"
        names -= {"EQ", "NE", "LT", "LE", "GT", "GE"}
    for name in names - {"NAME"}:
        words[name] = "the end of the rule" if name == "$END" else _DESCRIBED.get(name, name.lower())
    ordered = [words[key] for key in sorted(words, key=lambda key: _ORDER.index(key) if key in _ORDER else 99)]
    if len(ordered) <= 2:
        return " or ".join(ordered)
    return ", ".join(ordered[:-1]) + ", or " + ordered[-1]


# -- printing ---------------------------------------------------------------------------------


def format_value(value, bare_words: bool = True) -> str:
    """A value as the expression writes it (``at_risk``, ``"Baby 0-2"``, ``2024-05-01``, ``60 days ago``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Ago):
        unit = value.unit[:-1] if value.amount == 1 else value.unit  # "1 day ago" reads better; parses the same
        return f"{value.amount} {unit} ago"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return "[" + ", ".join(format_value(item, bare_words) for item in value) + "]"
    if not isinstance(value, str):  # not a value a rule holds: shown for what it is
        return repr(value)
    text = value
    if bare_words and _BARE_WORD.fullmatch(text) and text.lower() not in KEYWORDS:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_expression(rule: Rule) -> str:
    """The rule as a one-line expression that parses to an equal tree (for a normalised tree)."""
    return _print(rule, parent=None)


def _print(rule: Rule, parent) -> str:
    if isinstance(rule, (AllOf, AnyOf)):
        if not rule.rules:
            raise InputError(f"an empty {'all' if isinstance(rule, AllOf) else 'any'} has no expression form")
        if len(rule.rules) == 1:
            return _print(rule.rules[0], parent)
        joiner = " and " if isinstance(rule, AllOf) else " or "
        text = joiner.join(_print(child, rule) for child in rule.rules)
        # "or" inside "and", anything inside "not", and a group inside its own kind need brackets.
        needs_brackets = isinstance(parent, (Not, AllOf)) or (isinstance(parent, AnyOf) and isinstance(rule, AnyOf))
        return f"({text})" if needs_brackets and parent is not None else text
    if isinstance(rule, Not):
        return "not " + _print(rule.rule, rule)
    return _print_condition(rule)


def _print_condition(rule: Condition) -> str:
    subject = rule.field
    if rule.args:
        subject += "(" + ", ".join(f"{name}={format_value(value)}" for name, value in rule.args) + ")"
    op, value = rule.op, rule.value
    if op == "=" and value is True:
        return subject
    if op in COMPARISONS:
        return f"{subject} {op} {format_value(value)}"
    if op in ("in", "not in"):
        return f"{subject} {op} {format_value(tuple(value))}"
    if op == "between":
        low, high = value
        return f"{subject} between {format_value(low)} and {format_value(high)}"
    return f"{subject} {op}"

