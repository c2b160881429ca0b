"""Checking rules against a small field catalog built here (one field of each type, and
parameterised fields). Expected messages are written out by hand: they are the interface."""

from datetime import date, datetime

import pytest

from retainly.audiences.expression import parse
from retainly.audiences.tree import AllOf, Ago, AnyOf, Condition, FieldSpec, Not, Param, from_json
from retainly.audiences.validate import validate
from retainly.errors import InputError


def _field(name, kind, group="test", params=()):
    return FieldSpec(name=name, type=kind, group=group, help=f"{name} for tests", params=params)


_WITHIN = Param("within_days", "number", "only the last N days")
CATALOG = {
    spec.name: spec
    for spec in (
        _field("days_since_last_order", "number"),
        _field("age", "number"),
        _field("clv", "number"),
        _field("country", "text"),
        _field("gender", "text"),
        _field("stage", "text"),
        _field("email", "text"),
        _field("phone", "text"),
        _field("last_order_at", "date"),
        _field("first_order_at", "date"),
        _field("email_consent", "boolean"),
        _field("vip", "boolean"),
        _field("bought", "boolean", params=(Param("sku", "text", "a SKU"), Param("category", "text", "a category"),
                                            _WITHIN)),
        _field("reorder_due", "boolean", params=(Param("sku", "text", "a SKU"),
                                                 Param("category", "text", "a category"))),
        _field("event_count", "number", params=(Param("kind", "text", "visit, cart, view", required=True),
                                                _WITHIN)),
        _field("cart_abandoned", "boolean", params=(Param("within_hours", "number", "hours", required=True),)),
        _field("orders_since", "number", params=(Param("since", "date", "a day", required=True),)),
        _field("holdout", "boolean", params=(Param("playbook", "text", "a playbook"),
                                             Param("treated", "boolean", "the arm"))),
    )
}


def check(text: str):
    return validate(parse(text), CATALOG)


def error_of(rule) -> str:
    with pytest.raises(InputError) as caught:
        validate(parse(rule) if isinstance(rule, str) else rule, CATALOG)
    return str(caught.value)


# -- valid rules come back normalised -------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "days_since_last_order > 60 and stage in [at_risk, lapsed] and email_consent",
    "not (country = \"DE\" or country = 'AT')",
    'gender = female and age < 30 and bought(category="Baby 0-2")',
    'bought(sku="FILTER-100") = false',
    "event_count(kind=visit, within_days=60) = 0",
    "cart_abandoned(within_hours=24)",
    "last_order_at < 60 days ago",
    "first_order_at between 2024-01-01 and 2024-03-31",
    "clv >= 100.5",
    "email is not null",
    "phone is null",
    'reorder_due(category="Coffee & Tea")',
    "stage not in [lost]",
    "vip",
    "not vip",
    "vip in [true] and vip != false and clv between -1 and 2.5 and orders_since(since=2024-01-01) > 0",
])
def test_the_examples_are_valid_and_unchanged(text):
    # These trees are already normal (dates are dates, groups flat): validation returns them as they are.
    assert check(text) == parse(text)


def test_iso_date_strings_from_json_become_dates_in_values_lists_and_arguments():
    rule = from_json({"all": [
        {"field": "last_order_at", "op": ">=", "value": "2024-05-01"},
        {"field": "first_order_at", "op": "between", "value": ["2024-01-01", "2024-03-31"]},
        {"field": "first_order_at", "op": "in", "value": ["2024-02-29", {"ago": 3, "unit": "weeks"}]},
        {"field": "orders_since", "args": {"since": "2023-12-31"}, "op": ">", "value": 1},
    ]})
    assert validate(rule, CATALOG) == AllOf((
        Condition("last_order_at", ">=", date(2024, 5, 1)),
        Condition("first_order_at", "between", (date(2024, 1, 1), date(2024, 3, 31))),
        Condition("first_order_at", "in", (date(2024, 2, 29), Ago(3, "weeks"))),
        Condition("orders_since", ">", 1, (("since", date(2023, 12, 31)),)),
    ))


def test_json_and_expression_forms_validate_to_equal_trees():
    json_form = from_json({"any": [
        {"all": [{"field": "vip", "op": "=", "value": True},
                 {"all": [{"field": "last_order_at", "op": "<", "value": "2024-01-31"}]}]},
        {"any": [{"field": "stage", "op": "in", "value": ["lost"]}]},
    ]})
    expression = parse("vip and last_order_at < 2024-01-31 or stage in [lost]")
    assert validate(json_form, CATALOG) == expression
    # Nested groups of one kind flatten and a group of one is its rule.
    assert validate(json_form, CATALOG) == AnyOf((
        AllOf((Condition("vip", "=", True), Condition("last_order_at", "<", date(2024, 1, 31)))),
        Condition("stage", "in", ("lost",)),
    ))


def test_lists_given_by_code_become_tuples_and_arguments_stay_sorted():
    rule = Condition("event_count", "in", [0, 1], (("within_days", 7), ("kind", "visit")))
    assert validate(rule, CATALOG) == Condition("event_count", "in", (0, 1), (("kind", "visit"), ("within_days", 7)))


def test_not_is_kept_and_its_rule_checked():
    assert validate(Not(Not(Condition("vip", "=", True))), CATALOG) == Not(Not(Condition("vip", "=", True)))
    assert error_of(Not(Condition("vipp", "=", True))).startswith("unknown field 'vipp'")


# -- every fault, with its message -----------------------------------------------------------------


@pytest.mark.parametrize("rule, message", [
    ("days_since_last_ordr > 60",
     "unknown field 'days_since_last_ordr'; did you mean days_since_last_order? See `retainly audiences fields`"),
    ("emial = x", "unknown field 'emial'; did you mean email? See `retainly audiences fields`"),
    ("colour = green",
     "unknown field 'colour'; did you mean holdout or country? See `retainly audiences fields`"),
    ("stages in [lost]",
     "unknown field 'stages'; did you mean stage or age? See `retainly audiences fields`"),
    ("wishlist = 2",
     "unknown field 'wishlist'; see `retainly audiences fields` for the fields a rule can use"),
    ("vip(x=1)", "vip takes no arguments; write vip without (x)"),
    ('bought(colour="red", size=2)', "bought has no arguments colour, size; its arguments are sku, category, "
                                     "within_days"),
    ("event_count(within_days=3) > 0", "event_count needs the argument kind, as in event_count(kind=...)"),
    ("cart_abandoned", "cart_abandoned needs the argument within_hours, as in cart_abandoned(within_hours=...)"),
    ("bought(within_days=ninety)",
     'bought(within_days=...) takes a number; give it a number (60), not "ninety"'),
    ("bought(sku=100)", 'bought(sku=...) takes text; give it text ("DE"), not 100'),
    ("orders_since(since=30) > 1",
     "orders_since(since=...) takes a date; give it a date (2024-05-01) or a relative date (60 days ago), not 30"),
    ("holdout(treated=1)", "holdout(treated=...) takes yes or no; give it true or false, not 1"),
    ("last_order_at < 60",
     "last_order_at is a date; compare it with a date (2024-05-01) or a relative date (60 days ago), not 60"),
    ('last_order_at < "last spring"', "last_order_at is a date; compare it with a date (2024-05-01) or a "
                                      'relative date (60 days ago), not "last spring"'),
    ('last_order_at = "2024-02-30"', "last_order_at: 2024-02-30 is not a date; write a real date as YYYY-MM-DD"),
    ("days_since_last_order > sixty",
     'days_since_last_order is a number; compare it with a number (60), not "sixty"'),
    ("days_since_last_order > 60 days ago",
     "days_since_last_order is a number; compare it with a number (60), not 60 days ago"),
    ("age < 2024-01-01", "age is a number; compare it with a number (60), not 2024-01-01"),
    ("country = 49", 'country is text; compare it with text ("DE"), not 49'),
    ("country = true", 'country is text, not yes or no; write a comparison such as country = "..."'),
    ("stage", 'stage is text, not yes or no; write a comparison such as stage = "..."'),
    ("clv", "clv is a number, not yes or no; write a comparison such as clv > 0"),
    ("last_order_at", "last_order_at is a date, not yes or no; write a comparison such as last_order_at < 60 days ago"),
    ("vip = 1", "vip is yes or no; compare it with true or false, not 1"),
    ('vip != "no"', 'vip is yes or no; compare it with true or false, not "no"'),
    ("vip > false", "vip is yes or no; write vip, not vip or vip = false, not >"),
    ("vip between false and true", "vip is yes or no; write vip, not vip or vip = false, not between"),
    ("country < DE", "country is text; compare it with =, !=, in or not in, not <"),
    ("stage between a and b", "stage is text; compare it with =, !=, in or not in, not between"),
    ("stage in []", "stage in [] lists no values; give at least one"),
    ("stage not in [lost, 3]", 'stage is text; list text ("DE"), not 3'),
    ("clv in [1, null]", "clv is a number; list a number (60), not null"),
    ("clv = null", "clv = null compares with nothing; write clv is null or clv is not null"),
    ("clv between 10 and 5", "clv between 10 and 5 matches nobody; write the low end first"),
    ("first_order_at between 2024-03-31 and 2024-01-01",
     "first_order_at between 2024-03-31 and 2024-01-01 matches nobody; write the low end first"),
    ("clv between 1 and x", 'clv is a number; give it a number (60), not "x"'),
])
def test_faults_in_expressions(rule, message):
    assert error_of(rule) == message


@pytest.mark.parametrize("rule, message", [
    ({"field": "stage", "op": "in", "value": "lost"},
     'stage in takes a list, such as stage in ["a", "b"], not "lost"'),
    ({"field": "clv", "op": "between", "value": [1, 2, 3]},
     "clv between takes two values, the low and the high end (clv between 1 and 5), not [1, 2, 3]"),
    ({"field": "last_order_at", "op": "between", "value": "2024-01-01"},
     "last_order_at between takes two values, the low and the high end "
     "(last_order_at between 2024-01-01 and 2024-03-31), not \"2024-01-01\""),
    ({"field": "clv", "op": ">", "value": [1]},
     "clv > takes one value, not a list; use in [...] to match any of several"),
    ({"field": "email", "op": "is null", "value": True}, "email is null takes no value; drop true"),
    ({"field": "clv", "op": ">"}, "clv > null compares with nothing; write clv is null or clv is not null"),
    ({"field": "clv", "op": ">", "value": True}, "clv is a number; compare it with a number (60), not true"),
    ({"field": "clv", "op": ">", "value": float("inf")},
     "clv: inf is not a number a rule can compare with; give a finite number"),
    ({"field": "last_order_at", "op": "<", "value": {"ago": -5, "unit": "days"}},
     "last_order_at: -5 days ago needs a whole number (0 or more) of days"),
    ({"all": []}, "rule: an empty 'all' has nothing to check; give it at least one rule"),
    ({"any": [{"field": "vip", "op": "=", "value": True}, {"any": []}]},
     "rule: an empty 'any' has nothing to check; give it at least one rule"),
])
def test_faults_in_json(rule, message):
    assert error_of(from_json(rule)) == message


def test_faults_only_code_can_make():
    assert error_of(Condition("clv", "~", 1)) == (
        "clv: unknown operator '~'; use one of =, !=, <, <=, >, >=, in, not in, between, is null, is not null")
    assert error_of(Condition("last_order_at", "<", Ago(5, "fortnights"))) == (
        "last_order_at: unknown unit 'fortnights'; use one of hours, days, weeks, months, years")
    assert error_of(Condition("last_order_at", "<", datetime(2024, 5, 1, 10, 30))) == (
        "last_order_at is a date without a time; give 2024-05-01, not 2024-05-01 10:30:00")
    assert error_of("not stage").startswith("stage is text, not yes or no")
    assert error_of("vip and (stage or vip)").startswith("stage is text, not yes or no")


def test_the_first_fault_is_reported_and_nothing_is_returned_half_checked():
    # Both conditions are wrong; the message names the first one written.
    assert error_of("clv > x and wishlist = green") == 'clv is a number; compare it with a number (60), not "x"'
