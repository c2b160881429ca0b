"""The one-line rule expression: parsing (trees written out by hand), errors (messages written
out by hand, columns counted by hand), printing, and round trips with hypothesis."""

import json
import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retainly.audiences.expression import KEYWORDS, format_value, parse, to_expression
from retainly.audiences.tree import UNITS, AllOf, Ago, AnyOf, Condition, Not, from_json, to_json
from retainly.audiences.validate import validate
from retainly.errors import InputError
from tests.audiences.test_validate import CATALOG


def C(field, op="=", value=True, **args):
    return Condition(field, op, value, tuple(sorted(args.items())))


# -- every example of the issue, as a tree and as JSON ---------------------------------------------

EXAMPLES = [
    ("days_since_last_order > 60 and stage in [at_risk, lapsed] and email_consent",
     AllOf((C("days_since_last_order", ">", 60), C("stage", "in", ("at_risk", "lapsed")), C("email_consent"))),
     {"all": [{"field": "days_since_last_order", "op": ">", "value": 60},
              {"field": "stage", "op": "in", "value": ["at_risk", "lapsed"]},
              {"field": "email_consent", "op": "=", "value": True}]}),
    ("not (country = \"DE\" or country = 'AT')",
     Not(AnyOf((C("country", "=", "DE"), C("country", "=", "AT")))),
     {"not": {"any": [{"field": "country", "op": "=", "value": "DE"},
                      {"field": "country", "op": "=", "value": "AT"}]}}),
    ('gender = female and age < 30 and bought(category="Baby 0-2")',
     AllOf((C("gender", "=", "female"), C("age", "<", 30), C("bought", category="Baby 0-2"))),
     {"all": [{"field": "gender", "op": "=", "value": "female"}, {"field": "age", "op": "<", "value": 30},
              {"field": "bought", "args": {"category": "Baby 0-2"}, "op": "=", "value": True}]}),
    ('bought(sku="FILTER-100") = false', C("bought", "=", False, sku="FILTER-100"),
     {"field": "bought", "args": {"sku": "FILTER-100"}, "op": "=", "value": False}),
    ("event_count(kind=visit, within_days=60) = 0", C("event_count", "=", 0, kind="visit", within_days=60),
     {"field": "event_count", "args": {"within_days": 60, "kind": "visit"}, "op": "=", "value": 0}),
    ("cart_abandoned(within_hours=24)", C("cart_abandoned", within_hours=24),
     {"field": "cart_abandoned", "args": {"within_hours": 24}, "value": True}),
    ("last_order_at < 60 days ago", C("last_order_at", "<", Ago(60, "days")),
     {"field": "last_order_at", "op": "<", "value": {"ago": 60}}),
    ("first_order_at between 2024-01-01 and 2024-03-31",
     C("first_order_at", "between", (date(2024, 1, 1), date(2024, 3, 31))),
     {"field": "first_order_at", "op": "between", "value": ["2024-01-01", "2024-03-31"]}),
    ("clv >= 100.5", C("clv", ">=", 100.5), {"field": "clv", "op": ">=", "value": 100.5}),
    ("email is not null", C("email", "is not null", None), {"field": "email", "op": "is not null"}),
    ("phone is null", C("phone", "is null", None), {"field": "phone", "op": "is null"}),
    ('reorder_due(category="Coffee & Tea")', C("reorder_due", category="Coffee & Tea"),
     {"field": "reorder_due", "args": {"category": "Coffee & Tea"}, "op": "=", "value": True}),
    ("stage not in [lost]", C("stage", "not in", ("lost",)), {"field": "stage", "op": "not in", "value": ["lost"]}),
    ("vip", C("vip"), {"field": "vip", "op": "=", "value": True}),
    ("not vip", Not(C("vip")), {"not": {"field": "vip", "op": "=", "value": True}}),
]


@pytest.mark.parametrize("text, tree, json_form", EXAMPLES, ids=[example[0] for example in EXAMPLES])
def test_examples_parse_to_the_tree_and_equal_their_json_form(text, tree, json_form):
    assert parse(text) == tree
    # JSON keeps dates as text; validation turns them into dates, so compare after it.
    assert validate(from_json(json_form), CATALOG) == validate(parse(text), CATALOG) == tree
    assert parse(to_expression(tree)) == tree


def test_values_keep_their_types():
    values = parse("a = 1 and b = 1.0 and c = true and d = '1' and e = 2024-01-01 and f = -2.5e3 and g = x").rules
    assert [type(rule.value) for rule in values] == [int, float, bool, str, date, float, str]
    assert [rule.value for rule in values] == [1, 1.0, True, "1", date(2024, 1, 1), -2500.0, "x"]


# -- the grammar ------------------------------------------------------------------------------------


def test_and_binds_tighter_than_or_and_not_tightest():
    assert parse("a or b and c") == AnyOf((C("a"), AllOf((C("b"), C("c")))))
    assert parse("a and b or c") == AnyOf((AllOf((C("a"), C("b"))), C("c")))
    assert parse("not a and b") == AllOf((Not(C("a")), C("b")))
    assert parse("not (a and b)") == Not(AllOf((C("a"), C("b"))))
    assert parse("(a or b) and c") == AllOf((AnyOf((C("a"), C("b"))), C("c")))
    assert parse("not not a") == Not(Not(C("a")))


def test_nested_groups_of_one_kind_flatten():
    assert parse("a and (b and c) and ((d))") == AllOf((C("a"), C("b"), C("c"), C("d")))
    assert parse("(a or b) or c or (d or e and f)") == AnyOf((C("a"), C("b"), C("c"), C("d"),
                                                              AllOf((C("e"), C("f")))))
    assert parse("((a))") == C("a")


def test_keywords_are_case_insensitive_and_operators_normalised():
    assert parse("A AND NOT b Or c IS NOT NULL") == AnyOf((AllOf((C("A"), Not(C("b")))), C("c", "is not null", None)))
    assert parse("x NOT IN [a] and y BETWEEN 1 AND 2 and z = TRUE and w = False") == AllOf((
        C("x", "not in", ("a",)), C("y", "between", (1, 2)), C("z", "=", True), C("w", "=", False)))
    assert [rule.op for rule in parse("a == 1 and b <> 1 and c != 1 and d <= 1 and e >= 1 and f < 1 and g > 1")
            .rules] == ["=", "!=", "!=", "<=", ">=", "<", ">"]
    assert parse("x<3 and y>=2") == AllOf((C("x", "<", 3), C("y", ">=", 2)))


def test_relative_dates_take_every_unit_singular_or_plural():
    assert parse("a > 1 DAY AGO").value == Ago(1, "days")
    for unit in UNITS:
        assert parse(f"a < 3 {unit} ago").value == Ago(3, unit)
        assert parse(f"a < 3 {unit[:-1]} ago").value == Ago(3, unit)
    assert parse("a in [0 hours ago, 2 weeks ago]").value == (Ago(0, "hours"), Ago(2, "weeks"))


def test_quoted_text_and_bare_words():
    assert parse(r'''a = "it's" and b = 'say "hi"' and c = "back\\slash \"q\"" and d = ""''') == AllOf((
        C("a", "=", "it's"), C("b", "=", 'say "hi"'), C("c", "=", 'back\\slash "q"'), C("d", "=", "")))
    # Bare words keep their case; unit words are words too where a value is expected.
    assert parse("stage in [At_Risk, days]").value == ("At_Risk", "days")
    assert parse('x = "and"').value == "and"


def test_arguments_are_sorted_and_may_be_empty():
    assert parse("bought(within_days=90, category=kids)").args == (("category", "kids"), ("within_days", 90))
    assert parse("bought()") == C("bought")
    assert parse("orders_since(since=30 days ago) > 1") == C("orders_since", ">", 1, since=Ago(30, "days"))


# -- errors -------------------------------------------------------------------------------------------

ERRORS = [
    # Columns counted by hand from 1: the word at fault starts there.
    ("days_since_last_order > 60 nad stage = x",
     "rule, column 28: unexpected 'nad'; expected and, or, a unit (hours, days, weeks, months, years), "
     "or the end of the rule"),
    ("vip nad stage", "rule, column 5: unexpected 'nad'; expected an operator (=, !=, <, <=, >, >=, in, not in, "
                      "between, is null), and, or, or the end of the rule"),
    ("stage in [lost] nad vip", "rule, column 17: unexpected 'nad'; expected and, or, or the end of the rule"),
    ("(vip or x = 1) y", "rule, column 16: unexpected 'y'; expected and, or, or the end of the rule"),
    ("(vip or x = 1 y)", "rule, column 15: unexpected 'y'; expected and, or, a unit (hours, days, weeks, months, "
                         "years), or ')'"),
    ("x = 5)", "rule, column 6: unexpected ')'; expected and, or, or the end of the rule"),
    ("and x", "rule, column 1: unexpected 'and'; expected a field, not, or '('"),
    ("x = in", "rule, column 5: unexpected 'in'; expected a value"),
    ("x in 5", "rule, column 6: unexpected '5'; expected '['"),
    ("x in [1 2]", "rule, column 9: unexpected '2'; expected a unit (hours, days, weeks, months, years), ',', "
                   "or ']'"),
    ("bought(sku=1 x)", "rule, column 14: unexpected 'x'; expected a unit (hours, days, weeks, months, years), "
                        "',', or ')'"),
    ("bought(a=1,)", "rule, column 12: unexpected ')'; expected an argument name"),
    ("bought(a 1)", "rule, column 10: unexpected '1'; expected ="),
    ("x between 5 or 6", "rule, column 13: unexpected 'or'; expected and"),
    ("x = 60 days", "rule, column 12: the rule ends too early; expected ago"),
    ("x >", "rule, column 4: the rule ends too early; expected a value"),
    ("x >   ", "rule, column 4: the rule ends too early; expected a value"),
    ("x is", "rule, column 5: the rule ends too early; expected not or null"),
    ("x not", "rule, column 6: the rule ends too early; expected in"),
    ("x and (y or z", "rule, column 14: the rule ends too early; expected and, or, or ')'"),
    ("bought(", "rule, column 8: the rule ends too early; expected an argument name or ')'"),
    ("x in [1,", "rule, column 9: the rule ends too early; expected a value"),
    ("x = 'abc", "rule, column 5: the quoted text 'abc is not closed; end it with '"),
    ("x > 5 && y", "rule, column 7: unexpected '&&'; write and"),
    ("x > 5 || y", "rule, column 7: unexpected '||'; write or"),
    ("!vip", "rule, column 1: unexpected '!vip'; write not"),
    ("x = ~5", "rule, column 5: unexpected '~5'; see the rule language in docs/audiences.md"),
    ("x = 2024-02-30", "rule, column 5: 2024-02-30 is not a date; write YYYY-MM-DD"),
    ("x > 1.5 days ago", "rule, column 5: 1.5 days ago needs a whole number of days (0 or more)"),
    ("x > -2 weeks ago", "rule, column 5: -2 weeks ago needs a whole number of weeks (0 or more)"),
    ("bought(sku=a, sku=b)", "rule, column 15: argument sku is given twice"),
    ("x = " + "a" * 40 + " y", "rule, column 46: unexpected 'y'; expected and, or, or the end of the rule"),
    ("x = 1 " + "b" * 40, "rule, column 7: unexpected 'bbbbbbbbbbbbbbbbbbbbbbbbbbb...'; expected and, or, a unit "
                          "(hours, days, weeks, months, years), or the end of the rule"),
    ("x = 1e999", "rule, column 5: 1e999 is too large a number"),
    ("x = " + "9" * 5000, "rule, column 5: 99999999999999999999 is too large a number"),
    ("not " * 5000 + "vip", "rule: the rule nests too deeply; use fewer brackets and nots"),
    ("", "rule: the rule is empty; write a condition such as days_since_last_order > 60"),
    ("   ", "rule: the rule is empty; write a condition such as days_since_last_order > 60"),
]


@pytest.mark.parametrize("text, message", ERRORS, ids=[error[0][:40] for error in ERRORS])
def test_errors_point_at_the_word(text, message):
    with pytest.raises(InputError) as caught:
        parse(text)
    assert str(caught.value) == message
    assert "\n" not in message


def test_errors_start_with_where():
    with pytest.raises(InputError, match=r"^rules.toml: audience x: rule, column 3: unexpected '5'"):
        parse("x 5", where="rules.toml: audience x: rule")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b(", ")", "(", "[", "]", ",", "=", "<>", ">", "in", "not", "and", "or",
                                 "between", "is", "null", "1", "-2.5", "2024-01-01", "2024-13-01", "3 days ago",
                                 "days", "ago", "'x", '"y"', "!", "&", "x=1", " ", "\t", "é", "\\"]), max_size=12))
def test_any_text_parses_or_raises_input_error(words):
    # Random word salad: lark's own exceptions must never escape.
    text = " ".join(words)
    try:
        parse(text)
    except InputError as exc:
        assert re.match(r"rule(, column \d+)?: ", str(exc)), str(exc)
        assert "\n" not in str(exc)


# -- printing --------------------------------------------------------------------------------------


def test_to_expression_prints_readably():
    assert to_expression(parse("x = 'at_risk' and (y or not z) and d > 1 day ago")) == \
        "x = at_risk and (y or not z) and d > 1 day ago"
    assert to_expression(parse("not (a and b) or c = 'two words' or c = 'in' or c = \"it's\"")) == \
        "not (a and b) or c = \"two words\" or c = \"in\" or c = \"it's\""
    assert to_expression(C("x", "in", ("a", 1, 2.5, False, date(2024, 1, 2)))) == \
        "x in [a, 1, 2.5, false, 2024-01-02]"
    assert to_expression(C("x", "between", (Ago(90), Ago(30)))) == "x between 90 days ago and 30 days ago"
    assert to_expression(AllOf((C("a"),))) == "a"
    assert format_value('a "b" \\c', bare_words=False) == '"a \\"b\\" \\\\c"'
    with pytest.raises(InputError, match="an empty all has no expression form"):
        to_expression(AllOf(()))


# -- round trips ------------------------------------------------------------------------------------

_RESERVED = set(KEYWORDS) | {unit for plural in UNITS for unit in (plural, plural[:-1])}
names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(lambda name: name not in _RESERVED)
scalars = st.one_of(
    st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8), st.booleans(),
    st.none(), st.dates(), st.builds(Ago, st.integers(0, 10_000), st.sampled_from(UNITS)),
    names,  # words that print bare
)


@st.composite
def conditions(draw, scalar=scalars):
    op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "in", "not in", "between", "is null",
                               "is not null"]))
    if op in ("in", "not in"):
        value = tuple(draw(st.lists(scalar, max_size=4)))
    elif op == "between":
        value = (draw(scalar), draw(scalar))
    elif op.startswith("is"):
        value = None
    else:
        value = draw(scalar)
    args = draw(st.dictionaries(names, scalar, max_size=3))
    return Condition(draw(names), op, value, tuple(sorted(args.items())))


def _groups(children):
    # Groups as the parser makes them: two or more rules, none a group of the same kind.
    def group(kind):
        return st.lists(children, min_size=2, max_size=4).filter(
            lambda rules: not any(isinstance(rule, kind) for rule in rules)).map(lambda rules: kind(tuple(rules)))
    return st.one_of(group(AllOf), group(AnyOf), children.map(Not))


trees = st.recursive(conditions(), _groups, max_leaves=10)
json_scalars = st.one_of(  # JSON has no dates (they come back as text) but everything else
    st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8), st.booleans(),
    st.none(), st.builds(Ago, st.integers(0, 10_000), st.sampled_from(UNITS)))
json_trees = st.recursive(conditions(json_scalars), _groups, max_leaves=10)


@settings(max_examples=150, deadline=None)
@given(trees)
def test_trees_round_trip_through_expressions(tree):
    assert parse(to_expression(tree)) == tree


@settings(max_examples=150, deadline=None)
@given(json_trees)
def test_trees_round_trip_through_json(tree):
    assert from_json(json.loads(json.dumps(to_json(tree)))) == tree


@st.composite
def typed_values(draw, kind):
    if kind == "number":
        return draw(st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False)))
    if kind == "text":
        return draw(st.text(max_size=6))
    if kind == "boolean":
        return draw(st.booleans())
    return draw(st.one_of(st.dates(), st.builds(Ago, st.integers(0, 400), st.sampled_from(UNITS))))


@st.composite
def valid_conditions(draw):
    spec = CATALOG[draw(st.sampled_from(sorted(CATALOG)))]
    ops = {"number": ["=", "!=", "<", "<=", ">", ">=", "in", "not in", "between"],
           "date": ["=", "!=", "<", "<=", ">", ">=", "in", "not in", "between"],
           "text": ["=", "!=", "in", "not in"], "boolean": ["=", "!=", "in", "not in"]}[spec.type]
    op = draw(st.sampled_from([*ops, "is null", "is not null"]))
    value_of = typed_values(spec.type)
    if op in ("in", "not in"):
        value = tuple(draw(st.lists(value_of, min_size=1, max_size=3)))
    elif op == "between":
        value = (draw(value_of), draw(value_of))
        if not any(isinstance(end, Ago) for end in value) and value[0] > value[1]:  # numbers, or dates
            value = value[::-1]
    elif op.startswith("is"):
        value = None
    else:
        value = draw(value_of)
        if op == "=" and value is True and spec.type != "boolean":  # a bare non-boolean field is refused
            op = "!="
    args = {param.name: draw(typed_values(param.type)) for param in spec.params
            if param.required or draw(st.booleans())}
    return Condition(spec.name, op, value, tuple(sorted(args.items())))


@settings(max_examples=150, deadline=None)
@given(st.recursive(valid_conditions(), _groups, max_leaves=8))
def test_valid_trees_survive_validation_and_both_forms(tree):
    # A catalog-valid tree is already normal; JSON loses its dates' type, and validation restores it.
    assert validate(tree, CATALOG) == tree
    assert validate(parse(to_expression(tree)), CATALOG) == tree
    assert validate(from_json(json.loads(json.dumps(to_json(tree)))), CATALOG) == tree
