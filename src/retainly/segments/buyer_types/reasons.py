"""A rule label's reason in words, built in the engine (Ibis string expressions).

Tens of millions of customers get a reason each: written in the engine, they go to the store
without one Python string per customer. Rounding is done in integers, half to even as Python's
``round`` does, so every engine (DuckDB, PostgreSQL, Spark) writes the same words:

* percent ``round(100 p / n)``; exact halves occur (5 of 8 is 62.5 %, written 62);
* months ``round(days / 30.4375)`` and years ``days / 365.25`` to one decimal: 30.4375 = 487/16
  and 365.25 = 1461/4 with 487 and 1461 odd, so a day count never falls on a half.
"""

from __future__ import annotations

import ibis
from ibis.expr.types import IntegerValue, StringValue, Table


def words(n: IntegerValue) -> StringValue:
    """An integer as text (no decimals on any engine)."""
    return n.cast("int64").cast("string")


def rounded_half_even(numerator: IntegerValue, denominator: IntegerValue) -> IntegerValue:
    """``round(numerator / denominator)`` for non-negative integers, ties to the even neighbour."""
    doubled, twice = 2 * numerator + denominator, 2 * denominator
    nearest = (doubled // twice).cast("int64")  # floor(n/d + 1/2)
    tie_to_odd = ((doubled % twice) == 0) & ((nearest % 2) == 1)
    return tie_to_odd.ifelse(nearest - 1, nearest)


def duration(days: IntegerValue) -> StringValue:
    """'1 day', 'N days' under 60, 'N months' under 730, else years to one decimal ('2.5 years', '3 years')."""
    months = ((32 * days + 487) // 974).cast("int64")  # round(days * 16 / 487)
    tenths = ((80 * days + 1461) // 2922).cast("int64")  # round(days * 40 / 1461): years x 10
    whole, decimal = (tenths // 10).cast("int64"), tenths % 10
    years = words(whole) + (decimal == 0).ifelse(ibis.literal(""), "." + words(decimal)) + " years"
    return ibis.cases(
        (days == 1, ibis.literal("1 day")),
        (days < 60, words(days) + " days"),
        (days < 730, words(months) + " months"),
        else_=years,
    )


def reason(rules: Table, *, phrase: str, known: bool, enough_days: int, not_enough: str) -> StringValue:
    """The reason of each row of ``rules`` (label, orders, promoted_orders, span, days_since_last, age).

    ``phrase`` says what a promoted order is ('with a promo code or in a sale'); ``known`` whether any
    promotion source exists; ``enough_days`` the history a rule label needs."""
    n, promoted, span, since = rules.orders, rules.promoted_orders, rules.span, rules.days_since_last
    orders = (n == 1).ifelse(ibis.literal("1 order"), words(n) + " orders")
    promo = (words(promoted) + " of " + words(n) + " promoted") if known else ibis.literal("promotions unknown")
    percent = rounded_half_even(100 * promoted, n)
    discount = ("discount_only: " + words(promoted) + " of " + words(n) + f" orders {phrase} ("
                + words(percent) + " %)")
    within = (n == 1).ifelse(ibis.literal(""), " within " + words(span) + " days")
    gone = "hit_and_run: " + orders + within + ", none in the " + words(since) + " days since"
    last = ibis.cases((since == 0, ibis.literal("the last today")), (since == 1, ibis.literal("the last yesterday")),
                      else_="the last " + words(since) + " days ago")
    over = (span == 0).ifelse(ibis.literal("on one day"), "over " + duration(span))
    active = "active: " + orders + " " + over + ", " + last + ", " + promo
    young = "first order " + words(rules.age) + f" days ago; a rule label needs {int(enough_days)}"
    return ibis.cases(
        (rules.label == not_enough, young),
        (rules.label == "discount_only", discount),
        (rules.label == "hit_and_run", gone),
        else_=active,
    )
