"""Rule trees compiled to Ibis: who matches a rule as of a date, computed inside the engine.

As of a day D, "now" is the end of D (``end_of(D)``); orders, returns, site events and contacts
after it are ignored, so a past D answers as of that day. Derived per-date tables (RFM,
predictions, stages, signs, buyer types, reorders, offers) are read for exactly D; a customer
without a row there has null fields.

Only the sources a rule's fields need (retainly.audiences.fields.SIMPLE) are left-joined to
``customers``: a rule on ``country`` reads the customers table alone. Each distinct
parameterised condition (``bought(sku=...)``) joins one per-customer table of its own.

Null semantics: a condition whose field is null is false, and its ``not`` is true (each
condition is coalesced to false before the tree combines them).

Dates: a date value (``2024-05-01``) stands for the whole day: ``last_order_at < 2024-05-01``
is before that day, ``<= 2024-05-01`` through its end, ``=`` during it. A relative date
(``Ago(60, "days")``) is the instant that long before now, calendar months and years
included (31 March less a month is 29 February); ``=`` with it means the day that ends at it.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import ibis
from ibis.expr.types import Table

from retainly.audiences.fields import CATALOG, SIMPLE, SOURCES, Context
from retainly.audiences.parameterised import PARAMETERISED, checked_args
from retainly.audiences.tree import AllOf, Ago, AnyOf, Condition, Not, Rule
from retainly.errors import InputError
from retainly.features.model_summary import end_of
from retainly.store.backends import Store


# -- the compiler ----------------------------------------------------------------------------------
def matching(store: Store, rule: Rule, as_of: date) -> Table:
    """One column, customer_id: every customer known by the end of ``as_of`` (first seen by then, or
    never recorded as first seen) for whom ``rule`` holds as of ``as_of``."""
    ctx = Context(store, as_of)
    conditions = list(_conditions(rule))
    simple = [c.field for c in conditions if c.field in SIMPLE]
    parameterised = {(c.field, c.args): None for c in conditions if c.field not in SIMPLE}
    table = _joined(ctx, simple)
    columns: dict = {}
    for number, (name, args) in enumerate(parameterised):
        extra, fill = PARAMETERISED[name](ctx, checked_args(Condition(name, "=", None, args)))
        column = f"param_{number}"
        table = table.left_join(extra.rename(**{column: "flag"}), "customer_id").drop("customer_id_right")
        columns[(name, args)] = column, fill
    values = {}
    for condition in conditions:
        if condition.field in SIMPLE:
            values[id(condition)] = SIMPLE[condition.field][1](table, ctx)
        else:
            column, fill = columns[(condition.field, condition.args)]
            values[id(condition)] = table[column] if fill is None else table[column].fill_null(fill)
    return table.filter(_predicate(rule, values, ctx)).select("customer_id")


def fields_table(store: Store, names: Iterable[str], as_of: date) -> Table:
    """customer_id and the named simple (argument-free) fields of every customer, as of ``as_of``."""
    ctx = Context(store, as_of)
    names = list(names)
    for name in names:
        if name not in SIMPLE:
            _spec(name)  # unknown: InputError
            raise InputError(f"field `{name}` takes arguments; use it in a rule instead", parameter="fields")
    table = _joined(ctx, names)
    return table.select("customer_id", **{name: SIMPLE[name][1](table, ctx) for name in names})


def _spec(name: str):
    try:
        return CATALOG[name]
    except KeyError:
        raise InputError(f"unknown field `{name}`; `retainly audiences fields` lists them", parameter="field") from None


def _conditions(rule: Rule) -> Iterable[Condition]:
    if isinstance(rule, Condition):
        _spec(rule.field)
        yield rule
    elif isinstance(rule, Not):
        yield from _conditions(rule.rule)
    else:
        for part in rule.rules:
            yield from _conditions(part)


def _joined(ctx: Context, names: Iterable[str]) -> Table:
    """``customers`` left-joined to the sources the simple fields ``names`` need, each once."""
    needed: list[str] = []
    for name in names:
        for source in SIMPLE[name][0]:
            if source not in needed:
                needed.append(source)
    table = ctx.store.table("customers")
    # As of a past day, customers first seen after it did not exist yet (an unknown first contact counts).
    table = table.filter(table.first_seen_at.isnull() | (table.first_seen_at < ctx.now))
    for source in needed:
        table = table.left_join(SOURCES[source](ctx), "customer_id").drop("customer_id_right")
    return table


def _predicate(rule: Rule, values: dict, ctx: Context):
    if isinstance(rule, AllOf):
        parts = [_predicate(part, values, ctx) for part in rule.rules]
        return ibis.and_(*parts) if parts else ibis.literal(True)
    if isinstance(rule, AnyOf):
        parts = [_predicate(part, values, ctx) for part in rule.rules]
        return ibis.or_(*parts) if parts else ibis.literal(False)
    if isinstance(rule, Not):
        return ~_predicate(rule.rule, values, ctx)
    return _condition(values[id(rule)], CATALOG[rule.field].type, rule, ctx).fill_null(False)


# -- one condition ---------------------------------------------------------------------------------
def _condition(value, kind: str, condition: Condition, ctx: Context):
    op, given = condition.op, condition.value
    if op == "is null":
        return value.isnull()
    if op == "is not null":
        return value.notnull()
    if kind == "date":
        return _date_condition(value, condition, ctx)
    if op in ("in", "not in"):
        items = [_plain(condition, item) for item in (given if isinstance(given, tuple) else (given,))]
        return value.isin(items) if op == "in" else value.notin(items)
    if op == "between":
        low, high = _pair(condition)
        return value.between(_plain(condition, low), _plain(condition, high))
    return _compare(value, op, _plain(condition, given))


def _compare(value, op: str, other):
    return {"=": value == other, "!=": value != other, "<": value < other, "<=": value <= other,
            ">": value > other, ">=": value >= other}[op]


def _plain(condition: Condition, item):
    """A value for a number, text or boolean field."""
    if isinstance(item, (Ago, date)) or item is None or isinstance(item, tuple):
        raise InputError(f"field `{condition.field}` is a {CATALOG[condition.field].type}; compare it with a "
                         f"{CATALOG[condition.field].type}, not {item!r}", parameter="value")
    return item


def _pair(condition: Condition) -> tuple:
    if not isinstance(condition.value, tuple) or len(condition.value) != 2:
        raise InputError(f"`between` on field `{condition.field}` takes two values, got {condition.value!r}",
                         parameter="value")
    return condition.value


@dataclass(frozen=True)
class Span:
    """A date value as instants: a whole day is [start, end); a relative date is the point start = end."""

    start: datetime
    end: datetime
    point: bool

    def day(self) -> Span:
        """The day a point ends (the last instant before it falls in), or the day itself."""
        if not self.point:
            return self
        day = (self.start - timedelta(microseconds=1)).date()
        return Span(datetime(day.year, day.month, day.day), end_of(day), False)


def _span(condition: Condition, item, ctx: Context) -> Span:
    if isinstance(item, Ago):
        moment = _before(ctx.now, item)
        return Span(moment, moment, True)
    if isinstance(item, str):
        try:
            item = datetime.fromisoformat(item) if "T" in item or " " in item.strip() else date.fromisoformat(item)
        except ValueError:
            raise InputError(f"field `{condition.field}` is a date; {item!r} is not a date such as 2024-05-01 or "
                             "a relative one such as 60 days ago", parameter="value") from None
    if isinstance(item, datetime):
        return Span(item, item, True)
    if isinstance(item, date):
        return Span(datetime(item.year, item.month, item.day), end_of(item), False)
    raise InputError(f"field `{condition.field}` is a date; compare it with a date such as 2024-05-01 or a relative "
                     f"one such as 60 days ago, not {item!r}", parameter="value")


def _before(moment: datetime, ago: Ago) -> datetime:
    """``moment`` less ``ago``; months and years are calendar ones, clamped to the month's last day."""
    if ago.unit in ("hours", "days", "weeks"):
        return moment - timedelta(**{ago.unit: ago.amount})
    months = ago.amount * (12 if ago.unit == "years" else 1)
    total = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(total, 12)
    return moment.replace(year=year, month=month + 1, day=min(moment.day, calendar.monthrange(year, month + 1)[1]))


def _date_condition(value, condition: Condition, ctx: Context):
    if value.type().is_date():
        value = value.cast("timestamp")
    op, given = condition.op, condition.value

    def equal(span: Span):
        span = span.day()
        return (value >= span.start) & (value < span.end)

    def at_most(span: Span):
        return value <= span.end if span.point else value < span.end

    if op in ("in", "not in"):
        spans = [_span(condition, item, ctx) for item in (given if isinstance(given, tuple) else (given,))]
        hit = ibis.or_(*[equal(span) for span in spans]) if spans else ibis.literal(False)
        # "not in" on a null date stays null (false after coalescing), like every other condition.
        return hit if op == "in" else ibis.ifelse(value.isnull(), ibis.null("boolean"), ~hit)
    if op == "between":
        low, high = (_span(condition, item, ctx) for item in _pair(condition))
        return (value >= low.start) & at_most(high)
    span = _span(condition, given, ctx)
    if op == "=":
        return equal(span)
    if op == "!=":
        day = span.day()
        return (value < day.start) | (value >= day.end)
    if op == "<":
        return value < span.start
    if op == "<=":
        return at_most(span)
    if op == ">":
        return value > span.end if span.point else value >= span.end
    if op == ">=":
        return value >= span.start
    raise InputError(f"unknown operator {op!r} on field `{condition.field}`", parameter="op")
