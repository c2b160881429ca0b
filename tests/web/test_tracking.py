"""Opens and clicks end to end: `retainly run` sends an HTML step to a real SMTP server
(tests/mailbox.py); a real `retainly serve` (uvicorn) answers the message's click links and open
pixel. Expected URLs are written out by hand from the step below (UTM: retainly.messaging.tracking).

The shop is the run loop's hand-made one (tests/playbooks/test_run.py): as of AS_OF,
first-order-thanks emails T3, T3s and Q.
"""

from __future__ import annotations

import re
from html import unescape

import httpx
import pytest

from retainly import Workspace
from retainly.web.app import create_app
from tests.mailbox import Mailbox, smtp_settings
from tests.playbooks.test_run import AS_OF, enable, load_shop, settings_file, write_shop
from tests.web.conftest import serving

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
HTML = ('<p><a href="https://www.shop.example/new?colour=green">New in</a>, '
        '<a href="https://elsewhere.example/review">a review</a>, <a href="mailto:help@shop.example">help</a>, '
        '<a href="#top">top</a>.</p>')


@pytest.fixture(autouse=True)
def _no_outbox_in_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RETAINLY_OUTBOX_DIR", str(tmp_path / "outbox"))


def events(ws: Workspace) -> list[tuple]:
    return sorted(ws.store.fetchall("SELECT kind, detail FROM message_events"))


def test_clicks_redirect_only_to_signed_destinations_and_opens_and_clicks_are_counted(store_url, tmp_path):
    with Mailbox() as box:
        settings = settings_file(tmp_path, smtp_settings(box.port, "https://retainly.shop.example"))
        ws = Workspace.open(store_url, settings=settings)
        try:
            load_shop(ws, write_shop(tmp_path / "shop"))
            ws.playbooks.edit("first-order-thanks", steps=[{
                "after_days": 0, "action": "message", "channels": ["email"], "subject": "Hello", "html": HTML}])
            enable(ws, ["first-order-thanks"])
            ws.playbooks.run(as_of=AS_OF)
        finally:
            ws.close()
    [q] = [item["message"] for item in box.received if item["to"] == ["q@example.com"]]
    html = q.get_body(("html",)).get_content()
    hrefs = [unescape(h) for h in re.findall(r'<a\b[^>]*href="([^"]+)"', html)]
    clicks = [h for h in hrefs if h.startswith("https://retainly.shop.example/c/")]
    assert len(clicks) == 2  # the shop's and the other site's; not mailto, the anchor, nor unsubscribe
    assert "mailto:help@shop.example" in hrefs and "#top" in hrefs
    assert "shop.example/new" not in html and "elsewhere.example" not in html  # destinations only inside tokens
    [pixel] = re.findall(r'<img src="(https://retainly\.shop\.example/o/[^"]+)"', html)

    app = create_app(store_url, settings)
    with serving(app) as base, httpx.Client(base_url=base, follow_redirects=False) as client:
        shop = app.state.shop
        local = [link.removeprefix("https://retainly.shop.example") for link in clicks]
        first = client.get(local[0], headers={"User-Agent": BROWSER})
        assert first.status_code == 302
        assert first.headers["location"] == ("https://www.shop.example/new?colour=green&utm_source=retainly"
                                             "&utm_medium=email&utm_campaign=first-order-thanks&utm_content=step-1")
        with shop.use() as server_ws:
            assert events(server_ws) == []  # seconds after delivery: a security scanner's, not kept
            server_ws.store.execute("UPDATE outbox SET finished_at = finished_at - INTERVAL '1 hour'")
        assert client.get(local[0], headers={"User-Agent": BROWSER}).status_code == 302
        assert client.get(local[0], headers={"User-Agent": BROWSER}).status_code == 302  # a repeat: kept once
        other = client.get(local[1], headers={"User-Agent": BROWSER})
        assert other.headers["location"] == "https://elsewhere.example/review"  # no UTM off the shop
        scanner = client.get(local[1], headers={"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"})
        assert scanner.status_code == 302  # redirected, not counted
        version, body, mac = local[0].removeprefix("/c/").split(".")
        _, other_body, _ = local[1].removeprefix("/c/").split(".")
        assert client.get(f"/c/{version}.{other_body}.{mac}").status_code == 404  # another destination: refused
        assert client.get(f"/c/{version}.{body}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}").status_code == 404

        path = pixel.removeprefix("https://retainly.shop.example")
        for _ in range(2):
            answer = client.get(path)
            assert answer.status_code == 200 and answer.headers["content-type"] == "image/gif"
            assert "no-store" in answer.headers["cache-control"] and answer.content.startswith(b"GIF89a")
        with shop.use() as server_ws:
            assert events(server_ws) == [
                ("click", "https://elsewhere.example/review"),
                ("click", "https://www.shop.example/new?colour=green&utm_source=retainly&utm_medium=email"
                          "&utm_campaign=first-order-thanks&utm_content=step-1"),
                ("open", "")]
            [result] = server_ws.playbooks.results("first-order-thanks")
            assert (result.delivered, result.opened, result.clicked) == (3, 1, 1)
