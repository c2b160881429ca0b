"""The web app's preview of a step's email (``/playbooks/{name}/preview``): figure by figure its JSON
twin's (``GET /api/v1/playbooks/{name}/preview``), the HTML part in a sandboxed frame with a policy
of its own, and nothing sent or written.

The shop is the run loop's hand-made one (tests/playbooks/test_run.py): first-order-thanks's
email to Q ("Q Shopper") says "Thank you for your first order, Q!" (tests/messaging/test_email_templates.py).
"""

from __future__ import annotations

import json
import re
from html import unescape

import httpx
import pytest

from retainly import Workspace
from retainly.web.app import create_app
from tests.playbooks.test_run import load_shop, settings_file, write_shop
from tests.web.conftest import analyst_session, serving
from tests.web.test_pages_browser import at
from tests.web.test_pages_overview_charts import sections_of


@pytest.fixture(autouse=True)
def _no_outbox_in_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RETAINLY_OUTBOX_DIR", str(tmp_path / "outbox"))


def test_the_preview_page_is_its_twin_and_frames_the_html_apart(store_url, tmp_path):
    settings = settings_file(tmp_path, '[channels.email]\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\n'
                                       'from = "news@shop.example"\npublic_url = "https://shop.example"\n'
                                       'shop_name = "Coffee & Tea"\n')
    with Workspace.open(store_url, settings=settings) as ws:
        load_shop(ws, write_shop(tmp_path / "shop"))
    app = create_app(store_url, settings)
    with serving(app) as base, httpx.Client(base_url=base) as client:
        with analyst_session(app, client) as (browser, token):
            page = browser.get("/playbooks/first-order-thanks/preview", params={"customer": "Q", "step": 1})
            assert page.status_code == 200, page.text
            [frame] = re.findall(r'<iframe class="email-preview" src="([^"]+)" sandbox ', page.text)
            framed = browser.get(unescape(frame))
            missing = browser.get("/playbooks/first-order-thanks/preview", params={"customer": "nobody"})
        ((twin, section),) = sections_of(page.text).items()
        answer = client.get(twin, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        marks = {field: json.loads(value) for field, value in section["marks"]}
        assert marks == {field: at(answer.json(), field) for field in marks}
        assert {"to", "channel", "subject", "text", "step", "customer", "as_of"} <= set(marks)
        assert (marks["to"], marks["channel"], marks["subject"]) == ("q@example.com", "email", "How was your order?")
        assert "Thank you for your first order, Q!" in marks["text"]

        assert framed.status_code == 200 and framed.text == answer.json()["html"]
        assert "Thank you for your first order, Q!" in framed.text and "Coffee &amp; Tea" in framed.text
        policy = framed.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy and "frame-ancestors 'self'" in policy
        assert missing.status_code == 404 and "no customer with id" in missing.text
        with app.state.shop.use() as ws:
            assert ws.store.fetchall("SELECT COUNT(*) FROM outbox") == [(0,)]
