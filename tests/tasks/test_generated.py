"""Tasks from the built-in call playbooks on the generated shop (3,000 customers, seed 11), on both
engines: the right customers, reasons and owners.

* Customers: the audience rules of the two call playbooks applied by hand to the derived tables
  (tests/playbooks/test_run.py, ``expected_on_derived_results``), less those the holdout hash
  keeps out (``arm``, 10 %).
* Reasons: each customer's order count, spend and last order, summed again here in Python from
  the purchases; the step's text with their name.
* Owners: three managers, 20 new tasks a day each (the default): 60 tasks given, each manager
  20, the urgent ones (call-drifting-valuable, priority 85) before the high ones (78).
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from retainly import Workspace
from retainly.playbooks.enrol import TREATMENT, arm
from tests.conftest import generated_copy
from tests.playbooks.test_run import expected_on_derived_results, settings_file

PLAYBOOKS = {"call-drifting-valuable": "urgent", "call-silent-year": "high"}


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def run(request, tmp_path_factory, store_templates):
    folder = tmp_path_factory.mktemp(f"tasks-{request.param}")
    with pytest.MonkeyPatch.context() as patch, generated_copy(store_templates, request.param, 3000, 11,
                                                                folder) as (url, _):
        patch.setenv("RETAINLY_OUTBOX_DIR", str(folder / "outbox"))
        ws = Workspace.open(url, settings=settings_file(folder))
        try:
            for n in (1, 2, 3):
                ws.users.add(f"m{n}@shop.example", "manager", "a-long-password-123")
            ws.playbooks.enable(list(PLAYBOOKS))
            report = ws.playbooks.run()
            yield ws, report
        finally:
            ws.close()


@pytest.mark.slow
def test_the_call_playbooks_make_a_task_for_each_treated_customer_their_rules_select(run):
    ws, report = run
    expected = expected_on_derived_results(ws.store, report.as_of)
    tasks = ws.tasks.queue(limit=100000)
    external = dict(ws.store.fetchall("SELECT external_id, customer_id FROM customers"))
    for playbook, priority in PLAYBOOKS.items():
        treated = {c for c in expected[playbook] if arm(playbook, c, 0.1) == TREATMENT}
        mine = [t for t in tasks if t.playbook == playbook]
        assert {external[t.customer] for t in mine} == treated and treated, playbook
        assert {t.priority for t in mine} == {priority}
    assert report.tasks.assigned == 0  # given as they were made, by the task channel


@pytest.mark.slow
def test_each_reason_says_the_customers_orders_spend_and_last_order(run):
    ws, _ = run
    orders: dict[int, list] = defaultdict(list)
    for customer, placed, revenue in ws.store.fetchall(
            "SELECT customer_id, placed_at, CAST(revenue AS DOUBLE PRECISION) FROM purchases "
            "WHERE customer_id IS NOT NULL"):
        orders[int(customer)].append((placed, revenue))
    ids = dict(ws.store.fetchall("SELECT external_id, customer_id FROM customers"))
    for task in ws.tasks.queue(limit=100000):
        mine = orders[ids[task.customer]]
        said = (f"{task.name} placed {len(mine)} order{'s' if len(mine) != 1 else ''} "
                f"({sum(r for _, r in mine):,.2f} in all), the last on {max(p for p, _ in mine):%Y-%m-%d}.")
        assert said in task.reason, (task.customer, task.reason)
        assert task.reason.startswith(f"Call {task.name}: ")


@pytest.mark.slow
def test_sixty_tasks_are_given_twenty_each_urgent_first(run):
    ws, _ = run
    tasks = ws.tasks.queue(limit=100000)
    given = [t for t in tasks if t.owner is not None]
    assert Counter(t.owner for t in given) == {f"m{n}@shop.example": 20 for n in (1, 2, 3)}
    urgent = sum(t.priority == "urgent" for t in tasks)
    assert urgent >= 60 and {t.priority for t in given} == {"urgent"}
    assert len(given) == 60 < len(tasks)  # the rest wait for the next days
