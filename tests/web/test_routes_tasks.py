"""The tasks API against a real server (tests/web/task_desk.py: the KPI shop and Fay, Gus, Hal and
Zoe, managers m1 and m2, the task clock held at 2024-03-21 09:30 unless a test moves it), with
httpx and the keys of each role. Expected bodies are worked out by hand from the shop and the
rules of docs/tasks.md; the team's figures are compared with the service's own answer.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from retainly.results.base import json_text
from tests.web.task_desk import M1, M2, NOW, desk_fixture  # noqa: F401 (the fixture `desk`)

FAY = {"customer": "F", "name": "Fay", "phone": "+386 40 111 222", "email": None}


def test_make_log_a_call_back_and_follow_it_up(desk):
    desk.at(NOW)
    made = desk.api("POST", "/tasks", "manager", json={"customer": "F", "reason": "Asked about delivery",
                                                       "owner": M1, "by": M2})
    assert made.status_code == 201, made.text
    task = made.json()["task"]
    number = task["task_id"]
    assert made.json() == {"task": {
        "task_id": number, **FAY, "origin": "manual", "playbook": None,
        "reason": "Asked about delivery. Fay has not ordered yet.", "offer": None, "priority": "normal",
        "due_at": "2024-03-22 09:30:00",  # [tasks] due_hours (24) after 09:30
        "queue": "upcoming", "owner": M1, "state": "open", "outcome": None, "attempts": 0}, "attempts": []}
    assert desk.api("GET", f"/tasks/{number}", "manager").json() == made.json()

    desk.at(NOW + timedelta(minutes=20))
    logged = desk.api("POST", f"/tasks/{number}/outcome", "manager", json={
        "outcome": "call_back", "call_back_at": "2024-03-22T15:00:00", "note": "Busy  now", "by": M1})
    assert logged.status_code == 200, logged.text
    body = logged.json()
    follow_up = body["follow_up"]
    assert (body["task"]["state"], body["task"]["outcome"], body["task"]["attempts"]) == ("done", "call_back", 1)
    assert body["attempts"] == [{"attempt": 1, "logged_at": "2024-03-21 09:50:00", "user": M1,
                                 "outcome": "call_back", "note": "Busy now", "call_back_at": "2024-03-22 15:00:00"}]
    then = desk.api("GET", f"/tasks/{follow_up}", "manager").json()["task"]
    assert {key: then[key] for key in ("origin", "owner", "due_at", "queue", "state", "priority")} == {
        "origin": "follow_up", "owner": M1, "due_at": "2024-03-22 15:00:00", "queue": "upcoming", "state": "open",
        "priority": "normal"}
    assert then["reason"].startswith("Call back as agreed on 2024-03-21 09:50: Busy now. Before: Asked about delivery.")
    fay = desk.api("GET", "/customers/F", "manager").json()
    assert fay["last_contact_at"] == "2024-03-21 09:50:00"
    assert [(c["kind"], c["direction"], c["outcome"], c["note"], c["by_whom"]) for c in fay["interactions"]] == [
        ("call", "outbound", "call_back", "Busy now", M1)]
    queue = desk.api("GET", f"/tasks?owner={M1}&customer=F", "manager").json()
    assert [item["task_id"] for item in queue["items"]] == [follow_up] and queue["total"] == 1
    done = desk.api("GET", "/tasks?customer=F&state=done", "analyst").json()
    assert [item["task_id"] for item in done["items"]] == [number]


def test_no_answer_keeps_the_task_due_a_day_later_and_a_done_task_takes_nothing_more(desk):
    desk.at(NOW)
    number = desk.api("POST", "/tasks", json={"customer": "G", "reason": "Ring", "owner": M2,
                                              "due_at": "2024-03-20T08:00:00"}).json()["task"]["task_id"]
    assert desk.api("GET", f"/tasks/{number}").json()["task"]["queue"] == "overdue"
    desk.at(NOW + timedelta(hours=1))
    body = desk.api("POST", f"/tasks/{number}/outcome", "manager", json={"outcome": "no_answer", "by": M2}).json()
    assert (body["task"]["state"], body["task"]["due_at"], body["task"]["queue"]) == (
        "open", "2024-03-22 10:30:00", "upcoming")
    assert "follow_up" not in body
    assert desk.api("POST", f"/tasks/{number}/cancel", "manager").json()["task"]["state"] == "cancelled"
    again = desk.api("POST", f"/tasks/{number}/outcome", "manager", json={"outcome": "reached"})
    assert again.status_code == 422 and again.json() == {
        "error": f"task {number} is cancelled; only an open task takes an outcome", "field": "task_id"}
    assert desk.api("POST", f"/tasks/{number}/cancel").status_code == 422
    assert desk.api("POST", f"/tasks/{number}/reassign", json={"owner": M1}).status_code == 422


def test_reassigning_is_for_analysts_and_the_team_is_the_services(desk):
    desk.at(NOW)
    number = desk.api("POST", "/tasks", json={"customer": "H", "reason": "Move me", "owner": M1}).json()[
        "task"]["task_id"]
    refused = desk.api("POST", f"/tasks/{number}/reassign", "manager", json={"owner": M2})
    assert refused.status_code == 403 and refused.json()["error"].endswith("it needs admin or analyst")
    moved = desk.api("POST", f"/tasks/{number}/reassign", json={"owner": M2})
    assert moved.status_code == 200 and moved.json()["task"]["owner"] == M2
    assert desk.api("GET", "/tasks/team", "manager").status_code == 403
    assert desk.api("GET", "/tasks", "ingest").status_code == 403
    for days in (7, 30):
        team = desk.api("GET", f"/tasks/team?days={days}")
        with desk.ws() as ws:
            expected = json.loads(json_text(ws.tasks.supervise(days)))
        assert team.status_code == 200 and team.json() == {"days": days, "total": len(expected), "limit": 100,
                                                           "offset": 0, "items": expected}
    managers = desk.api("GET", "/tasks/managers").json()["items"]
    assert [m["email"] for m in managers] == [M1, M2] and {m["daily_limit"] for m in managers} == {20}


def test_tasks_nobody_has_and_paging(desk):
    """With both managers at a daily limit of 0 a new task waits without an owner."""
    desk.at(NOW)
    with desk.ws() as ws:
        for manager in (M1, M2):
            ws.tasks.set_manager(manager, daily_limit=0)
    try:
        numbers = [desk.api("POST", "/tasks", json={"customer": "H", "reason": f"Waiting {n}",
                                                    "due_at": f"2024-03-2{n}T10:00:00"}).json()["task"]["task_id"]
                   for n in (3, 4)]
        waiting = desk.api("GET", "/tasks?owner=nobody", "manager").json()
        assert [item["task_id"] for item in waiting["items"]] == numbers and waiting["total"] == 2
        first = desk.api("GET", "/tasks?owner=nobody&limit=1", "manager").json()
        assert ([item["task_id"] for item in first["items"]], first["total"]) == (numbers[:1], None)  # more follow
        last = desk.api("GET", "/tasks?owner=nobody&limit=1&offset=1", "manager").json()
        assert ([item["task_id"] for item in last["items"]], last["total"]) == (numbers[1:], 2)
        for number in numbers:
            desk.api("POST", f"/tasks/{number}/cancel")
    finally:
        with desk.ws() as ws:
            for manager in (M1, M2):
                ws.tasks.set_manager(manager, daily_limit=20)


def test_a_time_with_a_zone_is_taken_as_the_servers_local_time(desk):
    desk.at(NOW)
    made = desk.api("POST", "/tasks", json={"customer": "G", "reason": "Zoned", "owner": M1,
                                            "due_at": "2024-03-25T10:00:00+00:00"}).json()["task"]
    from datetime import datetime, timezone
    local = datetime(2024, 3, 25, 10, tzinfo=timezone.utc).astimezone().replace(tzinfo=None)
    assert made["due_at"] == f"{local:%Y-%m-%d %H:%M:%S}"
    desk.api("POST", f"/tasks/{made['task_id']}/cancel")


@pytest.mark.parametrize("method, path, body, status, error, field", [
    ("GET", "/tasks/999999", None, 404, "no task 999999; see `retainly tasks list`", "task_id"),
    ("GET", "/tasks?queue=soon", None, 422, "`queue` 'soon' is not a queue; choose from overdue, today, upcoming",
     "queue"),
    ("GET", "/tasks?state=open-ish", None, 422,
     "`state` 'open-ish' is not a task state; choose from open, done, cancelled", "state"),
    ("GET", "/tasks/team?days=0", None, 422, "`days` '0': Input should be greater than or equal to 1", "days"),
    ("POST", "/tasks", {"customer": "NOPE", "reason": "x"}, 404, None, None),
    ("POST", "/tasks", {"customer": "A", "reason": "x", "priority": "asap"}, 422,
     "`priority` 'asap' is not a task priority; choose from urgent, high, normal, low", "priority"),
    ("POST", "/tasks", {"customer": "A", "reason": "x", "owner": "who@nowhere"}, 404,
     "no enabled user 'who@nowhere'; add one with `retainly users add EMAIL --role manager`", "owner"),
    ("POST", "/tasks", {"customer": "A", "reason": "a\x00b"}, 422,
     "`reason` 'a\\x00b': Value error, contains a NUL byte (\\x00), which the store cannot hold", "reason"),
    ("POST", "/tasks/999999/outcome", {"outcome": "reached"}, 404, "no task 999999; see `retainly tasks list`",
     "task_id"),
], ids=["unknown task", "no such queue", "no such state", "no days", "unknown customer", "no such priority",
        "unknown owner", "a NUL byte", "outcome on no task"])
def test_wrong_requests_get_a_status_and_a_message(desk, method, path, body, status, error, field):
    answer = desk.api(method, path, "manager" if "team" not in path else "analyst", json=body)
    assert answer.status_code == status, answer.text
    if error is not None:
        assert answer.json() == {"error": error, "field": field}


def test_an_outcome_needs_its_call_back_time(desk):
    desk.at(NOW)
    number = desk.api("POST", "/tasks", json={"customer": "G", "reason": "Times", "owner": M1}).json()["task"][
        "task_id"]
    for sent, error in [
            ({"outcome": "call_back"}, "a call back needs `call_back_at`, a time after now (e.g. 2026-12-04T15:00)"),
            ({"outcome": "call_back", "call_back_at": "2024-03-21T09:00:00"},
             "a call back needs `call_back_at`, a time after now (e.g. 2026-12-04T15:00)"),
            ({"outcome": "reached", "call_back_at": "2024-03-22T09:00:00"},
             "`call_back_at` goes with the outcome call_back only")]:
        answer = desk.api("POST", f"/tasks/{number}/outcome", "manager", json=sent)
        assert answer.status_code == 422 and answer.json() == {"error": error, "field": "call_back_at"}
    assert desk.api("GET", f"/tasks/{number}").json()["task"]["attempts"] == 0
    desk.api("POST", f"/tasks/{number}/cancel")
