"""The feedback question end to end: a playbook step with ``feedback`` sends email with a 0-10
scale to a real SMTP server (tests/mailbox.py), the customer opens a score's link on a real
`retainly serve` (uvicorn) and sends it with a comment; the answer is the customer's contact, their
``last_feedback_score``, and (0-6, an NPS detractor) a negative contact for the warning signs.

The shop is the run loop's hand-made one (tests/playbooks/test_run.py): as of AS_OF,
first-order-thanks emails T3, T3s and Q.
"""

from __future__ import annotations

import json
import re
from datetime import date

import httpx
import pytest

from retainly import Workspace
from retainly.segments.warning_signs import _bad_contacts
from retainly.web.app import create_app
from tests.mailbox import Mailbox
from tests.playbooks.test_run import AS_OF, enable, load_shop, settings_file, write_shop
from tests.web.conftest import analyst_session, serving
from tests.web.test_pages_browser import at
from tests.web.test_pages_overview_charts import sections_of

PUBLIC_URL = "https://shop.example"


@pytest.fixture(autouse=True)
def _no_outbox_in_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RETAINLY_OUTBOX_DIR", str(tmp_path / "outbox"))


def feedback_rows(ws: Workspace, customer_id: int) -> list[tuple]:
    return ws.store.fetchall("SELECT kind, direction, outcome, note, by_whom FROM interactions WHERE customer_id = ?",
                             (customer_id,))


def test_a_score_sent_through_its_link_is_the_customers_feedback(store_url, tmp_path):
    with Mailbox() as box:
        settings = settings_file(tmp_path, f'[channels.email]\nhost = "127.0.0.1"\nport = {box.port}\n'
                                           'security = "none"\nfrom = "news@shop.example"\n'
                                           f'public_url = "{PUBLIC_URL}"\nshop_name = "Coffee & Tea"\n')
        ws = Workspace.open(store_url, settings=settings)
        try:
            names = load_shop(ws, write_shop(tmp_path / "shop"))
            ws.playbooks.edit("first-order-thanks", steps=[{
                "after_days": 0, "action": "message", "channels": ["email"], "subject": "How was your order?",
                "text": "Thank you for your order, {{ first_name }}!", "feedback": True}])
            enable(ws, ["first-order-thanks"])
            ws.playbooks.run(as_of=AS_OF)
        finally:
            ws.close()
    [q] = [item["message"] for item in box.received if item["to"] == ["q@example.com"]]
    html, text = q.get_body(("html",)).get_content(), q.get_body(("plain",)).get_content()
    links = re.findall(r'href="https://shop\.example(/f/[^"/]+)/(\d+)"', html)
    assert [int(score) for _, score in links] == list(range(11)) and len({path for path, _ in links}) == 1
    path = links[0][0]
    assert f"How likely are you to recommend Coffee & Tea to a friend? Answer 0-10: {PUBLIC_URL}{path}" in text

    app = create_app(store_url, settings)
    with serving(app) as base, httpx.Client(base_url=base, follow_redirects=False) as client:
        shop = app.state.shop
        page = client.get(f"{path}/9")  # what a click on "9" opens: the question, 9 chosen, nothing kept yet
        assert page.status_code == 200 and 'value="9" checked' in page.text
        assert client.get(f"{path}/11").status_code == 200  # a score out of range: asked without one
        forged = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
        assert client.get(f"{forged}/9").status_code == 404
        assert client.post(forged, data={"score": "9"}).status_code == 404
        with shop.use() as server_ws:
            assert feedback_rows(server_ws, names["Q"]) == []

        answer = client.post(path, data={"score": "3", "comment": "The parcel came  a week late."})
        assert answer.status_code == 200 and 'data-score="3"' in answer.text
        refused = client.post(path, data={"score": "11", "comment": "x"})
        assert refused.status_code == 422 and "choose a whole number from 0 to 10" in refused.text
        with shop.use() as server_ws:
            assert feedback_rows(server_ws, names["Q"]) == [
                ("feedback", "inbound", "3", "The parcel came a week late.", "email link")]
            today = date.today()
            preview = server_ws.audiences.preview("last_feedback_score <= 6", as_of=today)
            assert (preview.customers, [s.customer for s in preview.sample]) == (1, ["Q"])
            bad = _bad_contacts(server_ws.store, today, 90)
            assert bad.set_index("customer_id")["bad_contacts"].to_dict() == {names["Q"]: 1.0}
            view = server_ws.customers.view("Q")
            assert [(row["kind"], row["outcome"]) for row in view.interactions] == [("feedback", "3")]

        assert 'value="3" checked' in client.get(path).text  # the link shows the answer given
        assert client.post(path, data={"score": "8"}).status_code == 200  # changed their mind: replaced
        with shop.use() as server_ws:
            assert feedback_rows(server_ws, names["Q"]) == [("feedback", "inbound", "8", None, "email link")]
            assert _bad_contacts(server_ws.store, date.today(), 90).empty  # 8 is no detractor
            assert server_ws.store.fetchall("SELECT kind, detail FROM message_events") == [("feedback", "3")]

        # The Feedback page: every figure is its JSON twin's (GET /api/v1/nps?by=...).
        with analyst_session(app, client) as (browser, token):
            page = browser.get("/nps")
        assert page.status_code == 200 and "NPS" in page.text
        sections = sections_of(page.text)
        assert [twin.split("?")[1].split("&")[0] for twin in sections] == [
            "by=all", "by=segment", "by=stage", "by=buyer_type", "by=channel", "by=month"]
        checked = 0
        for twin, section in sections.items():
            answer = client.get(twin, headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text
            for field, value in section["marks"]:
                assert json.loads(value) == at(answer.json(), field), (twin, field)
                checked += 1
        overall = client.get(list(sections)[0], headers={"Authorization": f"Bearer {token}"}).json()
        assert [(r["answers"], r["promoters"], r["nps"]) for r in overall["rows"]] == [(1, 0, 0.0)]  # Q's 8: passive
        assert checked >= 2 + 5 * 6
