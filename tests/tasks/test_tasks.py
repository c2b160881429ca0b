"""Managers' tasks on the run loop's hand-made shop (tests/playbooks/test_run.py), on both engines:
made from a playbook once, given out by each rule within daily limits, worked outcome by outcome,
and pausing automated discounts. Every expectation is worked out by hand from the shop's table
there (orders of 10.00 at noon, written as days before AS_OF) and the rules of docs/tasks.md.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from retainly import Workspace
from retainly.errors import InputError
from retainly.messaging.links import FEEDBACK, LinkSigner
from tests.mailbox import Mailbox, smtp_settings
from tests.playbooks.test_run import AS_OF, enable, load_shop, settings_file, write_shop
from tests.receiver import Receiver

NOW = datetime(2024, 6, 15, 9, 30)
PASSWORD = "a-long-password-123"


@pytest.fixture(autouse=True)
def _no_outbox_in_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RETAINLY_OUTBOX_DIR", str(tmp_path / "outbox"))


def open_shop(store_url, tmp_path, settings: str = "", managers: int = 2) -> tuple[Workspace, dict[str, int]]:
    ws = Workspace.open(store_url, settings=settings_file(tmp_path, settings))
    names = load_shop(ws, write_shop(tmp_path / "shop"))
    for n in range(1, managers + 1):
        ws.users.add(f"m{n}@shop.example", "manager", PASSWORD, name=f"Manager {n}")
    ws.tasks.clock = lambda: NOW
    return ws, names


@pytest.fixture
def shop(store_url, tmp_path):
    ws, names = open_shop(store_url, tmp_path)
    yield ws, names
    ws.close()


def owners(ws: Workspace) -> dict[str, str | None]:
    return {t.customer: t.owner for t in ws.tasks.queue(limit=1000)}


def test_a_playbooks_call_steps_become_tasks_once_with_reasons_and_owners_in_turn(shop):
    """call-silent-year enrols S2, S3, S4 (test_run's EXPECTED); priority 78 is "high". m2 may take
    one task a day: round robin gives m1 the first (both at 0, m1's id is lower), m2 the second,
    and m1 the third (m2 is at its limit)."""
    ws, names = shop
    ws.tasks.set_manager("m2@shop.example", daily_limit=1)
    enable(ws, ["call-silent-year"])
    ws.playbooks.run(as_of=AS_OF)
    tasks = sorted(ws.tasks.queue(limit=1000), key=lambda t: t.task_id)
    assert {t.customer for t in tasks} == {"S2", "S3", "S4"}
    assert [t.owner for t in tasks] == ["m1@shop.example", "m2@shop.example", "m1@shop.example"]
    # The three are predicted hit-and-run buyers: the step's incentive is withheld, and the reason says so.
    assert set(ws.store.fetchall("SELECT DISTINCT buyer_type FROM buyer_types WHERE customer_id IN (?, ?, ?)",
                                 (names["S2"], names["S3"], names["S4"]))) == {("hit_and_run",)}
    assert {(t.origin, t.playbook, t.priority, t.state, t.offer) for t in tasks} == {
        ("playbook", "call-silent-year", "high", "open", None)}
    assert {t.due_at for t in tasks} == {NOW + timedelta(hours=24)}  # [tasks] due_hours
    # S2: orders 400 and 380 days before AS_OF, 10.00 each.
    s2 = next(t for t in tasks if t.customer == "S2")
    last = AS_OF - timedelta(days=380)
    assert s2.reason == (f"Call S2 Shopper: no order for a year. Offer the promo code. S2 Shopper placed 2 orders "
                         f"(20.00 in all), the last on {last:%Y-%m-%d}. Bought most: P1. Stage: lost. "
                         "No incentive: predicted hit-and-run buyer.")
    rows = ws.store.fetchall("SELECT status FROM outbox WHERE playbook = 'call-silent-year'")
    assert sorted(rows) == [("sent",)] * 3  # handed to the team
    ws.playbooks.run(as_of=AS_OF)  # the same day again: the rows are sent, no second task
    assert len(ws.tasks.queue(limit=1000)) == 3


def test_assignment_by_region_usual_manager_limits_and_absence(store_url, tmp_path):
    ws, names = open_shop(store_url, tmp_path, '[tasks]\nassign = "region"\n', managers=3)
    try:
        (tmp_path / "countries.csv").write_text("customer_id,country\nT3,SI\nT4,DE\nT2,FR\n", encoding="utf-8")
        assert ws.data.import_file("customers", tmp_path / "countries.csv").rows_rejected == 0
        ws.tasks.set_manager("m1@shop.example", regions="si, hr")
        ws.tasks.set_manager("m2@shop.example", regions="DE")
        ws.tasks.add("T3", "Asked about a refund")
        ws.tasks.add("T4", "Asked about delivery")
        ws.tasks.add("T2", "Wants a call")  # FR: nobody covers it, so round robin over all: m3 has none yet
        assert owners(ws) == {"T3": "m1@shop.example", "T4": "m2@shop.example", "T2": "m3@shop.example"}
        # Away from today: m1's open task moves to the manager with the fewest given today (m1 aside).
        ws.tasks.set_manager("m1@shop.example", away_from=NOW.date(), away_until=NOW.date() + timedelta(days=3))
        moved = owners(ws)["T3"]
        assert moved in ("m2@shop.example", "m3@shop.example") and moved != "m1@shop.example"
        ws.tasks.set_manager("m1@shop.example", back=True)
        assert owners(ws)["T3"] == moved  # coming back does not take tasks back
    finally:
        ws.close()


def test_the_usual_manager_and_a_full_day(store_url, tmp_path):
    ws, names = open_shop(store_url, tmp_path, '[tasks]\nassign = "usual"\ndaily_limit = 2\n')
    try:
        first = ws.tasks.add("X", "First call", owner="m2@shop.example")
        ws.tasks.log(first.task.task_id, "reached", by="m2@shop.example")
        ws.tasks.add("T3", "Someone new")  # no usual manager: round robin; m1 has given none, m2 one
        assert owners(ws)["T3"] == "m1@shop.example"
        again = ws.tasks.add("X", "Second call")  # X's usual manager is m2
        assert again.task.owner == "m2@shop.example"
        ws.tasks.add("T4", "m2 is full (2 today), m1 has 1")
        ws.tasks.add("T2", "both full now")
        assert owners(ws)["T4"] == "m1@shop.example" and owners(ws)["T2"] is None  # waits for a later pass
        ws.tasks.clock = lambda: NOW + timedelta(days=1)
        assert ws.tasks.assign() == 1 and owners(ws)["T2"] is not None
    finally:
        ws.close()


def test_outcomes_are_contacts_a_call_back_makes_the_follow_up_and_no_answers_close(shop):
    ws, names = shop
    task = ws.tasks.add("T3", "Asked for a call", owner="m1@shop.example").task
    with pytest.raises(InputError, match="call_back_at"):
        ws.tasks.log(task.task_id, "call_back", by="m1@shop.example")  # no time given: nothing logged
    back = NOW + timedelta(days=1, hours=6)
    detail = ws.tasks.log(task.task_id, "call_back", note="In a meeting", call_back_at=back, by="m1@shop.example")
    assert (detail.task.state, detail.task.outcome, len(detail.attempts)) == ("done", "call_back", 1)
    follow = ws.tasks.show(detail.follow_up).task
    assert (follow.origin, follow.owner, follow.due_at, follow.state) == ("follow_up", "m1@shop.example", back, "open")
    assert follow.reason.startswith("Call back as agreed on 2024-06-15 09:30: In a meeting. Before: Asked for a call.")
    contacts = ws.store.fetchall("SELECT kind, direction, outcome, note, by_whom, occurred_at FROM interactions "
                                 "WHERE customer_id = ?", (names["T3"],))
    assert contacts == [("call", "outbound", "call_back", "In a meeting", "m1@shop.example", NOW)]
    assert ws.customers.view("T3").last_contact_at == NOW
    for n in range(1, 4):  # [tasks] max_no_answer = 3
        ws.tasks.clock = lambda n=n: NOW + timedelta(days=1 + n)
        state = ws.tasks.log(follow.task_id, "no_answer", by="m1@shop.example").task
        assert state.state == ("done" if n == 3 else "open")
        if n < 3:
            assert state.due_at == NOW + timedelta(days=2 + n)  # due again a day later
    with pytest.raises(InputError, match="only an open task"):
        ws.tasks.log(follow.task_id, "reached")


def test_a_task_of_an_erased_customer_is_cancelled_and_takes_no_outcome(shop):
    ws, names = shop
    task = ws.tasks.add("T4", "T4 Shopper wants a call about order O7", owner="m1@shop.example").task
    ws.customers.erase("T4")
    erased = ws.store.fetchone("SELECT state, reason FROM tasks WHERE task_id = ?", (task.task_id,))
    assert erased == ("cancelled", "(erased)")
    with pytest.raises(InputError, match="erased"):
        ws.tasks.log(task.task_id, "reached", note="too late", by="m1@shop.example")
    assert ws.store.fetchone("SELECT COUNT(*) FROM task_attempts")[0] == 0
    pseudonym = ws.store.fetchone("SELECT external_id FROM customers WHERE customer_id = ?", (names["T4"],))[0]
    with pytest.raises(InputError, match="erased"):
        ws.tasks.add(pseudonym, "call again")


def test_an_open_task_pauses_automated_discounts_unless_the_shop_says_not(store_url, tmp_path):
    """win-back-180 (offer "10 % off the next order") reaches W180, W364 and R2 as of AS_OF."""
    for pause, expected in ((True, {"W180": "skipped"}), (False, {"W180": "queued"})):
        folder = tmp_path / str(pause)
        folder.mkdir()
        url = store_url if pause else f"duckdb:///{folder}/other.duckdb"
        ws, names = open_shop(url, folder, f"[tasks]\npause_discounts = {str(pause).lower()}\n")
        try:
            ws.tasks.add("W180", "A manager is on it", owner="m1@shop.example")
            enable(ws, ["win-back-180"])
            ws.playbooks.run(as_of=AS_OF, dry_run=False)
            rows = dict(ws.store.fetchall("SELECT c.external_id, o.status FROM outbox AS o JOIN customers AS c "
                                          "ON c.customer_id = o.customer_id WHERE o.playbook = 'win-back-180'"))
            reasons = dict(ws.store.fetchall("SELECT c.external_id, o.reason FROM outbox AS o JOIN customers AS c "
                                             "ON c.customer_id = o.customer_id WHERE o.playbook = 'win-back-180'"))
            assert set(rows) == {"W180", "W364", "R2"}
            assert rows["W180"] == "skipped" if pause else rows["W180"] == "sent"
            assert (reasons["W180"] == "a manager's task is open") is pause
            assert rows["W364"] == rows["R2"] == "sent"
        finally:
            ws.close()


def test_the_supervisors_figures_by_hand(shop, tmp_path):
    """From T0 (2024-06-20 09:00) on, all worked out by hand, NOW is T0 + 4 days:

    m1: A (T3) reached after 2 h; B (T4) no answer after 5 h and again a day later (due again at
        T0 + 2 d: overdue, not flagged); C (T2) never tried (due T0 + 1 d: overdue by 3 days,
        flagged). Open 2, overdue 2, flagged 1, done 1, median(2, 5) = 3.5 h, reach 1/2. T3 orders
        25.00 three days after the call (counted) and 30.00 twenty days after (past 14 days).
    m2: D (X) call back after 1 h, for T0 + 2 d; its follow-up E, given at T0 + 1 h, "ordered" at
        T0 + 2 d + 1 h (48 h). Done 2, median(1, 48) = 24.5 h, reach 2/2. X orders 40.00 at
        T0 + 2 d + 3 h: inside both calls' windows, counted once. T4's order after a no-answer is not counted.
    """
    ws, names = shop
    t0 = datetime(2024, 6, 20, 9, 0)
    at = lambda hours: (lambda: t0 + timedelta(hours=hours))  # noqa: E731 - a clock for each moment
    ws.tasks.clock = at(0)
    a = ws.tasks.add("T3", "A", owner="m1@shop.example").task.task_id
    b = ws.tasks.add("T4", "B", owner="m1@shop.example").task.task_id
    ws.tasks.add("T2", "C", owner="m1@shop.example")
    d = ws.tasks.add("X", "D", owner="m2@shop.example").task.task_id
    ws.tasks.clock = at(1)
    e = ws.tasks.log(d, "call_back", call_back_at=t0 + timedelta(days=2), by="m2@shop.example").follow_up
    ws.tasks.clock = at(2)
    ws.tasks.log(a, "reached", by="m1@shop.example")
    ws.tasks.clock = at(5)
    ws.tasks.log(b, "no_answer", by="m1@shop.example")
    ws.tasks.clock = at(24)
    ws.tasks.log(b, "no_answer", by="m1@shop.example")
    ws.tasks.clock = at(49)
    ws.tasks.log(e, "ordered", by="m2@shop.example")
    (tmp_path / "later.csv").write_text(
        "order_id,customer_id,placed_at,sku,quantity,unit_price\n"
        f"L1,T3,{t0 + timedelta(days=3):%Y-%m-%d %H:%M:%S},P1,1,25.00\n"
        f"L2,T3,{t0 + timedelta(days=20):%Y-%m-%d %H:%M:%S},P1,1,30.00\n"
        f"L3,X,{t0 + timedelta(hours=51):%Y-%m-%d %H:%M:%S},P1,1,40.00\n"
        f"L4,T4,{t0 + timedelta(hours=30):%Y-%m-%d %H:%M:%S},P1,1,50.00\n", encoding="utf-8")
    assert ws.data.import_file("orders", tmp_path / "later.csv").rows_rejected == 0
    ws.tasks.clock = at(96)
    figures = {f.manager: f.to_dict() for f in ws.tasks.supervise(30)}
    assert figures["m1@shop.example"] == {
        "manager": "m1@shop.example", "name": "Manager 1", "open": 2, "overdue": 2, "flagged": 1, "done": 1,
        "median_hours_to_first_attempt": 3.5, "attempted": 2, "reach_rate": 0.5, "orders": 1, "revenue": 25.0}
    assert figures["m2@shop.example"] == {
        "manager": "m2@shop.example", "name": "Manager 2", "open": 0, "overdue": 0, "flagged": 0, "done": 2,
        "median_hours_to_first_attempt": 24.5, "attempted": 2, "reach_rate": 1.0, "orders": 1, "revenue": 40.0}


def digest_shop(store_url, tmp_path, port: int, extra: str = ""):
    """m1 has a task due today (14:00), one overdue (yesterday) and one upcoming (tomorrow); m2 none."""
    ws, names = open_shop(store_url, tmp_path, smtp_settings(port) + extra)
    ws.tasks.add("T3", "Due today", owner="m1@shop.example", due_at=datetime(2024, 6, 15, 14, 0))
    ws.tasks.add("T4", "Overdue", owner="m1@shop.example", due_at=datetime(2024, 6, 14, 10, 0), priority="urgent")
    ws.tasks.add("T2", "Tomorrow", owner="m1@shop.example", due_at=datetime(2024, 6, 16, 10, 0))
    return ws, names


def test_the_morning_digest_reaches_each_manager_once(store_url, tmp_path):
    with Mailbox() as box:
        ws, names = digest_shop(store_url, tmp_path, box.port)
        try:
            assert ws.tasks.digest() == {"sent": 1, "empty": 1}
            assert ws.tasks.digest() == {"already": 2}  # the same day again: nothing more
            enable(ws, ["birthday"])
            assert ws.playbooks.run(as_of=AS_OF).tasks.digests == {"already": 2}  # `retainly run` makes the pass too
            user = ws.store.fetchone("SELECT user_id FROM users WHERE email = 'm1@shop.example'")[0]
            assert ws.store.fetchall("SELECT status, tasks FROM task_digests WHERE user_id = ?", (user,)) == [
                ("sent", 2)]
        finally:
            ws.close()
    [mail] = [item for item in box.received if item["to"] == ["m1@shop.example"]]
    message = mail["message"]
    assert message["Subject"] == "Your calls for 2024-06-15: 1 due today, 1 overdue"
    assert message["X-Retainly-Key"] == f"tasks-digest/{user}/2024-06-15"
    assert message["List-Unsubscribe"] is None and message["X-Retainly-Stream"] == "transactional"
    text = message.get_body(("plain",)).get_content()
    assert "T3 Shopper" in text and "T4 Shopper" in text and "T2 Shopper" not in text
    assert "[urgent] T4 Shopper (no phone), overdue since 2024-06-14 10:00" in text
    assert "https://shop.example/tasks/" in text
    html = message.get_body(("html",)).get_content()
    assert "/o/" not in html  # no open pixel in an internal message


def test_a_digest_the_server_defers_is_sent_by_a_later_pass(store_url, tmp_path):
    with Mailbox(lambda nth, envelope: "451 4.3.0 try again later" if nth == 1 else "250") as box:
        ws, names = digest_shop(store_url, tmp_path, box.port, "retries = 0\n")
        try:
            assert ws.tasks.digest() == {"retry": 1, "empty": 1}
            assert ws.tasks.digest() == {"sent": 1, "already": 1}
        finally:
            ws.close()
    assert [item["to"] for item in box.received] == [["m1@shop.example"]]


def test_a_detractors_score_makes_a_task_once_and_a_passive_one_none(shop):
    """Scores 0-3 are urgent, 4-6 high (docs/tasks.md); 7 and above make no task."""
    ws, names = shop
    signer = LinkSigner.of(ws.store)
    key = f"first-order-thanks/1/{names['T3']}/2024-06-12"
    token = signer.sign(FEEDBACK, names["T3"], key)
    ws.email.give_feedback(token, 3, "The parcel came  broken")
    ws.email.give_feedback(token, 2, "Still broken")  # the same message answered again: the same task
    [task] = ws.tasks.queue(customer="T3")
    assert (task.origin, task.priority, task.playbook, task.owner) == ("feedback", "urgent", "first-order-thanks",
                                                                       "m1@shop.example")
    assert task.reason.startswith('Gave 3/10 when asked after first-order-thanks: "The parcel came broken". '
                                  "Hear them out before they leave. T3 Shopper placed 1 order (10.00 in all)")
    other = signer.sign(FEEDBACK, names["T4"], f"first-order-thanks/1/{names['T4']}/2024-06-12")
    ws.email.give_feedback(other, 7)
    assert ws.tasks.queue(customer="T4") == []
    five = signer.sign(FEEDBACK, names["X"], f"win-back-60/1/{names['X']}/2024-06-12")
    ws.email.give_feedback(five, 5)
    assert [t.priority for t in ws.tasks.queue(customer="X")] == ["high"]


def test_each_new_urgent_task_is_posted_once_to_the_urgent_webhook(store_url, tmp_path):
    """`[tasks] urgent_channel` names a webhook channel (a real local HTTP server): a new urgent task
    is posted (signed, keyed `task/<id>`), a normal one is not, and a later pass posts nothing again."""
    with Receiver() as receiver:
        ws, names = open_shop(store_url, tmp_path, f'[tasks]\nurgent_channel = "alerts"\n'
                                                   f'[channels.alerts]\nurl = "{receiver.url}"\nsecret = "s3cret"\n')
        try:
            urgent = ws.tasks.add("T3", "Threatens to leave", priority="urgent").task
            ws.tasks.add("T4", "Wants a catalogue", priority="normal")
            ws.tasks.assign()
        finally:
            ws.close()
    assert receiver.received() == [f"task/{urgent.task_id}"]
    body = json.loads(receiver.requests[0]["body"])
    assert body["payload"]["reason"].startswith("Threatens to leave.") and body["payload"]["priority"] == "urgent"
    assert body["customer_id"] == names["T3"] and receiver.requests[0]["signature"].startswith("sha256=")
