"""The customer search's filters (segment, stage, buyer type, audience) on DuckDB and PostgreSQL, and
the messages and tasks of the customer 360, with members worked out by hand.

The KPI shop (tests/features/kpi_shop.py), as of its last order, 2024-03-20:

    customer  recency  orders  spend   R  F  M  FM  RFM segment          stage (why)
    A Ada     10       3       270     4  5  5  5   Champions            active (first order 75 days ago)
    B Bo      70       1       200     1  1  3  2   Hibernating          at_risk (one order, silent 2.2x the gap)
    C Cy      24       2       200     2  3  3  3   At Risk              new (first order 44 days ago)
    D Di      0        2       150     5  3  2  3   Potential Loyalist   new (34 days)
    E Ed      15       1       40      3  1  1  1   About to Sleep       new (15 days)

Five customers in five bins: one per recency score; ties share a score (C and D's 2 orders: F 3;
B and C's 200: M 3). FM is the rounded-up mean of F and M, and the segment the default grid's cell
(retainly.settings.DEFAULT_GRID). "New" is a first order within the last 60 days
(docs/lifecycle.md). The shop is 75 days old: no customer has the 180 days of history a buyer type
needs, so the buyer types are checked on the buyer shop (tests/segments/test_buyer_types.py).
"""

from __future__ import annotations

import pytest

from retainly.errors import InputError
from tests.features.kpi_shop import KPI_SHOP
from tests.segments.test_buyer_types import load as load_buyer_shop


def found(ws, text: str = "", limit: int = 20, offset: int = 0, **filters) -> tuple[int, list[str]]:
    result = ws.customers.search(text, limit, offset, **filters)
    return result.total, [match.customer_id for match in result.matches]


@pytest.fixture
def shop(kpi_shop_store):
    return kpi_shop_store  # the KPI shop alone, in a fresh store of its own on each engine (tests/conftest.py)


def test_segment_and_stage_as_of_the_last_order(shop):
    assert found(shop, segment="Champions") == (1, ["A"])
    assert found(shop, segment="At Risk") == (1, ["C"])
    assert found(shop, segment="Lost") == (0, [])  # a segment of the map nobody is in
    assert found(shop, stage="new") == (3, ["C", "D", "E"])  # by name: Cy, Di, Ed
    assert found(shop, stage="at_risk") == (1, ["B"])
    assert found(shop, stage="lost") == (0, [])
    # Filters and text together: every one must hold.
    assert found(shop, stage="new", segment="Potential Loyalist") == (1, ["D"])
    assert found(shop, "d", stage="new") == (2, ["D", "E"])  # the id D first, then Ed; Ada is active
    # Paging keeps the total exact.
    assert found(shop, limit=2, offset=1, stage="new") == (3, ["D", "E"])
    result = shop.customers.search(stage="new")
    assert str(result.as_of) == "2024-03-20"
    assert shop.customers.search("a").as_of is None  # no figure filtered by: no date


def test_audience_is_its_members_as_of_its_last_evaluation(shop):
    # More than 20 days silent on Mar 20: B (70 days) and C (24).
    shop.audiences.save("quiet", "days_since_last_order > 20")
    assert found(shop, audience="quiet") == (0, [])  # saved but never evaluated: no members yet
    shop.audiences.evaluate("quiet")
    assert found(shop, audience="quiet") == (2, ["B", "C"])
    assert found(shop, audience="quiet", stage="new") == (1, ["C"])
    assert found(shop, "bo", audience="quiet") == (1, ["B"])
    assert shop.customers.filters().audiences == ["quiet"]


def test_buyer_types_on_the_buyer_shop(workspace):
    """As of the buyer shop's last order, 2024-12-20 (ida's): gone is 180 days and a rule label
    needs a first order by 2024-06-23. discount_only: dee (5 of 6 orders promoted); hit_and_run:
    ben (2 orders, none in 336 days), cai (1 order, 323 days), kim (5 orders, 310 days); active:
    ann (7 orders), eve (last 5 days ago), fay (last 171 days ago, under 180), jo (6 orders). gus,
    hal and ida are too new, and too few customers have settled for an early prediction."""
    load_buyer_shop(workspace)
    # Named customers by name (Ann, Ben, ...), then those without a name by id (fay, jo, kim).
    assert found(workspace, buyer_type="discount_only") == (1, ["dee"])
    assert found(workspace, buyer_type="hit_and_run") == (3, ["ben", "cai", "kim"])
    assert found(workspace, buyer_type="active") == (4, ["ann", "eve", "fay", "jo"])
    assert found(workspace, "e", buyer_type="active") == (1, ["eve"])
    assert str(workspace.customers.search(buyer_type="active").as_of) == "2024-12-20"


@pytest.mark.parametrize("name, value, message", [
    ("segment", "Champs", "`segment` 'Champs' is not an RFM segment; use one of: New, Potential Loyalist, "
                          "Champions, Promising, Loyal, About to Sleep, Need Attention, Hibernating, At Risk, "
                          "Can't Lose Them, Lost"),
    ("stage", "gone", "`stage` 'gone' is not a lifecycle stage; use one of: new, active, at_risk, lapsed, lost, "
                      "won_back"),
    ("buyer_type", "bargain", "`buyer_type` 'bargain' is not a buyer type; use one of: hit_and_run, discount_only, "
                              "active"),
    ("audience", "nobody", "`audience` 'nobody' is not a saved audience; none is saved yet"),
])
def test_unknown_values_name_the_parameter_and_the_values(shop, name, value, message):
    with pytest.raises(InputError) as error:
        shop.customers.search(**{name: value})
    assert (str(error.value), error.value.parameter) == (message, name)


def test_a_store_without_orders_has_no_one_in_a_stage(workspace):
    workspace.data.import_file("customers", KPI_SHOP / "customers.csv")
    assert found(workspace) == (5, ["A", "B", "C", "D", "E"])
    assert found(workspace, stage="new") == (0, [])  # nothing to score: no stages, and no error


def test_messages_and_tasks_of_a_customer(shop, tmp_path, monkeypatch):
    """win-back-60 (60 to 179 days silent) takes B alone (70 days) and plans its email on Mar 20;
    B has no email consent, so the row is suppressed at once. A manager's task about B, due the
    next morning, is written to the outbox as a playbook's run writes it: it comes first."""
    from datetime import datetime

    from retainly.playbooks import outbox
    from retainly.playbooks.enrol import TREATMENT, arm

    monkeypatch.setenv("RETAINLY_OUTBOX_DIR", str(tmp_path / "outbox"))  # where a file channel would write
    b = int(shop.store.fetchone("SELECT customer_id FROM customers WHERE external_id = 'B'")[0])
    assert arm("win-back-60", b, 0.1) == TREATMENT  # not held out: the row is written
    shop.playbooks.enable(["win-back-60"])
    shop.playbooks.run()
    outbox.write(shop.store, [outbox.OutboxEntry(
        playbook="call-drifting-valuable", step=1, customer_id=b, occurrence="2024-03-21", channel="task",
        priority=50, due_at=datetime(2024, 3, 21, 9), payload={"subject": None, "text": "Call Bo"})], None)
    task, email = shop.customers.view("B").messages
    assert email.to_dict() == {
        "playbook": "win-back-60", "step": 1, "channel": "email", "status": "suppressed",
        "reason": "no email consent", "subject": "It has been a while",
        "text": "We miss you, Bo. Here is what is new since your last order.",
        "due_at": datetime(2024, 3, 20, 12), "sent_at": None}
    assert task.to_dict() == {
        "playbook": "call-drifting-valuable", "step": 1, "channel": "task", "status": "queued", "reason": None,
        "subject": None, "text": "Call Bo", "due_at": datetime(2024, 3, 21, 9), "sent_at": None}
    assert shop.customers.view("A").messages == []
