"""Saved audiences and memberships on the hand-checked KPI shop (tests/features/kpi_shop.py), on
DuckDB and PostgreSQL.

Last purchase orders: A Mar 10, B Jan 10, C Feb 25, D Mar 20, E Mar 5 (2024). The rule
"days_since_last_order > 30" as of Mar 31 holds for B (81 days) and C (35 days); as of Apr 15 for
A (36), B, C and E (41), D (26) not; so A and E enter on Apr 15 and nobody leaves. A rule on
orders from Mar 1 ("last_order_at >= 2024-03-01") as of Mar 31 holds for A, D and E.
"""

from __future__ import annotations

from datetime import date

import pytest

from retainly.audiences.expression import parse
from retainly.errors import InputError, NotFoundError

MARCH, APRIL = date(2024, 3, 31), date(2024, 4, 15)


@pytest.fixture
def shop(kpi_shop_store):
    return kpi_shop_store  # the KPI shop alone, in a fresh store of its own on each engine (tests/conftest.py)


def members(ws, name):
    return sorted(m.customer for m in ws.audiences.members(name))


def test_entering_leaving_and_a_second_evaluation_changing_nothing(shop):
    shop.audiences.save("quiet", "days_since_last_order > 30", "silent for a month")
    first = shop.audiences.evaluate("quiet", MARCH)
    assert (first.members, first.entered, first.left) == (2, 2, 0)
    assert members(shop, "quiet") == ["B", "C"]
    again = shop.audiences.evaluate("quiet", MARCH)
    assert (again.members, again.entered, again.left) == (2, 2, 0)  # the same date's edges, not new ones
    rows = shop.store.fetchall("SELECT COUNT(*) FROM audience_members WHERE audience = 'quiet'")
    assert rows == [(2,)]
    later = shop.audiences.evaluate("quiet", APRIL)
    assert (later.members, later.entered, later.left) == (4, 2, 0)
    assert members(shop, "quiet") == ["A", "B", "C", "E"]
    # Narrowing the rule: those no longer matched leave on the next evaluation, and their stay is kept.
    shop.audiences.save("quiet", "days_since_last_order > 40")
    narrowed = shop.audiences.evaluate("quiet", APRIL)
    assert (narrowed.members, narrowed.left) == (3, 1)  # A (36 days) leaves; B, C, E stay
    history = {(m.customer, m.left_on) for m in shop.audiences.members("quiet", history=True)}
    assert ("A", APRIL) in history and ("B", None) in history


def test_dates_are_evaluated_in_order(shop):
    shop.audiences.save("quiet", "days_since_last_order > 30")
    shop.audiences.evaluate("quiet", APRIL)
    with pytest.raises(InputError) as caught:
        shop.audiences.evaluate("quiet", MARCH)
    assert str(caught.value) == ("audience 'quiet' was last evaluated as of 2024-04-15; evaluate it as of "
                                 "2024-04-15 or later (memberships are kept in date order)")


def test_preview_and_show(shop):
    preview = shop.audiences.preview("last_order_at >= 2024-03-01", MARCH, sample=2)
    assert preview.customers == 3 and [s.customer for s in preview.sample] == ["A", "D"]
    assert sum(s.customers for s in preview.by_stage) == 3
    saved = shop.audiences.save("recent", parse("last_order_at >= 2024-03-01"))
    assert saved.rule == "last_order_at >= 2024-03-01" and saved.members is None
    shop.audiences.evaluate("recent", MARCH)
    assert shop.audiences.show("recent").members == 3
    assert [a.name for a in shop.audiences.list()] == ["recent"]
    shop.audiences.delete("recent")
    with pytest.raises(NotFoundError):
        shop.audiences.show("recent")
    assert shop.store.fetchall("SELECT COUNT(*) FROM audience_members") == [(0,)]


def test_bad_names_and_rules(shop):
    with pytest.raises(InputError) as caught:
        shop.audiences.save("two words", "vip")
    assert "use letters, digits, '_' and '-'" in str(caught.value)
    with pytest.raises(InputError) as caught:
        shop.audiences.save("x", "last_order_at > 60")
    assert str(caught.value).startswith("last_order_at is a date")
