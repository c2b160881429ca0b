"""The shop's own attributes per customer, on the hand-checked KPI shop (customers A-E), on DuckDB
and PostgreSQL: set from a file or one by one, used by audience rules, and all-or-nothing."""

from __future__ import annotations

import pytest

from retainly.errors import InputError, NotFoundError


@pytest.fixture
def shop(kpi_shop_store):
    return kpi_shop_store  # the KPI shop alone, in a fresh store of its own on each engine (tests/conftest.py)


def stored(ws):
    return sorted(ws.store.fetchall("SELECT c.external_id, a.name, a.value FROM customer_attributes a "
                                    "JOIN customers c ON c.customer_id = a.customer_id"))


def test_a_file_sets_attributes_that_rules_can_use(shop, tmp_path):
    path = tmp_path / "likes.csv"
    path.write_text("customer_id,Likes,Preferred Channel\nA,green,sms\nB,,email\nC,red,\nA,blue,\n", encoding="utf-8")
    done = shop.customers.import_attributes(str(path))
    assert done == {"customers": 3, "attributes": ["likes", "preferred_channel"], "values": 4}
    # A listed twice: the later line wins; empty cells set nothing.
    assert stored(shop) == [("A", "likes", "blue"), ("A", "preferred_channel", "sms"),
                            ("B", "preferred_channel", "email"), ("C", "likes", "red")]
    preview = shop.audiences.preview('attribute(name=likes) in [blue, red]')
    assert sorted(s.customer for s in preview.sample) == ["A", "C"]
    shop.customers.set_attribute("C", "likes", "green")
    assert ("C", "likes", "green") in stored(shop)


def test_errors_name_the_line_and_write_nothing(shop, tmp_path):
    path = tmp_path / "likes.csv"
    path.write_text("customer_id,likes\nA,green\nZZ,red\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        shop.customers.import_attributes(str(path))
    assert str(caught.value) == (f"{path}:3, column customer_id: no customer 'ZZ' in the store; import the "
                                 "customers first; nothing was set")
    assert stored(shop) == []
    path.write_text("customer_id,2nd choice\nA,green\n", encoding="utf-8")
    with pytest.raises(InputError, match="attribute name '2nd choice' cannot be used in rules"):
        shop.customers.import_attributes(str(path))
    path.write_text("id,likes\nA,green\n", encoding="utf-8")
    with pytest.raises(InputError, match="no customer_id column"):
        shop.customers.import_attributes(str(path))
    with pytest.raises(NotFoundError):
        shop.customers.set_attribute("ZZ", "likes", "red")


def test_audiences_saved_from_a_file(shop, tmp_path):
    path = tmp_path / "audiences.toml"
    path.write_text('[audiences.quiet]\nrule = "days_since_last_order > 30"\ndescription = "silent"\n'
                    '[audiences.search]\nrule = { field = "acquisition_channel", op = "=", value = "search" }\n',
                    encoding="utf-8")
    saved = shop.audiences.save_file(str(path))
    assert [(a.name, a.rule) for a in saved] == [("quiet", "days_since_last_order > 30"),
                                                 ("search", "acquisition_channel = search")]
    path.write_text('[audiences.ok]\nrule = "vip"\n[audiences.bad]\nrule = "stages = lost"\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        shop.audiences.save_file(str(path))
    assert str(caught.value).startswith(f"{path}: audience bad: unknown field 'stages'")
    assert [a.name for a in shop.audiences.list()] == ["quiet", "search"]  # nothing of the bad file saved
