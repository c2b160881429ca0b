"""The Playbooks pages on a running server (real uvicorn, real httpx; both engines): the library
and one playbook, each figure checked against its JSON twin (the API route with the same service
call, asked with an analyst's key), switching a playbook on and off and editing its timing and
text through the page's forms, the CSRF token and the roles those forms need, and switching in
Chromium.

The shop is tests/web/conftest.py's (shared by the package): win-back-60 is enabled and was run
once, so by hand its outbox holds one row, B's email, suppressed (B has no email consent), and
no other playbook has any. A test that enables or edits a playbook puts it back before it ends.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import httpx
import pytest

from tests.web.conftest import log_in_on_the_page, watched_page
from tests.web.test_login import PASSWORD, Visitor, add_user
from tests.web.test_pages_browser import CHROMIUM, check_against_twins

SWITCHED = "birthday"  # a built-in playbook the shop leaves disabled: the one these tests switch on


class Counts(HTMLParser):
    """The outbox counts a page shows: [(twin, status, value)] from ``data-count-twin`` marks, and
    each playbook row's enabled state {name: bool}."""

    def __init__(self):
        super().__init__()
        self.counts: list[tuple[str, str, int]] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if "data-count-twin" in found:
            self.counts.append((found["data-count-twin"], found["data-status"], int(found["data-value"])))


def counts_of(html: str) -> list[tuple[str, str, int]]:
    parser = Counts()
    parser.feed(html)
    return parser.counts


def check_counts_against_twins(api, html: str) -> dict[tuple[str, str], int]:
    """Every count on the page equals its twin's (GET /playbooks/{name}/activity: customers entered
    and held out, outbox rows by status); {(playbook, what): count}."""
    shown = {}
    for twin, status, value in counts_of(html):
        answer = api.get(twin.removeprefix("/api/v1"))
        assert answer.status_code == 200, (twin, answer.text)
        [activity] = answer.json()
        assert (activity[status] if status in ("entered", "held_out") else activity["outbox"][status]) == value, twin
        shown[(activity["playbook"], status)] = value
    return shown


def enabled_in_twin(api, name: str) -> bool:
    return api.get(f"/playbooks/{name}").json()["summary"]["enabled"]


def log_in_as(api, role: str, prefix: str) -> Visitor:
    visitor = Visitor(api)
    email = f"{prefix}-{api.tokens[role][-8:].lower()}@example.com"  # one per engine's server
    with api.app.state.shop.use() as ws:
        if email not in [user.email for user in ws.users.list()]:
            ws.users.add(email, role, PASSWORD)
    assert visitor.log_in(email).status_code == 303
    return visitor


@pytest.fixture
def analyst(api):
    visitor = log_in_as(api, "analyst", "playbooks-analyst")
    yield visitor
    visitor.close()


@pytest.fixture
def switched_back(api):
    """Leaves SWITCHED disabled, as the shared shop had it, whatever the test did."""
    assert not enabled_in_twin(api, SWITCHED)
    yield SWITCHED
    with api.app.state.shop.use() as ws:
        ws.playbooks.disable([SWITCHED])


def test_the_library_is_its_json_twins(api, analyst):
    page = analyst.client.get("/playbooks")
    assert page.status_code == 200 and page.headers["content-security-policy"].startswith("default-src 'self'")
    twin = api.get("/playbooks").json()
    assert twin["total"] == len(twin["items"]) == 15  # the built-in library, nothing of the shop's own
    # name, title, advice, trigger and enabled of every playbook
    assert check_against_twins(api, page.text) == 5 * 15
    assert {p["name"] for p in twin["items"] if p["enabled"]} == {"win-back-60"}
    for item in twin["items"]:
        assert f'href="/playbooks/{item["name"]}"' in page.text
    shown = check_counts_against_twins(api, page.text)
    assert len(shown) >= 4 * 15  # entered, held out, delivered and suppressed of each; other statuses where any
    # By hand: B entered win-back-60 (treatment) and its email row was suppressed; nothing else anywhere.
    assert {key: value for key, value in shown.items() if value} == {("win-back-60", "entered"): 1,
                                                                      ("win-back-60", "suppressed"): 1}
    assert '<a href="/playbooks" aria-current="page">Playbooks</a>' in page.text


def test_one_playbook_is_its_json_twin(api, analyst):
    page = analyst.client.get("/playbooks/win-back-60")
    assert page.status_code == 200, page.text
    detail = api.get("/playbooks/win-back-60").json()
    steps = len(detail["definition"]["steps"])
    # title, name, advice, enabled, trigger, goal, holdout, re-entry, priority, marketing; each step's
    # timing, action, channels, text, offer, and its subject where it has one
    subjects = sum(1 for step in detail["definition"]["steps"] if step["subject"])
    assert check_against_twins(api, page.text) == 10 + 5 * steps + subjects + bool(detail["definition"]["description"])
    shown = check_counts_against_twins(api, page.text)
    assert shown[("win-back-60", "suppressed")] == 1 and shown[("win-back-60", "sent")] == 0  # by hand
    assert (shown[("win-back-60", "entered")], shown[("win-back-60", "held_out")]) == (1, 0)  # B, treated
    assert len(shown) == 2 + 7  # entered, held out, every status
    for step in detail["definition"]["steps"]:
        assert step["text"].replace("'", "&#39;") in page.text


def test_an_unknown_playbook_gets_a_page_saying_so(analyst):
    answer = analyst.client.get("/playbooks/no-such-thing")
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
    assert "no playbook named &#39;no-such-thing&#39;" in answer.text and "Traceback" not in answer.text


def test_enabling_and_disabling_through_the_forms(api, analyst, switched_back):
    token = analyst.form_token("/playbooks")
    answer = analyst.client.post(f"/playbooks/{SWITCHED}/enable", data={"csrf_token": token, "back": "/playbooks"})
    assert (answer.status_code, answer.headers["location"]) == (303, "/playbooks")
    assert enabled_in_twin(api, SWITCHED)
    page = analyst.client.get("/playbooks").text
    assert check_against_twins(api, page) == 5 * 15  # the page says what the twin now says
    assert f'action="/playbooks/{SWITCHED}/disable"' in page

    # From the playbook's own page, and back to it; another site's address is never where it goes.
    back = f"/playbooks/{SWITCHED}"
    answer = analyst.client.post(f"{back}/disable", data={"csrf_token": token, "back": back})
    assert (answer.status_code, answer.headers["location"]) == (303, back) and not enabled_in_twin(api, SWITCHED)
    answer = analyst.client.post(f"{back}/enable", data={"csrf_token": token, "back": "//elsewhere.example"})
    assert answer.headers["location"] == "/" and enabled_in_twin(api, SWITCHED)
    answer = analyst.client.post(f"{back}/disable", data={"csrf_token": token})
    assert answer.headers["location"] == "/playbooks" and not enabled_in_twin(api, SWITCHED)
    answer = analyst.client.post("/playbooks/no-such-thing/enable", data={"csrf_token": token})
    assert answer.status_code == 404 and "no playbook named" in answer.text


EDITED = "vip-welcome"  # no other test reads it


def edit_form(definition: dict, token: str, **changes) -> dict:
    """The edit form's fields as the page fills them in (from the twin's definition), with ``changes``."""
    data = {"csrf_token": token, "goal_days": definition["goal_days"], "priority": definition["priority"],
            "holdout_share": definition["holdout_share"],
            "condition": json.dumps(definition["condition"]) if definition["condition"] else ""}
    if definition["trigger"]["rule"] is not None:
        data["trigger_rule"] = json.dumps(definition["trigger"]["rule"])
    for number, step in enumerate(definition["steps"], start=1):
        data.update({f"step{number}_after_days": step["after_days"], f"step{number}_text": step["text"]})
        if step["action"] == "message":
            data[f"step{number}_subject"] = step["subject"] or ""
    return {**data, **changes}


@pytest.fixture
def edited_back(api):
    """Puts EDITED's definition back as it was, whatever the test did."""
    before = api.get(f"/playbooks/{EDITED}").json()
    yield before
    with api.app.state.shop.use() as ws:
        ws.playbooks.edit(EDITED, definition=before["definition"])
    assert api.get(f"/playbooks/{EDITED}").json() == before


def test_editing_timing_text_and_holdout_through_the_form(api, analyst, edited_back):
    original = edited_back["definition"]
    page = analyst.client.get(f"/playbooks/{EDITED}").text
    assert f'action="/playbooks/{EDITED}/edit"' in page and 'name="step1_text"' in page
    token = analyst.form_token(f"/playbooks/{EDITED}")
    # Unchanged fields give back the same definition (the form round-trips what the twin says).
    answer = analyst.client.post(f"/playbooks/{EDITED}/edit", data=edit_form(original, token))
    assert (answer.status_code, answer.headers["location"]) == (303, f"/playbooks/{EDITED}")
    assert api.get(f"/playbooks/{EDITED}").json() == edited_back

    answer = analyst.client.post(f"/playbooks/{EDITED}/edit", data=edit_form(
        original, token, step1_after_days="2", step1_text="Welcome to the club, {{ first_name }}!",
        holdout_share="0.2", goal_days="45"))
    assert answer.status_code == 303
    now = api.get(f"/playbooks/{EDITED}").json()
    assert now["definition"]["steps"][0]["after_days"] == 2
    assert now["definition"]["steps"][0]["text"] == "Welcome to the club, {{ first_name }}!"
    assert (now["summary"]["holdout_share"], now["definition"]["goal_days"]) == (0.2, 45)
    assert now["summary"]["enabled"] == edited_back["summary"]["enabled"]
    page = analyst.client.get(f"/playbooks/{EDITED}").text
    assert "Welcome to the club" in page and check_against_twins(api, page) >= 10


@pytest.mark.parametrize("changes, status, message", [
    ({"step1_after_days": "soon"}, 422, "step 1&#39;s days after entering &#39;soon&#39; is not a whole number"),
    ({"holdout_share": "1.5"}, 422, "holdout_share = 1.5; give a share from 0 up to (not including) 1"),
    ({"condition": "days_since_last_order > 60"}, 422, "the condition is not JSON"),
    ({"condition": '{"field": "no_such_field", "op": "=", "value": 1}'}, 422, "no_such_field"),
    ({"csrf_token": ""}, 403, "security token is missing or out of date"),
])
def test_a_bad_edit_gets_a_page_saying_what_to_do_and_changes_nothing(api, analyst, edited_back, changes,
                                                                      status, message):
    token = analyst.form_token(f"/playbooks/{EDITED}")
    answer = analyst.client.post(f"/playbooks/{EDITED}/edit", data=edit_form(edited_back["definition"], token,
                                                                              **changes))
    assert answer.status_code == status and message in answer.text and "Traceback" not in answer.text
    assert api.get(f"/playbooks/{EDITED}").json() == edited_back


@pytest.mark.parametrize("data", [{}, {"csrf_token": ""}, {"csrf_token": "x" * 43}])
def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(api, analyst, switched_back, data):
    answer = analyst.client.post(f"/playbooks/{SWITCHED}/enable", data=data)
    assert answer.status_code == 403 and "security token is missing or out of date" in answer.text
    answer = analyst.client.post("/playbooks/win-back-60/disable", data=data)
    assert answer.status_code == 403
    assert not enabled_in_twin(api, SWITCHED) and enabled_in_twin(api, "win-back-60")


def test_a_manager_gets_the_403_page(api, switched_back):
    manager = log_in_as(api, "manager", "playbooks-manager")
    try:
        for path in ("/playbooks", "/playbooks/win-back-60"):
            answer = manager.client.get(path)
            assert answer.status_code == 403 and "this page is not for the role manager" in answer.text
        token = manager.form_token("/customers")  # the session's own token: still not the manager's to use
        answer = manager.client.post(f"/playbooks/{SWITCHED}/enable", data={"csrf_token": token})
        assert answer.status_code == 403 and "this page is not for the role manager" in answer.text
        answer = manager.client.post(f"/playbooks/{SWITCHED}/edit", data={"csrf_token": token, "goal_days": "1"})
        assert answer.status_code == 403 and "this page is not for the role manager" in answer.text
        assert not enabled_in_twin(api, SWITCHED)
        assert api.get(f"/playbooks/{SWITCHED}").json()["definition"]["goal_days"] != 1
        assert 'href="/playbooks"' not in manager.client.get("/customers").text  # not in their menu
    finally:
        manager.close()


def test_the_pages_send_a_visitor_without_a_session_to_the_login_page(api):
    with httpx.Client(base_url=api.client.base_url) as anonymous:
        assert anonymous.get("/playbooks").headers["location"] == "/login?next=/playbooks"
        answer = anonymous.post(f"/playbooks/{SWITCHED}/enable", data={})
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert not enabled_in_twin(api, SWITCHED)


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}: scripts/test installs Debian's chromium")
def test_switch_a_playbook_on_and_off_in_chromium(api, switched_back, chromium):
    email = f"playbooks-browser-{api.tokens['analyst'][-8:].lower()}@example.com"
    add_user(api, email, "analyst")
    base = str(api.client.base_url).rstrip("/")
    row = f'tr[data-playbook="{SWITCHED}"]'
    with watched_page(chromium) as (page, requests, errors):
        log_in_on_the_page(page, base, email, PASSWORD)

        page.click("header nav >> text=Playbooks")
        page.wait_for_url(f"{base}/playbooks")
        assert page.locator(f"{row} .enabled").inner_text() == "no"
        page.click(f"{row} button:has-text('Enable')")
        page.wait_for_url(f"{base}/playbooks")
        assert page.locator(f"{row} .enabled").inner_text() == "yes"
        assert enabled_in_twin(api, SWITCHED)

        page.click(f"{row} a")
        page.wait_for_url(f"{base}/playbooks/{SWITCHED}")
        assert page.locator(".enabled").inner_text() == "yes"
        page.click("form.switch button:has-text('Disable')")
        page.wait_for_url(f"{base}/playbooks/{SWITCHED}")
        assert page.locator(".enabled").inner_text() == "no"
    assert not enabled_in_twin(api, SWITCHED)
    assert errors == [] and all(url.startswith(base + "/") for url in requests)
