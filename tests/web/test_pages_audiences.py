"""The Audiences pages on a running server (real uvicorn, real httpx; both engines): the list, the
builder and a saved audience, each figure checked against its JSON twin (the API route with the
same service call, asked with an analyst's key); counting a rule with and without JavaScript, a
bad rule, saving through the form with its CSRF token and role, the members a page at a time and
as CSV, and building, saving and opening an audience in Chromium.

The shop is tests/web/conftest.py's (shared by the package), as of its last order, 2024-03-20. By
hand: ``orders_count >= 2`` selects A (3 purchase orders), C (2) and D (2: its cancelled 500 is no
purchase), not B or E (one each); of those only A has email consent, so
``orders_count >= 2 and email_consent`` selects A alone. The audiences a test saves are deleted
after it, so the other tests' lists stay as they were.
"""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

import httpx
import pytest

from retainly.audiences.fields import CATALOG
from tests.web.conftest import log_in_on_the_page, watched_page
from tests.web.test_login import PASSWORD, add_user
from tests.web.test_pages_browser import CHROMIUM, at, check_against_twins
from tests.web.test_pages_playbooks import log_in_as

REPEATERS = "orders_count >= 2"  # A, C and D (see above)
AS_OF = "2024-03-20"


class KindMarks(HTMLParser):
    """One kind of mark (``catalog``, ``preview``): the element naming its twin (its attributes) and
    the figures marked ``data-{kind}-field``."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind
        self.twin: dict[str, str] = {}
        self.marked: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if f"data-{self.kind}-twin" in found:
            self.twin = found
        if f"data-{self.kind}-field" in found:
            self.marked.append((found[f"data-{self.kind}-field"], found["data-value"]))


def marks_of(html: str, kind: str) -> KindMarks:
    marks = KindMarks(kind)
    marks.feed(html)
    return marks


def check_catalog(api, html: str) -> int:
    """The catalog beside a saved audience is GET /audiences/fields's; how many figures were checked."""
    marks = marks_of(html, "catalog")
    answer = api.get(marks.twin["data-catalog-twin"].removeprefix("/api/v1")).json()
    for field, value in marks.marked:
        assert json.loads(value) == at(answer, field), field
    return len(marks.marked)


def check_preview(api, html: str) -> dict:
    """The page's preview is what POST /audiences/preview answers for the rule the page counted
    (its ``data-preview-rule``); that answer."""
    marks = marks_of(html, "preview")
    twin = marks.twin
    answer = api.client.post(twin["data-preview-twin"], headers=api.key("analyst"),
                             json={"rule": twin["data-preview-rule"], "sample": int(twin["data-preview-sample"])})
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert marks.marked, "the page shows no preview"
    for field, value in marks.marked:
        assert json.loads(value) == at(preview, field), field
    # customers, as of, rule; four columns a sampled customer; value and count a stage and a segment
    assert len(marks.marked) == 3 + 4 * len(preview["sample"]) + 2 * (len(preview["by_stage"]) +
                                                                      len(preview["by_segment"]))
    return preview


def saved_names(api) -> set[str]:
    return {audience["name"] for audience in api.get("/audiences/saved").json()["items"]}


@pytest.fixture
def analyst(api):
    visitor = log_in_as(api, "analyst", "audiences-analyst")
    yield visitor
    visitor.close()


@pytest.fixture
def cleaned(api):
    """Names a test may save: deleted afterwards, whatever the test did (none is there before)."""
    names = ["page-saved", "page-replaced", "browser-repeaters"]
    assert not saved_names(api) & set(names)
    yield names
    with api.app.state.shop.use() as ws:
        for name in set(names) & {audience.name for audience in ws.audiences.list()}:
            ws.audiences.delete(name)


@pytest.fixture
def repeaters(api):
    """The audience ``page-repeaters`` (orders_count >= 2), saved and evaluated as the API does."""
    with api.app.state.shop.use() as ws:
        ws.audiences.save("page-repeaters", REPEATERS, "bought more than once")
        ws.audiences.evaluate("page-repeaters")
    yield "page-repeaters"
    with api.app.state.shop.use() as ws:
        ws.audiences.delete("page-repeaters")


def test_the_list_is_its_json_twin(api, analyst, repeaters):
    page = analyst.client.get("/audiences")
    assert page.status_code == 200 and page.headers["content-security-policy"].startswith("default-src 'self'")
    twin = api.get("/audiences/saved?limit=20&offset=0").json()
    # the number saved, and name, description, rule, members and day evaluated of each
    assert check_against_twins(api, page.text) == 1 + 5 * len(twin["items"])
    [mine] = [audience for audience in twin["items"] if audience["name"] == repeaters]
    assert mine == {"name": repeaters, "rule": REPEATERS, "description": "bought more than once", "members": 3,
                    "last_evaluated": AS_OF}  # A, C and D, evaluated as of the last order
    assert f'href="/audiences/{repeaters}"' in page.text and 'href="/audiences/new">New audience' in page.text
    assert '<a href="/audiences" aria-current="page">Audiences</a>' in page.text


def test_the_empty_builder_is_the_field_catalog(api, analyst):
    page = analyst.client.get("/audiences/new")
    assert page.status_code == 200, page.text
    twin = api.get("/audiences/fields?limit=1000").json()
    assert twin["total"] == len(twin["items"]) == len(CATALOG)
    # group, name, type, arguments and help of every field
    assert check_against_twins(api, page.text) == 5 * len(CATALOG)
    assert marks_of(page.text, "preview").marked == []  # no rule yet: nothing counted
    assert "Type a rule to see how many customers it selects." in page.text
    assert '<script src="/static/audiences.js" defer></script>' in page.text


def test_a_rule_in_the_address_is_counted(api, analyst):
    page = analyst.client.get("/audiences/new", params={"rule": REPEATERS})
    assert page.status_code == 200, page.text
    preview = check_preview(api, page.text)
    assert (preview["as_of"], preview["customers"]) == (AS_OF, 3)
    assert sorted(row["customer"] for row in preview["sample"]) == ["A", "C", "D"]
    assert sum(row["customers"] for row in preview["by_stage"]) == sum(
        row["customers"] for row in preview["by_segment"]) == 3
    for customer in ("A", "C", "D"):
        assert f'href="/customers/{customer}"' in page.text


def test_a_saved_audience_is_its_json_twins(api, analyst, repeaters):
    page = analyst.client.get(f"/audiences/{repeaters}")
    assert page.status_code == 200, page.text
    assert check_against_twins(api, page.text) == 5  # name, description, rule, members, day evaluated
    assert check_catalog(api, page.text) == 5 * len(CATALOG)
    preview = check_preview(api, page.text)  # its rule, counted again: A, C and D
    assert (preview["rule"], preview["customers"]) == (REPEATERS, 3)
    assert f'name="name" value="{repeaters}"' in page.text and "&gt;= 2</textarea>" in page.text
    assert f'href="/audiences/{repeaters}/members"' in page.text


def test_counting_without_and_with_javascript(api, analyst):
    token = analyst.form_token("/audiences/new")
    rule = f"{REPEATERS} and email_consent"  # A alone
    # The "Count" button: the form with its token, answered by the whole page.
    page = analyst.client.post("/audiences/preview", data={"csrf_token": token, "rule": rule, "name": "x"})
    assert page.status_code == 200, page.text
    assert check_preview(api, page.text)["customers"] == 1
    assert [row["customer"] for row in check_preview(api, page.text)["sample"]] == ["A"]
    assert 'name="name" value="x"' in page.text  # the form as it was sent
    # The page's script: the token in a header.
    page = analyst.client.post("/audiences/preview", data={"rule": REPEATERS}, headers={"X-CSRF-Token": token})
    assert page.status_code == 200 and check_preview(api, page.text)["customers"] == 3
    for refused in ({}, {"X-CSRF-Token": "x" * 43}):
        answer = analyst.client.post("/audiences/preview", data={"rule": REPEATERS}, headers=refused)
        assert answer.status_code == 403 and "security token is missing or out of date" in answer.text


@pytest.mark.parametrize("rule, message", [
    ("days_since_last_order >> 20", "rule, column 24: unexpected &#39;&gt;&#39;; expected a value"),
    ("days_since_lst_order > 3", "unknown field &#39;days_since_lst_order&#39;; did you mean days_since_last_order"),
    ("orders_count >= 2 and", "rule, column 22: the rule ends too early"),
    ("", "the rule is empty; write a condition such as days_since_last_order &gt; 60"),
])
def test_a_bad_rule_is_said_in_plain_words_and_saves_nothing(api, analyst, cleaned, rule, message):
    token = analyst.form_token("/audiences/new")
    page = analyst.client.post("/audiences/preview", data={"csrf_token": token, "rule": rule})
    assert page.status_code == 422 and message in page.text and "Traceback" not in page.text
    assert marks_of(page.text, "preview").marked == []
    if "column" in message:  # the rule again, with a caret under the column the message names
        column = int(message.split("column ")[1].split(":")[0])
        assert f'<pre class="pointer">{rule.replace(">", "&gt;")}\n{" " * (column - 1)}^</pre>' in page.text
    page = analyst.client.post("/audiences/save", data={"csrf_token": token, "rule": rule, "name": "page-saved"})
    assert page.status_code == 422 and "Not saved: " in page.text and message in page.text
    assert 'value="page-saved"' in page.text  # the form comes back as it was sent
    assert "page-saved" not in saved_names(api)
    assert api.get("/audiences/saved/page-saved").status_code == 404


@pytest.mark.parametrize("name, message", [
    ("new", "audience name &#39;new&#39; is the address of the builder&#39;s page; choose another"),
    ("no spaces", "audience name &#39;no spaces&#39;: use letters, digits"),
    ("", "audience name &#39;&#39;: use letters, digits"),
])
def test_a_bad_name_saves_nothing(api, analyst, name, message):
    before = saved_names(api)
    token = analyst.form_token("/audiences/new")
    page = analyst.client.post("/audiences/save", data={"csrf_token": token, "rule": REPEATERS, "name": name})
    assert page.status_code == 422 and message in page.text
    assert check_preview(api, page.text)["customers"] == 3  # the rule is fine: still counted
    assert saved_names(api) == before


def test_saving_and_replacing_through_the_form(api, analyst, cleaned):
    token = analyst.form_token("/audiences/new")
    answer = analyst.client.post("/audiences/save", data={"csrf_token": token, "rule": REPEATERS,
                                                          "name": "page-saved", "description": " repeat buyers "})
    assert (answer.status_code, answer.headers["location"]) == (303, "/audiences/page-saved")
    assert api.get("/audiences/saved/page-saved").json() == {
        "name": "page-saved", "rule": REPEATERS, "description": "repeat buyers", "members": 3,
        "last_evaluated": AS_OF}  # A, C and D
    page = analyst.client.get("/audiences/page-saved")
    assert check_against_twins(api, page.text) == 5

    # Saving the name again replaces the rule and evaluates it: C and D leave, A stays.
    answer = analyst.client.post("/audiences/save", data={"csrf_token": token, "name": "page-saved",
                                                          "rule": f"{REPEATERS} and email_consent"})
    assert answer.status_code == 303
    assert api.get("/audiences/saved/page-saved").json() | {"rule": None} == {
        "name": "page-saved", "rule": None, "description": None, "members": 1, "last_evaluated": AS_OF}
    members = api.get("/audiences/saved/page-saved/members").json()
    assert [member["customer"] for member in members["items"]] == ["A"]


@pytest.mark.parametrize("data", [{}, {"csrf_token": ""}, {"csrf_token": "x" * 43}])
def test_a_form_without_its_csrf_token_is_refused_and_saves_nothing(api, analyst, cleaned, data):
    answer = analyst.client.post("/audiences/save", data={**data, "rule": REPEATERS, "name": "page-saved"})
    assert answer.status_code == 403 and "security token is missing or out of date" in answer.text
    assert "page-saved" not in saved_names(api)


def test_a_manager_gets_the_403_page_and_saves_nothing(api, cleaned, repeaters):
    manager = log_in_as(api, "manager", "audiences-manager")
    try:
        for path in ("/audiences", "/audiences/new", f"/audiences/{repeaters}", f"/audiences/{repeaters}/members",
                     f"/audiences/{repeaters}/members.csv"):
            answer = manager.client.get(path)
            assert answer.status_code == 403 and "this page is not for the role manager" in answer.text, path
        token = manager.form_token("/customers")  # the session's own token: still not the manager's to use
        answer = manager.client.post("/audiences/save", data={"csrf_token": token, "rule": REPEATERS,
                                                              "name": "page-saved"})
        assert answer.status_code == 403 and "this page is not for the role manager" in answer.text
        answer = manager.client.post("/audiences/preview", data={"rule": REPEATERS}, headers={"X-CSRF-Token": token})
        assert answer.status_code == 403
        assert "page-saved" not in saved_names(api)
        assert 'href="/audiences"' not in manager.client.get("/customers").text  # not in their menu
    finally:
        manager.close()


def test_the_members_page_and_csv_are_the_twins(api, analyst, repeaters):
    page = analyst.client.get(f"/audiences/{repeaters}/members")
    assert page.status_code == 200, page.text
    # the total (3: A, C and D, the whole list on one page) and customer, name and day entered of each
    assert check_against_twins(api, page.text) == 1 + 3 * 3
    twin = api.get(f"/audiences/saved/{repeaters}/members?limit=20&offset=0").json()
    assert twin["total"] == 3 and 'rel="next"' not in page.text

    answer = analyst.client.get(f"/audiences/{repeaters}/members.csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == f'attachment; filename="audience-{repeaters}.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert list(rows[0]) == ["customer", "name", "entered_on", "left_on"]
    assert rows == [{key: "" if value is None else str(value) for key, value in item.items()}
                    for item in twin["items"]]
    # By hand: all three entered on the day of the evaluation, and none has left.
    assert sorted((row["customer"], row["name"], row["entered_on"], row["left_on"]) for row in rows) == [
        ("A", "Ada", AS_OF, ""), ("C", "Cy", AS_OF, ""), ("D", "Di", AS_OF, "")]


def test_the_members_paginate(api, analyst, repeaters, monkeypatch):
    from retainly.web import pages_audiences

    monkeypatch.setattr(pages_audiences, "PER_PAGE", 2)  # three members: pages of 2 and 1
    first, second = (analyst.client.get(f"/audiences/{repeaters}/members?page={number}") for number in (1, 2))
    # Page 1: more follow, so the total is not known (null, as in the twin); page 2 reaches the end.
    assert check_against_twins(api, first.text) == 1 + 2 * 3 and 'data-value="null"' in first.text
    assert check_against_twins(api, second.text) == 1 + 1 * 3
    assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text


@pytest.mark.parametrize("path, status, message", [
    ("/audiences/nobody", 404, "no audience named &#39;nobody&#39;"),
    ("/audiences/nobody/members", 404, "no audience named &#39;nobody&#39;"),
    ("/audiences/nobody/members.csv", 404, "no audience named &#39;nobody&#39;"),
    ("/audiences?page=0", 422, "page &#39;0&#39; is not a page number"),
    ("/audiences/nobody/members?page=x", 422, "page &#39;x&#39; is not a page number"),
])
def test_bad_addresses_get_a_page_saying_so(analyst, path, status, message):
    answer = analyst.client.get(path)
    assert answer.status_code == status and answer.headers["content-type"].startswith("text/html")
    assert message in answer.text and "Traceback" not in answer.text


def test_the_pages_send_a_visitor_without_a_session_to_the_login_page(api):
    with httpx.Client(base_url=api.client.base_url) as anonymous:
        assert anonymous.get("/audiences/new").headers["location"] == "/login?next=/audiences/new"
        answer = anonymous.post("/audiences/save", data={"rule": REPEATERS, "name": "page-saved"})
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert "page-saved" not in saved_names(api)


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}: scripts/test installs Debian's chromium")
def test_build_save_and_open_an_audience_in_chromium(api, cleaned, chromium):
    email = f"audiences-browser-{api.tokens['analyst'][-8:].lower()}@example.com"
    add_user(api, email, "analyst")
    base = str(api.client.base_url).rstrip("/")
    with watched_page(chromium) as (page, requests, errors):
        log_in_on_the_page(page, base, email, PASSWORD)

        page.click("header nav >> text=Audiences")
        page.wait_for_url(f"{base}/audiences")
        page.click("text=New audience")
        page.wait_for_url(f"{base}/audiences/new")
        # Typed key by key: the count follows without a click (A, C and D, by hand).
        page.locator("textarea[name=rule]").press_sequentially(REPEATERS)
        counted = f'section.preview[data-preview-rule="{REPEATERS}"] [data-preview-field="customers"]'
        page.wait_for_selector(counted)
        assert page.locator(counted).inner_text() == "3"
        assert page.url == f"{base}/audiences/new"  # counted in place: no page was loaded
        # Then narrowed: A alone has email consent.
        page.locator("textarea[name=rule]").press_sequentially(" and email_consent")
        counted = counted.replace(REPEATERS, f"{REPEATERS} and email_consent")
        page.wait_for_selector(counted)
        assert page.locator(counted).inner_text() == "1"
        assert page.locator("section.preview table.sample a").inner_text() == "A"

        page.fill("input[name=name]", "browser-repeaters")
        page.fill("input[name=description]", "repeat buyers who said yes to email")
        page.click("button.save")
        page.wait_for_url(f"{base}/audiences/browser-repeaters")
        assert page.locator('dd span[data-field="members"]').inner_text() == "1"
        page.click("a.members")
        page.wait_for_url(f"{base}/audiences/browser-repeaters/members")
        assert page.locator("table.members tbody tr").count() == 1
        assert page.locator("table.members tbody td a").inner_text() == "A"
    assert api.get("/audiences/saved/browser-repeaters").json()["members"] == 1
    assert errors == [] and all(url.startswith(base + "/") for url in requests)
