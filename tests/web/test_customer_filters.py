"""The customer list's filters (segment, stage, buyer type, audience) in the API, the page and its
CSV, and the messages and tasks of a customer's timeline, on both engines.

The shop is tests/web/conftest.py's KPI shop, as of its last order, 2024-03-20 (worked out in
tests/services/test_customer_filters.py): segments A Champions, B Hibernating, C At Risk,
D Potential Loyalist, E About to Sleep; stages A active, B at_risk, C, D and E new; no buyer
types (the shop is 75 days old, a buyer type needs 180 days of history). B alone entered
win-back-60, and B's email was suppressed: B has no email consent.
"""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest

from tests.web.test_login import PASSWORD, Visitor
from tests.web.test_pages_browser import check_against_twins

AUDIENCE = "filters-quiet"  # this module's own audience: the package's tests share the shop


def found(api, **params) -> tuple[int, list[str]]:
    answer = api.get("/customers", role="manager", params=params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return body["total"], [item["customer_id"] for item in body["items"]]


@pytest.fixture
def quiet(api) -> str:
    """A saved audience of those more than 20 days silent: B (70 days) and C (24), evaluated on saving."""
    answer = api.client.put(f"/api/v1/audiences/saved/{AUDIENCE}", headers=api.key("analyst"),
                            json={"rule": "days_since_last_order > 20"})
    assert answer.status_code == 200, answer.text
    return AUDIENCE


@pytest.fixture
def manager(api):
    visitor = Visitor(api)
    email = f"filters-{api.tokens['manager'][-8:].lower()}@example.com"  # one per engine's server
    with api.app.state.shop.use() as ws:
        if email not in [user.email for user in ws.users.list()]:
            ws.users.add(email, "manager", PASSWORD)
    assert visitor.log_in(email).status_code == 303
    yield visitor
    visitor.close()


def test_the_api_filters(api, quiet):
    assert found(api, stage="new") == (3, ["C", "D", "E"])  # by name: Cy, Di, Ed
    assert found(api, segment="Champions") == (1, ["A"])
    assert found(api, q="d", stage="new") == (2, ["D", "E"])  # the id D first; Ada is active
    assert found(api, stage="new", limit=1, offset=1) == (3, ["D"])
    assert found(api, buyer_type="active") == (0, [])  # no one has a buyer type yet
    assert found(api, audience=quiet) == (2, ["B", "C"])
    assert found(api, audience=quiet, segment="Hibernating") == (1, ["B"])
    assert found(api, stage="", segment="") == (5, ["A", "B", "C", "D", "E"])  # empty: no filter
    body = api.get("/customers", role="manager", params={"stage": "at_risk"}).json()
    assert body == {"total": 1, "limit": 20, "offset": 0, "as_of": "2024-03-20",
                    "items": [{"customer_id": "B", "name": "Bo", "email": "bo@example.com", "phone": None,
                               "country": None}]}
    assert api.get("/customers", role="manager", params={"audience": quiet}).json()["as_of"] is None


@pytest.mark.parametrize("field, value, words", [
    ("segment", "Champs", "is not an RFM segment; use one of: New, Potential Loyalist, Champions"),
    ("stage", "gone", "is not a lifecycle stage; use one of: new, active, at_risk, lapsed, lost, won_back"),
    ("buyer_type", "bargain", "is not a buyer type; use one of: hit_and_run, discount_only, active"),
    ("audience", "no-such-audience", "is not a saved audience"),
])
def test_the_api_refuses_an_unknown_value(api, field, value, words):
    answer = api.get("/customers", role="manager", params={field: value})
    assert answer.status_code == 422
    assert answer.json()["field"] == field and f"`{field}` {value!r} {words}" in answer.json()["error"]


def test_the_page_shows_its_twins_filtered_list(api, manager, quiet):
    page = manager.client.get("/customers", params={"stage": "new", "q": "d"})
    assert page.status_code == 200, page.text
    # D and E, five columns each, the number found and the day of the stages.
    assert check_against_twins(api, page.text) == 2 * 5 + 1 + 1
    twin = unescape(re.search(r'data-twin="([^"]+)"', page.text).group(1))
    assert twin == "/api/v1/customers?q=d&stage=new&limit=20&offset=0"
    assert '<option value="new" selected>new</option>' in page.text
    assert '<option value="at_risk">at risk</option>' in page.text
    assert f'<option value="{quiet}">{quiet}</option>' in page.text  # saved audiences are choices
    assert '<option value="Champions">Champions</option>' in page.text
    assert '<option value="discount_only">discount only</option>' in page.text
    page = manager.client.get("/customers", params={"audience": quiet})
    assert check_against_twins(api, page.text) == 2 * 5 + 1  # B and C; no date for an audience
    assert f'<option value="{quiet}" selected>' in page.text


def test_paging_links_and_the_csv_keep_the_filters(api, manager, monkeypatch):
    from retainly.web import pages_customers

    monkeypatch.setattr(pages_customers, "PER_PAGE", 2)  # C, D, E in stage new: pages of 2 and 1
    first = manager.client.get("/customers", params={"stage": "new"}).text
    following = unescape(re.search(r'<a href="([^"]+)" rel="next"', first).group(1))
    assert following == "/customers?q=&stage=new&page=2"
    second = manager.client.get(following).text
    assert check_against_twins(api, second) == 1 * 5 + 1 + 1 and "page 2 of 2" in second
    assert unescape(re.search(r'<a href="([^"]+)" rel="prev"', second).group(1)) == "/customers?q=&stage=new&page=1"
    export = unescape(re.search(r'<a href="(/customers\.csv[^"]*)"', first).group(1))
    assert export == "/customers.csv?q=&stage=new"
    rows = list(csv.DictReader(io.StringIO(manager.client.get(export).text)))
    assert [row["customer_id"] for row in rows] == ["C", "D", "E"]


def test_the_page_says_what_is_wrong_with_a_filter(manager):
    answer = manager.client.get("/customers", params={"stage": "gone"})
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
    assert "`stage` &#39;gone&#39; is not a lifecycle stage" in answer.text
    answer = manager.client.get("/customers.csv", params={"segment": "x" * 201})
    assert answer.status_code == 422 and "the segment is 201 characters long" in answer.text


def test_the_timeline_shows_the_suppressed_email(api, manager):
    """B's one outbox row: win-back-60's step 1 email "It has been a while", due 2024-03-20 12:00,
    suppressed for want of email consent."""
    twin = api.get("/customers/B", role="manager").json()
    assert twin["messages"] == [{
        "playbook": "win-back-60", "step": 1, "channel": "email", "status": "suppressed",
        "reason": "no email consent", "subject": "It has been a while",
        "text": "We miss you, Bo. Here is what is new since your last order.",
        "due_at": "2024-03-20 12:00:00", "sent_at": None}]
    page = manager.client.get("/customers/B").text
    assert check_against_twins(api, page) >= 16  # the status is marked too
    rows = re.findall(r'<tr class="event-(\w+)"><td>([^<]*)</td><td>([^<]*)</td><td>(.*?)</td>', page)
    # Newest first: the email of Mar 20, then B's one order, of Jan 10.
    assert [(kind, when) for kind, when, _, _ in rows] == [("message", "2024-03-20 12:00"),
                                                           ("order", "2024-01-10 12:00")]
    _, _, what, detail = rows[0]
    assert unescape(what) == "Email: It has been a while"
    assert 'data-field="messages.0.status" data-value="&#34;suppressed&#34;"' in detail
    assert unescape(re.sub(r"<[^>]+>", "", detail)) == "not sent: no email consent – win-back-60, step 1"
    assert "event-message" not in manager.client.get("/customers/A").text  # A has no messages
