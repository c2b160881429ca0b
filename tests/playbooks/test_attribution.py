"""What each message brought (retainly.playbooks.attribution), on hand-checked cases.

The run loop's hand-made shop (tests/playbooks/test_run.py): every order is one line of 10.00 at
noon, written as days before AS_OF. Messages are written straight into the outbox (as a run
would have sent them, at 09:00 of the day named), with their enrolments' goal windows:
win-back-60 30 days, cross-sell 10 days.

    message  playbook      to   due      the customer's orders   attributed (last touch)
    M1       win-back-60   N2   day 20   20, 14                  both (3 hours and 6 days after)
    M2       win-back-60   X    day 10   157, 3                  none: M3 touched X later
    M3       cross-sell    X    day 5    157, 3                  the order of day 3
    M4       win-back-60   T4   day 2    4                       none: the order came before
    M5       cross-sell    W60  day 75   60                      none: 15 days after, past 10
    M6       cross-sell    R1   day 85   100, 80                 the order of day 80 (5 days after)
    M7       win-back-60   N1   day 21   20                      none: still queued, never delivered

So win-back-60: delivered 3, converted 1 (N2), 2 orders, 20.00, rate 1/3; cross-sell:
delivered 3, converted 2 (X, R1), 2 orders, 20.00, rate 2/3. Events: an unsubscribe from M4,
a bounce of M5, a feedback answer to M1.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from html.parser import HTMLParser

import httpx
import pytest

from retainly import Workspace
from retainly.playbooks import outbox
from retainly.playbooks.outbox import OutboxEntry
from retainly.web.app import create_app
from tests.playbooks.test_run import AS_OF, load_shop, settings_file, write_shop
from tests.web.conftest import analyst_session, serving
from tests.web.test_pages_browser import at

MESSAGES = {"M1": ("win-back-60", "N2", 20, "sent"), "M2": ("win-back-60", "X", 10, "sent"),
            "M3": ("cross-sell", "X", 5, "sent"), "M4": ("win-back-60", "T4", 2, "sent"),
            "M5": ("cross-sell", "W60", 75, "sent"), "M6": ("cross-sell", "R1", 85, "sent"),
            "M7": ("win-back-60", "N1", 21, "queued")}
GOALS = {"win-back-60": 30, "cross-sell": 10}


@pytest.fixture
def shop(store_url, tmp_path):
    ws = Workspace.open(store_url, settings=settings_file(tmp_path))
    names = load_shop(ws, write_shop(tmp_path / "shop"))
    keys = {}
    for message, (playbook, customer, days, status) in MESSAGES.items():
        due = datetime.combine(AS_OF - timedelta(days=days), datetime.min.time()).replace(hour=9)
        occurrence = f"{message}-{due:%Y-%m-%d}"
        entry = OutboxEntry(playbook, 1, names[customer], occurrence, "email", 50, due, {"email": "x@example.com"})
        outbox.write(ws.store, [entry], run_id=1)
        ws.store.execute("UPDATE outbox SET status = ? WHERE key = ?", (status, entry.key))
        ws.store.execute("INSERT INTO enrolments (playbook, customer_id, occurrence, enrolled_on, arm, holdout_share, "
                         "goal_days, run_id, created_at) VALUES (?, ?, ?, ?, 'treatment', 0.0, ?, 1, ?)",
                         (playbook, names[customer], occurrence, due.date(), GOALS[playbook], due))
        keys[message] = entry.key
    the_day_before = datetime.combine(AS_OF, datetime.min.time()) - timedelta(hours=12)
    for number, (message, kind) in enumerate((("M4", "unsubscribe"), ("M5", "bounce"), ("M1", "feedback"))):
        ws.store.execute("INSERT INTO message_events (event_id, message_key, customer_id, kind, detail, occurred_at, "
                         "recorded_at) VALUES (?, ?, ?, ?, '', ?, ?)",
                         (f"e{number}", keys[message], names[MESSAGES[message][1]], kind, the_day_before,
                          the_day_before))
    yield ws
    ws.close()


def test_each_order_goes_to_the_last_message_whose_goal_window_covers_it(shop):
    found = {(row.playbook, row.step): row for row in shop.playbooks.results(as_of=AS_OF)}
    assert set(found) == {("win-back-60", 1), ("cross-sell", 1)}
    win_back, cross_sell = found[("win-back-60", 1)], found[("cross-sell", 1)]
    assert (win_back.delivered, win_back.converted, win_back.orders, win_back.revenue) == (3, 1, 2, 20.0)
    assert (cross_sell.delivered, cross_sell.converted, cross_sell.orders, cross_sell.revenue) == (3, 2, 2, 20.0)
    assert (win_back.conversion_rate, cross_sell.conversion_rate) == (0.3333, 0.6667)
    assert (win_back.unsubscribed, win_back.feedback_answers, win_back.bounced) == (1, 1, 0)
    assert (cross_sell.bounced, cross_sell.unsubscribed) == (1, 0)
    assert [row.playbook for row in shop.playbooks.results("cross-sell", as_of=AS_OF)] == ["cross-sell"]


def test_as_of_an_earlier_day_only_what_had_happened_by_then_counts(shop):
    # As of day 12: M1 (day 20) and its two orders (days 20 and 14), M5 and M6 (and R1's order of
    # day 80); M2, M3 and M4 were not due yet, nor the events (the day before AS_OF).
    found = {row.playbook: row for row in shop.playbooks.results(as_of=AS_OF - timedelta(days=12))}
    assert (found["win-back-60"].delivered, found["win-back-60"].orders, found["win-back-60"].unsubscribed) == (1, 2, 0)
    assert (found["cross-sell"].delivered, found["cross-sell"].converted, found["cross-sell"].bounced) == (2, 1, 0)


class ResultMarks(HTMLParser):
    """(twin, field, value) of every ``data-result-twin`` mark of a page."""

    def __init__(self):
        super().__init__()
        self.marks: list[tuple[str, str, object]] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if "data-result-twin" in found:
            self.marks.append((found["data-result-twin"], found["data-result-field"], json.loads(found["data-value"])))


def test_the_playbook_page_shows_what_its_messages_brought_as_its_twin_does(shop, store_url, tmp_path):
    shop.close()  # the server opens the store next (DuckDB admits one writing process)
    app = create_app(store_url, settings_file(tmp_path))
    with serving(app) as base, httpx.Client(base_url=base) as client:
        with analyst_session(app, client) as (browser, token):
            page = browser.get("/playbooks/cross-sell")
        assert page.status_code == 200
        marks = ResultMarks()
        marks.feed(page.text)
        assert len(marks.marks) == 11  # one step, eleven figures
        for twin, field, value in marks.marks:
            answer = client.get(twin, headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text
            assert at(answer.json(), field) == value, field
        assert {field: value for _, field, value in marks.marks}["0.converted"] == 2


def test_a_message_clicked_before_the_order_wins_over_a_later_one_only_delivered(shop):
    # X was sent M2 (win-back-60, day 10) and M3 (cross-sell, day 5) and ordered on day 3: a click
    # on M2 on day 4 gives the order to M2. Then win-back-60 has N2 (2 orders) and X (1): 3 orders,
    # 30.00, 2 customers; cross-sell keeps only R1's order of day 80.
    key = shop.store.fetchall("SELECT key FROM outbox WHERE playbook = 'win-back-60' AND occurrence LIKE 'M2-%'")[0][0]
    clicked_at = datetime.combine(AS_OF - timedelta(days=4), datetime.min.time()).replace(hour=10)
    shop.store.execute("INSERT INTO message_events (event_id, message_key, customer_id, kind, detail, occurred_at, "
                       "recorded_at) SELECT 'c1', key, customer_id, 'click', 'https://shop.example/', ?, ? "
                       "FROM outbox WHERE key = ?", (clicked_at, clicked_at, key))
    found = {row.playbook: row for row in shop.playbooks.results(as_of=AS_OF)}
    win_back, cross_sell = found["win-back-60"], found["cross-sell"]
    assert (win_back.converted, win_back.orders, win_back.revenue, win_back.clicked) == (2, 3, 30.0, 1)
    assert (cross_sell.converted, cross_sell.orders, cross_sell.revenue, cross_sell.clicked) == (1, 1, 10.0, 0)
