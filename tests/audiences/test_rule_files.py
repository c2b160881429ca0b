"""Audience files in TOML and YAML: both shapes of rule, and every error naming file and place.
Expected trees and messages are written out by hand."""

import re
from datetime import date

import pytest

from retainly.audiences.rule_files import load_rule_file
from retainly.audiences.tree import AllOf, Ago, Condition, Not
from retainly.audiences.validate import validate
from retainly.errors import InputError, NotFoundError
from tests.audiences.test_validate import CATALOG

COFFEE = AllOf((Condition("bought", "=", True, (("sku", "COFFEE-MACHINE"),)),
                Condition("reorder_due", "=", True, (("sku", "FILTERS"),))))
WIN_BACK = AllOf((Condition("days_since_last_order", ">", 180), Condition("email_consent", "=", True)))

TOML = """\
[audiences.coffee_filters_due]
description = "Coffee-machine buyers whose filters are due"
rule = 'bought(sku="COFFEE-MACHINE") and reorder_due(sku="FILTERS")'

[audiences.win_back]
rule = { all = [ { field = "days_since_last_order", op = ">", value = 180 }, { field = "email_consent", op = "=", value = true } ] }

[playbooks.ignored]
anything = 1
"""

YAML = """\
audiences:
  coffee_filters_due:
    description: Coffee-machine buyers whose filters are due
    rule: bought(sku="COFFEE-MACHINE") and reorder_due(sku="FILTERS")
  win_back:
    rule:
      all:
        - {field: days_since_last_order, op: ">", value: 180}
        - {field: email_consent, op: "=", value: true}
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name, text", [("rules.toml", TOML), ("rules.yaml", YAML), ("rules.YML", YAML)])
def test_both_shapes_of_rule_in_both_formats(tmp_path, name, text):
    audiences = load_rule_file(write(tmp_path, name, text))
    assert list(audiences) == ["coffee_filters_due", "win_back"]
    assert audiences["coffee_filters_due"] == {"rule": COFFEE,
                                               "description": "Coffee-machine buyers whose filters are due"}
    assert audiences["win_back"] == {"rule": WIN_BACK, "description": None}


def test_dates_read_by_toml_and_yaml_and_written_as_text_agree_after_validation(tmp_path):
    # TOML and YAML read a bare 2024-01-01 as a date; in quotes it is text, as in JSON.
    toml = load_rule_file(write(tmp_path, "d.toml", """\
[audiences.a]
rule = { field = "first_order_at", op = "between", value = [2024-01-01, "2024-03-31"] }
[audiences.b]
rule = { not = { field = "last_order_at", op = "<", value = { ago = 2, unit = "weeks" } } }
"""))
    yaml = load_rule_file(write(tmp_path, "d.yaml", """\
audiences:
  a: {rule: {field: first_order_at, op: between, value: [2024-01-01, "2024-03-31"]}}
  b: {rule: "not last_order_at < 2 weeks ago"}
"""))
    expected_a = Condition("first_order_at", "between", (date(2024, 1, 1), date(2024, 3, 31)))
    expected_b = Not(Condition("last_order_at", "<", Ago(2, "weeks")))
    for audiences in (toml, yaml):
        assert validate(audiences["a"]["rule"], CATALOG) == expected_a
        assert audiences["b"]["rule"] == expected_b


def test_a_utf8_bom_is_fine(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[audiences.v]\nrule = 'vip'\n")
    assert load_rule_file(path) == {"v": {"rule": Condition("vip", "=", True), "description": None}}


@pytest.mark.parametrize("name, text, message", [
    ("r.toml", "[audiences.x]\nrule = 'days_since_last_order > 60 nad vip'\n",
     "{path}: audience x: rule, column 28: unexpected 'nad'; expected and, or, a unit (hours, days, weeks, months, "
     "years), or the end of the rule"),
    ("r.yaml", "audiences:\n  x:\n    rule: 'vip and'\n",
     "{path}: audience x: rule, column 8: the rule ends too early; expected a field, not, or '('"),
    ("r.toml", "[audiences.x]\nrule = { all = [ { field = 'a', op = '~' } ] }\n",
     "{path}: audience x: rule.all[0]: unknown operator '~'; use one of =, !=, <, <=, >, >=, in, not in, between, "
     "is null, is not null"),
    ("r.toml", "[audiences.x]\nrule = ''\n",
     "{path}: audience x: rule: the rule is empty; write a condition such as days_since_last_order > 60"),
    ("r.toml", "[audiences.x]\nrule = 5\n",
     "{path}: audience x: rule: expected an expression in quotes or a table of all, any, not or field, got 5"),
    ("r.toml", "[audiences.x]\nrul = 'vip'\n",
     "{path}: audience x: unknown key 'rul'; an audience has rule and description"),
    ("r.toml", "[audiences.x]\ndescription = 'no rule'\n",
     "{path}: audience x: no rule; add rule = '...' (an expression or the rule's JSON shape)"),
    ("r.toml", "[audiences.x]\nrule = 'vip'\ndescription = 3\n", "{path}: audience x: description is text, not 3"),
    ("r.toml", "[audiences]\nx = 'vip'\n",
     "{path}: audience x: write the rule as rule = '...' (with an optional description)"),
    ("r.yaml", "audiences:\n  x: [vip]\n", "{path}: audience x: expected rule and description, got ['vip']"),
    ("r.yaml", "audiences:\n  1: {rule: vip}\n", "{path}: audience name 1 is not a name; use text such as win_back"),
    ("r.toml", "[playbooks.x]\na = 1\n", "{path}: no audiences in the file; write [audiences.NAME] with rule = '...'"),
    ("r.yaml", "", "{path}: no audiences in the file; write audiences: with NAME: {{rule: ...}} beneath it"),
    ("r.toml", "audiences = []\n",
     "{path}: audiences holds no named audiences; write [audiences.NAME] with rule = '...'"),
    # Syntax errors: lines and columns from 1, counted by hand.
    ("r.toml", "[audiences.x]\nrule = = 'vip'\n", "{path}, line 2, column 8: not valid TOML: invalid value"),
    ("r.toml", "[audiences.x]\nrule = 'vip'\nrule = 'vip'\n",
     "{path}, line 3, column 13: not valid TOML: cannot overwrite a value"),
    ("r.yaml", "audiences:\n  x: [1,\n  y: 2: 3\n",
     "{path}, line 3, column 7: not valid YAML: expected ',' or ']', but got ':'"),
    ("r.yaml", "audiences:\n  x:\n    rule: vip\n  x:\n    rule: vip\n",
     "{path}, line 4, column 3: not valid YAML: the key 'x' is given twice; keep one"),
    ("r.yaml", "audiences:\n\tx: 1\n",
     "{path}, line 2, column 1: not valid YAML: found character '\\t' that cannot start any token"),
    ("r.json", "{}", "{path}: an audience file ends in .toml, .yaml or .yml, not .json"),
])
def test_errors_name_the_file_and_the_place(tmp_path, name, text, message):
    path = write(tmp_path, name, text)
    with pytest.raises(InputError) as caught:
        load_rule_file(path)
    assert str(caught.value) == message.format(path=path)


def test_a_file_that_is_not_utf8_or_not_there(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes("[audiences.x]\nrule = 'country = \"Österreich\"'\n".encode("latin-1"))
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: byte 34 is not UTF-8; save the file as UTF-8$"):
        load_rule_file(path)
    with pytest.raises(NotFoundError, match="missing.yaml: no such file"):
        load_rule_file(tmp_path / "missing.yaml")
