"""The Tasks pages on a running server (tests/web/task_desk.py: the KPI shop and Fay, Gus, Hal and
Zoe, two managers and an analyst, the task clock held at 2024-03-21 09:30 unless a test moves it).

In Chromium a manager works their queue: a call back makes the follow-up task at the time agreed
and a contact on the customer's page, a call nobody answered keeps the task, due a day later; a
task made on a customer's page lands in the chosen manager's queue. Over httpx: the team's figures
against the service and by hand, who may do what, CSRF refusals, and errors as pages. Expected
values are worked out by hand from the shop and docs/tasks.md unless a test says it asks the service.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from retainly.results.base import json_text
from tests.web.task_desk import LEAD, M1, M2, NOW, check_twins, desk_fixture, marked  # noqa: F401 (`desk`)
from tests.web.conftest import watched_page
from tests.web.test_login import PASSWORD
from tests.web.test_pages_browser import CHROMIUM

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
chromium_only = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}: scripts/test installs chromium")


def add(desk, customer: str, reason: str, owner: str | None, due, priority: str = "normal") -> int:
    with desk.ws() as ws:
        return ws.tasks.add(customer, reason, due_at=due, priority=priority, owner=owner).task.task_id


def log_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/customers")  # a manager's first page


def row(page, section: str, task_id: int):
    return page.locator(f"section#{section} tr[data-task='{task_id}']")


def token(visitor, path: str) -> str:
    return _CSRF.search(visitor.client.get(path).text).group(1)


@pytest.mark.slow
@chromium_only
def test_a_manager_works_their_queue_in_chromium(desk, chromium, tmp_path):
    desk.at(NOW)
    refund = add(desk, "F", "Asked about a refund", M1, NOW + timedelta(hours=1), "high")  # due today, 10:30
    review = add(desk, "G", "Left a bad review", M1, NOW - timedelta(days=1), "urgent")  # overdue since yesterday
    theirs = add(desk, "H", "Max's call", M2, NOW + timedelta(hours=2))
    base = desk.base
    with watched_page(chromium) as (page, requests, errors):
        log_in(page, base, M1)
        page.click("nav >> text=Tasks")
        page.wait_for_url(f"{base}/tasks")
        assert row(page, "overdue", review).count() == 1 and row(page, "today", refund).count() == 1
        assert page.locator(f"tr[data-task='{theirs}']").count() == 0  # Max's task is not in Mia's queue
        cells = row(page, "today", refund).locator("td")
        assert [cells.nth(i).inner_text() for i in (0, 1, 2, 4, 6)] == [
            f"#{refund}", "high", "2024-03-21 10:30", "+386 40 111 222", "0"]
        assert cells.nth(3).inner_text() == "Fay F" and cells.nth(5).inner_text() == \
            "Asked about a refund. Fay has not ordered yet."
        assert cells.nth(3).locator("a").get_attribute("href") == "/customers/F"
        assert row(page, "overdue", review).locator("td.due").inner_text() == "2024-03-20 09:30"
        check_twins(desk, page.content())  # the queue is GET /api/v1/tasks?owner=m1@...'s

        # A call back: the time field shows only once call_back is chosen.
        row(page, "today", refund).locator("a").first.click()
        page.wait_for_url(f"{base}/tasks/{refund}")
        assert not page.locator("input[name=call_back_at]").is_visible()
        page.select_option("select[name=outcome]", "call_back")
        assert page.locator("input[name=call_back_at]").is_visible()
        page.fill("input[name=call_back_at]", "2024-03-22T15:00")
        page.fill("textarea[name=note]", "In a meeting,   call tomorrow afternoon")
        page.click("form.outcome button")
        page.wait_for_url(re.compile(r".*/tasks\?task=.*"))
        with desk.ws() as ws:
            [follow_up] = [t for t in ws.tasks.queue(customer="F")]
        assert page.locator("p.done").inner_text() == (
            f"Logged call back on task {refund} (Fay). Follow-up task {follow_up.task_id} made, due 2024-03-22 15:00.")
        assert page.locator(f"tr[data-task='{refund}']").count() == 0  # done: out of the queue
        later = row(page, "upcoming", follow_up.task_id)
        assert later.locator("td.due").inner_text() == "2024-03-22 15:00"
        assert later.locator("td.reason").inner_text() == (
            "Call back as agreed on 2024-03-21 09:30: In a meeting, call tomorrow afternoon. Before: Asked about a "
            "refund. Fay has not ordered yet.")
        assert (follow_up.origin, follow_up.owner, follow_up.priority) == ("follow_up", M1, "high")

        # The call is Fay's last contact, with its note, on her page.
        later.locator("td.customer a").click()
        page.wait_for_url(f"{base}/customers/F")
        contact = page.locator("tr.event-contact")
        assert contact.count() == 1 and contact.locator("td").nth(0).inner_text() == "2024-03-21 09:30"
        assert contact.locator("td").nth(1).inner_text() == "Outbound call"
        said = contact.locator("td").nth(2).inner_text()
        assert said == f"call_back – In a meeting, call tomorrow afternoon – {M1}"
        last = page.locator("[data-field=last_contact_at]")
        assert (last.inner_text(), last.get_attribute("data-value")) == ("2024-03-21 09:30", '"2024-03-21 09:30:00"')
        assert page.locator(f"section.customer-tasks tr[data-task='{follow_up.task_id}']").count() == 1
        shown = page.content()

        # Nobody answers Gus at 09:45: the task stays, due again a day later.
        desk.at(NOW + timedelta(minutes=15))
        page.goto(f"{base}/tasks/{review}")
        page.select_option("select[name=outcome]", "no_answer")
        page.click("form.outcome button")
        page.wait_for_url(re.compile(r".*/tasks\?task=.*"))
        assert page.locator("p.done").inner_text() == (
            f"Logged no answer on task {review} (Gus). It stays in the queue, due again 2024-03-22 09:45.")
        again = row(page, "upcoming", review)
        assert again.locator("td.due").inner_text() == "2024-03-22 09:45"
        assert again.locator("td.attempts").inner_text() == "1"
        assert row(page, "overdue", review).count() == 0
        page.screenshot(path=str(tmp_path / "queue.png"), full_page=True)
    assert errors == []
    assert all(url.startswith(base + "/") for url in requests), "the pages must load nothing from elsewhere"
    assert f"{base}/static/tasks.css" in requests
    check_twins(desk, shown)  # Fay's page, last contact included, is GET /api/v1/customers/F's


@pytest.mark.slow
@chromium_only
def test_a_task_made_on_a_customers_page_goes_to_the_chosen_managers_queue_in_chromium(desk, chromium):
    desk.at(NOW)
    base = desk.base
    with watched_page(chromium) as (page, requests, errors):
        log_in(page, base, M1)
        page.goto(f"{base}/customers/E")
        form = page.locator("form.make-task")
        form.locator("input[name=reason]").fill("Wants to hear about the new range")
        form.locator("select[name=priority]").select_option("low")
        form.locator("input[name=due_at]").fill("2024-03-25T11:00")
        form.locator("select[name=owner]").select_option(M2)
        form.locator("button").click()
        page.wait_for_url(re.compile(rf"{re.escape(base)}/tasks/\d+\?made=yes"))
        made = int(re.search(r"/tasks/(\d+)", page.url).group(1))
        assert page.locator("p.done").inner_text() == f"Task {made} made, given to {M2}."
        assert page.locator("form.outcome").count() == 0  # Max's task: Mia may read it, not log on it
        page.goto(f"{base}/tasks")
        assert page.locator(f"tr[data-task='{made}']").count() == 0
        page.click("text=Log out")
        page.wait_for_url(f"{base}/login")
        log_in(page, base, M2)
        page.goto(f"{base}/tasks")
        mine = row(page, "upcoming", made)
        assert [mine.locator(f"td.{name}").inner_text() for name in ("priority", "due", "reason")] == [
            "low", "2024-03-25 11:00", "Wants to hear about the new range. Ed placed 1 order (40.00 in all), the last "
                                       "on 2024-03-05. Bought most: Product. Stage: new."]  # one order, 15 days before
    assert errors == []
    with desk.ws() as ws:
        found = ws.tasks.show(made).task
    assert (found.customer, found.owner, found.origin) == ("E", M2, "manual")


def test_the_team_page_shows_the_services_figures_and_hand_worked_ones(desk):
    """Tess, a manager of this test alone, at 09:30: A due 10:30, B due three days ago (flagged:
    overdue by more than 2 days), C due yesterday (overdue), D due 11:30. She reaches A at 11:30 and
    nobody answers at D at 14:30. Then, over 7 days: open B, C, D = 3; overdue B, C = 2; flagged 1;
    done A = 1; hours to the first call 2 and 5, median 3.5; called 2, reached 1 of them: 0.5; no
    order since (the shop's last is on 2024-03-20): 0 and 0.0."""
    tess = "tess@shop.example"
    desk.at(NOW)
    with desk.ws() as ws:
        ws.users.add(tess, "manager", PASSWORD, "Tess")
    a = add(desk, "A", "Team: first", tess, NOW + timedelta(hours=1))
    add(desk, "B", "Team: long overdue", tess, NOW - timedelta(days=3))
    add(desk, "C", "Team: overdue", tess, NOW - timedelta(days=1))
    d = add(desk, "D", "Team: no answer", tess, NOW + timedelta(hours=2))
    with desk.ws() as ws:
        desk.at(NOW + timedelta(hours=2))
        ws.tasks.log(a, "reached", by=tess)
        desk.at(NOW + timedelta(hours=5))
        ws.tasks.log(d, "no_answer", by=tess)
        expected = json.loads(json_text(ws.tasks.supervise(7)))  # asked of the service
    with desk.visitor(LEAD) as lead:
        page = lead.client.get("/tasks/team?days=7")
        assert page.status_code == 200
        answers = check_twins(desk, page.text)
    figures = answers["/api/v1/tasks/team?days=7"]
    assert figures["items"] == expected and figures["days"] == 7
    marks = [(field, value) for twin, field, value in marked(page.text) if twin == "/api/v1/tasks/team?days=7"]
    index = [row["manager"] for row in expected].index(tess)
    hers = {field.split(".")[2]: value for field, value in marks if field.startswith(f"items.{index}.")}
    assert hers == {"manager": tess, "name": "Tess", "open": 3, "overdue": 2, "flagged": 1, "done": 1,
                    "median_hours_to_first_attempt": 3.5, "attempted": 2, "reach_rate": 0.5, "orders": 0,
                    "revenue": 0.0}
    assert len(marks) == 11 * len(expected)
    flagged = re.search(rf'<tr data-manager="{re.escape(tess)}">.*?</tr>', page.text, re.S).group(0)
    assert 'class="number flagged" data-field="items.{}.flagged"'.format(index) in flagged
    assert all(f'href="/tasks/team?days={n}"' in page.text for n in (7, 30, 90))


def test_the_team_page_changes_a_managers_daily_limit_and_is_closed_to_managers(desk):
    desk.at(NOW)
    with desk.visitor(LEAD) as lead:
        sent = {"csrf_token": token(lead, "/tasks/team"), "email": M2, "daily_limit": "7", "days": "30"}
        answer = lead.client.post("/tasks/team/managers", data=sent)
        assert (answer.status_code, answer.headers["location"]) == (303, "/tasks/team?days=30")
        page = lead.client.get("/tasks/team").text
        answers = check_twins(desk, page)
        assert {m["email"]: m["daily_limit"] for m in answers["/api/v1/tasks/managers"]["items"]}[M2] == 7
        refused = lead.client.post("/tasks/team/managers", data={**sent, "daily_limit": "many"})
        assert refused.status_code == 422 and "the daily limit &#39;many&#39; is not a whole number" in refused.text
    with desk.ws() as ws:
        assert {m.email: m.daily_limit for m in ws.tasks.managers()}[M2] == 7
        ws.tasks.set_manager(M2, daily_limit=20)
    with desk.visitor(M1) as mia:
        assert mia.client.get("/tasks/team").status_code == 403
        answer = mia.client.post("/tasks/team/managers", data={"csrf_token": token(mia, "/tasks"), "email": M2,
                                                               "daily_limit": "0"})
        assert answer.status_code == 403 and "it needs admin or analyst" in answer.text
        assert '<a href="/tasks"' in mia.client.get("/customers").text  # the menu's Tasks


def test_forms_without_the_sessions_csrf_token_change_nothing(desk):
    desk.at(NOW)
    task = add(desk, "H", "CSRF check", M1, NOW + timedelta(hours=3))
    with desk.visitor(M1) as mia:
        for sent in ({"csrf_token": "forged"}, {}):
            answer = mia.client.post(f"/tasks/{task}/outcome", data={**sent, "outcome": "reached"})
            assert answer.status_code == 403 and "security token is missing or out of date" in answer.text
            answer = mia.client.post(f"/tasks/{task}/cancel", data=sent)
            assert answer.status_code == 403
            answer = mia.client.post("/customers/H/tasks", data={**sent, "reason": "forged"})
            assert answer.status_code == 403
        with desk.ws() as ws:
            assert (ws.tasks.show(task).task.attempts, ws.tasks.show(task).task.state) == (0, "open")
            assert [t.task_id for t in ws.tasks.queue(customer="H")].count(task) == 1
            assert not [t for t in ws.tasks.queue(customer="H") if t.reason.startswith("forged")]
        answer = mia.client.post(f"/tasks/{task}/outcome", data={"csrf_token": token(mia, f"/tasks/{task}"),
                                                                 "outcome": "reached", "note": "Fine"})
        assert answer.status_code == 303 and answer.headers["location"] == f"/tasks?task={task}&done=logged"
        assert "Logged reached on task {} (Hal). The task is done.".format(task) in mia.client.get(
            answer.headers["location"]).text


def test_a_manager_reads_but_may_not_work_another_managers_task(desk):
    desk.at(NOW)
    task = add(desk, "H", "Mia's task", M1, NOW + timedelta(hours=3))
    with desk.visitor(M2) as max_:
        page = max_.client.get(f"/tasks/{task}")
        assert page.status_code == 200 and 'class="outcome"' not in page.text
        assert f"This is {M1}'s task" in page.text
        check_twins(desk, page.text)
        sent = {"csrf_token": token(max_, "/tasks"), "outcome": "reached"}
        answer = max_.client.post(f"/tasks/{task}/outcome", data=sent)
        assert answer.status_code == 403 and f"task {task} is {M1}&#39;s" in answer.text
        assert max_.client.post(f"/tasks/{task}/cancel", data=sent).status_code == 403
        assert max_.client.post(f"/tasks/{task}/reassign", data={**sent, "owner": M2}).status_code == 403
    with desk.visitor(LEAD) as lead:  # an analyst gives it to Max, and Max cancels it
        answer = lead.client.post(f"/tasks/{task}/reassign", data={"csrf_token": token(lead, "/tasks"),
                                                                   "owner": M2})
        assert (answer.status_code, answer.headers["location"]) == (303, f"/tasks/{task}")
    with desk.visitor(M2) as max_:
        answer = max_.client.post(f"/tasks/{task}/cancel", data={"csrf_token": token(max_, "/tasks")})
        assert answer.status_code == 303
        assert f"Cancelled task {task} (Hal)." in max_.client.get(answer.headers["location"]).text
    with desk.ws() as ws:
        found = ws.tasks.show(task).task
    assert (found.owner, found.state, found.attempts) == (M2, "cancelled", 0)


def test_an_analyst_chooses_whose_queue_and_every_figure_is_the_twins(desk):
    desk.at(NOW)
    mine = add(desk, "G", "Filter check", M2, NOW + timedelta(days=2))
    with desk.visitor(LEAD) as lead:
        everyone = lead.client.get("/tasks").text
        hers = lead.client.get(f"/tasks?owner={M1}").text
        his = lead.client.get(f"/tasks?owner={M2}").text
        detail = lead.client.get(f"/tasks/{mine}").text
        for page in (everyone, hers, his, detail):
            check_twins(desk, page)
        nobody = lead.client.get("/tasks?owner=nobody")
    assert f'data-task="{mine}"' in everyone and f'data-task="{mine}"' in his and f'data-task="{mine}"' not in hers
    assert 'class="reassign"' in detail and 'class="outcome"' in detail  # an analyst may log on any task
    assert nobody.status_code == 200 and "data-task=" not in nobody.text  # every task here has a manager
    owners = {value for twin, field, value in marked(his) if field.endswith(".owner")}
    assert owners == {M2}


@pytest.mark.parametrize("form, status, message", [
    ({"outcome": "call_back", "call_back_at": "2024-03-21T08:00"}, 422,
     "a call back needs `call_back_at`, a time after now"),
    ({"outcome": "call_back", "call_back_at": "tomorrow"}, 422,
     "the call-back time &#39;tomorrow&#39; is not a date and time: give it as YYYY-MM-DDTHH:MM"),
    ({"outcome": "maybe"}, 422, "`outcome` &#39;maybe&#39; is not an outcome; choose from reached, no_answer"),
], ids=["call back in the past", "call back not a time", "no such outcome"])
def test_a_wrong_outcome_gets_a_page_saying_what_to_do(desk, form, status, message):
    desk.at(NOW)
    task = add(desk, "H", "Error check", M1, NOW + timedelta(hours=3))
    with desk.visitor(M1) as mia:
        answer = mia.client.post(f"/tasks/{task}/outcome", data={"csrf_token": token(mia, "/tasks"), **form})
    assert answer.status_code == status and answer.headers["content-type"].startswith("text/html")
    assert message in answer.text and "Traceback" not in answer.text
    with desk.ws() as ws:
        assert ws.tasks.show(task).task.attempts == 0


def test_errors_of_the_service_are_pages_with_their_status(desk):
    desk.at(NOW)
    task = add(desk, "Z", "Zoe's call", M1, NOW + timedelta(hours=3))
    with desk.ws() as ws:
        ws.customers.erase("Z")
    with desk.visitor(M1) as mia:
        sent = {"csrf_token": token(mia, "/tasks")}
        answer = mia.client.post(f"/tasks/{task}/outcome", data={**sent, "outcome": "reached"})
        assert answer.status_code == 422
        assert f"task {task}: its customer was erased; nothing can be logged on it" in answer.text
        for path, status, message in [("/tasks/999999", 404, "no task 999999"), ("/tasks/abc", 404, "no task"),
                                      ("/tasks/team", 403, "it needs admin or analyst")]:
            page = mia.client.get(path)
            assert page.status_code == status and message in page.text, path
        answer = mia.client.post("/customers/A/tasks", data={**sent, "reason": "  "})
        assert answer.status_code == 422 and "`reason` is empty" in answer.text
        answer = mia.client.post("/customers/A/tasks", data={**sent, "reason": "Call", "priority": "asap"})
        assert answer.status_code == 422 and "`priority` &#39;asap&#39; is not a task priority" in answer.text
        answer = mia.client.post("/customers/A/tasks", data={**sent, "reason": "Call", "owner": "who@nowhere"})
        assert answer.status_code == 404 and "no enabled user &#39;who@nowhere&#39;" in answer.text
        answer = mia.client.post("/customers/A/tasks", data={**sent, "reason": "Call", "due_at": "soon"})
        assert answer.status_code == 422 and "the due time &#39;soon&#39; is not a date and time" in answer.text
