"""Audiences: who, by rule (docs/audiences.md). The field catalog, previews, saved audiences and
their memberships; rules come as trees, JSON or one-line expressions."""

from __future__ import annotations

from datetime import date

from retainly.audiences import membership
from retainly.audiences.compile import matching
from retainly.audiences.expression import parse, to_expression
from retainly.audiences.fields import CATALOG
from retainly.audiences.preview import preview
from retainly.audiences.rule_files import load_rule_file
from retainly.audiences.tree import AllOf, AnyOf, Condition, Not, Rule, from_json
from retainly.audiences.validate import validate
from retainly.errors import InputError
from retainly.results.actions import (Audience, AudienceEvaluation, AudienceField, AudienceMember, AudiencePreview,
                                      SampleCustomer, Share)
from retainly.services.base import Service

# The derived result each group of fields reads, computed for the date first when missing.
NEEDS = {"rfm": "rfm", "predictions": "predictions", "lifecycle": "lifecycle", "buyer type": "insights",
         "reorders": "insights", "offers": "offers"}


def field_names(rule: Rule) -> set[str]:
    """Every field a rule names."""
    if isinstance(rule, Condition):
        return {rule.field}
    if isinstance(rule, Not):
        return field_names(rule.rule)
    assert isinstance(rule, (AllOf, AnyOf))
    return set().union(*(field_names(r) for r in rule.rules)) if rule.rules else set()


def _expression(rule: Rule) -> str:
    """A stored rule as an expression, its dates as dates (JSON keeps them as text)."""
    try:
        return to_expression(validate(rule, CATALOG))
    except InputError:  # a field this retainly no longer knows: show the rule as stored
        return to_expression(rule)


class AudienceService(Service):
    """Rules over customer fields, evaluated in the engine."""

    def fields(self) -> list[AudienceField]:
        """The catalog of fields a rule may use."""
        return [AudienceField(name=f.name, type=f.type, group=f.group, help=f.help,
                              arguments=", ".join(f"{p.name}{'' if p.required else '?'} ({p.type})" for p in f.params))
                for f in CATALOG.values()]

    def rule(self, rule: Rule | dict | str) -> Rule:
        """A checked rule from a tree, its JSON form or a one-line expression."""
        if isinstance(rule, str):
            rule = parse(rule)
        elif isinstance(rule, dict):
            rule = from_json(rule)
        checked = validate(rule, CATALOG)
        matching(self.store, checked, date.today())  # builds (never runs) the query: argument errors show now
        return checked

    def prepare(self, rule: Rule, as_of: date | None) -> date:
        """The date (default: the last order), with the derived results the rule's fields read."""
        as_of = self.as_of(as_of)
        groups = {CATALOG[name].group for name in field_names(rule) if name in CATALOG}
        for name in sorted({NEEDS[g] for g in groups if g in NEEDS}):
            self.ensure_derived(name, as_of)
        return as_of

    def preview(self, rule: Rule | dict | str, as_of: date | None = None, sample: int = 10) -> AudiencePreview:
        """How many customers a rule selects, a sample, and their stages and segments."""
        checked = self.rule(rule)
        as_of = self.prepare(checked, as_of)
        self.ensure_derived("lifecycle", as_of)
        self.ensure_derived("rfm", as_of)
        found = preview(self.analytics, checked, as_of, sample)
        return AudiencePreview(
            as_of=as_of, rule=to_expression(checked), customers=found["count"],
            sample=[SampleCustomer(**row) for row in found["sample"]],
            by_stage=[Share(value=v, customers=n) for v, n in found["by_stage"]],
            by_segment=[Share(value=v, customers=n) for v, n in found["by_segment"]])

    def save(self, name: str, rule: Rule | dict | str, description: str | None = None) -> Audience:
        """Save (or replace) an audience by name."""
        membership.save(self.store, name, self.rule(rule), description)
        return self.show(name)

    def save_file(self, path: str) -> list[Audience]:
        """Save every audience of a TOML or YAML rule file (``retainly.audiences.rule_files``); all are
        checked before any is saved."""
        found = load_rule_file(path)
        checked = {}
        for name, entry in found.items():
            try:
                checked[name] = (self.rule(entry["rule"]), entry.get("description"))
            except InputError as exc:
                raise InputError(f"{path}: audience {name}: {exc}") from None
        return [self.save(name, rule, description) for name, (rule, description) in checked.items()]

    def show(self, name: str) -> Audience:
        found = membership.get(self.store, name)
        last = membership.last_evaluation(self.store, name)
        return Audience(name=found.name, rule=_expression(found.rule), description=found.description,
                        members=None if last is None else int(last[1]), last_evaluated=None if last is None else last[0])

    def list(self) -> list[Audience]:
        return [self.show(found.name) for found in membership.saved(self.store)]

    def delete(self, name: str) -> None:
        membership.delete(self.store, name)

    def evaluate(self, name: str, as_of: date | None = None) -> AudienceEvaluation:
        """Bring a saved audience's membership up to ``as_of``: who entered and who left."""
        found = membership.get(self.store, name)
        rule = validate(found.rule, CATALOG)
        as_of = self.prepare(rule, as_of)
        counts = membership.evaluate(self.analytics, name, rule, as_of)
        return AudienceEvaluation(audience=name, as_of=as_of, **counts)

    def members(self, name: str, limit: int | None = 100, history: bool = False) -> list[AudienceMember]:
        membership.get(self.store, name)
        return [AudienceMember(**row) for row in membership.members(self.store, name, limit, history)]
