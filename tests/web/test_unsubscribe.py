"""One-click unsubscribe end to end: `retainly run` sends email to a real SMTP server on
localhost (tests/mailbox.py), the customer's mail client POSTs the message's List-Unsubscribe
URL to a real `retainly serve` (uvicorn), and the next run sends that customer nothing.

The shop is the run loop's hand-made one (tests/playbooks/test_run.py): as of AS_OF,
first-order-thanks emails T3, T3s and Q (T3n has no email consent, T3p is reached by SMS);
birthday then reaches B18 and Q, abandoned-cart C1, C4 and Q. The settings' public URL is the
shop's https address; the test posts the same path to the local server, as a reverse proxy would.
"""

from __future__ import annotations

import re
from collections import Counter

import httpx
import pytest

from retainly import Workspace
from retainly.web.app import create_app
from tests.mailbox import Mailbox
from tests.playbooks.test_run import AS_OF, enable, load_shop, outbox_rows, settings_file, write_shop
from tests.web.conftest import serving

PUBLIC_URL = "https://shop.example/retainly"


@pytest.fixture(autouse=True)
def _no_outbox_in_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RETAINLY_OUTBOX_DIR", str(tmp_path / "outbox"))  # T3p's SMS goes to a file


def link_of(box: Mailbox, address: str) -> str:
    """The path of the List-Unsubscribe https URL in the one message sent to ``address``."""
    [message] = [item["message"] for item in box.received if item["to"] == [address]]
    url = re.match(r"<([^>]+)>", str(message["List-Unsubscribe"])).group(1)
    assert url.startswith(PUBLIC_URL + "/u/")
    return url[len(PUBLIC_URL):]


def suppressions(ws: Workspace, names: dict[str, int]) -> dict[str, tuple]:
    back = {number: name for name, number in names.items()}
    return {back[int(c)]: (channel, reason, source) for c, channel, reason, source in
            ws.store.fetchall("SELECT customer_id, channel, reason, source FROM suppressions")}


def test_one_click_unsubscribes_at_once_and_the_next_run_sends_nothing_to_that_customer(store_url, tmp_path):
    with Mailbox() as box:
        settings = settings_file(tmp_path, f'[channels.email]\nkind = "smtp"\nhost = "127.0.0.1"\nport = {box.port}\n'
                                           f'security = "none"\nfrom = "Shop <news@shop.example>"\n'
                                           f'public_url = "{PUBLIC_URL}"\nshop_name = "Coffee & Tea"\n'
                                           'postal_address = "1 Main Street, Berlin"\n')
        ws = Workspace.open(store_url, settings=settings)
        try:
            names = load_shop(ws, write_shop(tmp_path / "shop"))
            enable(ws, ["first-order-thanks"])
            report = ws.playbooks.run(as_of=AS_OF)
        finally:
            ws.close()
        assert report.delivered["sent"] == 4  # three emails and T3p's SMS line
        assert Counter(to for item in box.received for to in item["to"]) == Counter(
            {"t3@example.com": 1, "t3s@example.com": 1, "q@example.com": 1})

        app = create_app(store_url, settings)
        with serving(app) as base, httpx.Client(base_url=base, follow_redirects=False) as client:
            shop = app.state.shop
            q_link, t3_link = link_of(box, "q@example.com"), link_of(box, "t3@example.com")

            page = client.get(q_link)  # what a link scanner or a preview does: shows, changes nothing
            assert page.status_code == 200 and 'method="post"' in page.text and "Coffee &amp; Tea" in page.text
            forged = q_link[:-3] + ("AAA" if not q_link.endswith("AAA") else "BBB")
            assert client.get(forged).status_code == 404
            assert client.post(forged, data={"List-Unsubscribe": "One-Click"}).status_code == 404
            with shop.use() as server_ws:
                assert suppressions(server_ws, names) == {}

            # RFC 8058: the mail client's POST, urlencoded, no cookies: 200 at once, never a redirect.
            answer = client.post(q_link, data={"List-Unsubscribe": "One-Click"})
            assert answer.status_code == 200 and 'data-state="unsubscribed"' in answer.text
            # ... or multipart, as some clients send it; and a repeat changes nothing.
            answer = client.post(t3_link, files={"List-Unsubscribe": (None, "One-Click")})
            assert answer.status_code == 200
            assert client.post(q_link, data={"List-Unsubscribe": "One-Click"}).status_code == 200
            assert 'data-state="unsubscribed"' in client.get(q_link).text
            # A body that does not parse still unsubscribes (the token is what counts), as the page's button.
            broken = client.post(link_of(box, "t3s@example.com"), content=b"--x\r\nnot a part",
                                 headers={"Content-Type": "multipart/form-data; boundary=x"})
            assert broken.status_code == 200
            with shop.use() as server_ws:
                found = suppressions(server_ws, names)
                q_key = outbox_rows(server_ws, names, "first-order-thanks")[("first-order-thanks", "Q")]["key"]
                assert found == {"Q": ("email", "unsubscribed", f"one-click link of {q_key}"),
                                 "T3": ("email", "unsubscribed", found["T3"][2]),
                                 "T3s": ("email", "unsubscribed", found["T3s"][2])}
                assert found["T3s"][2].startswith("page link of first-order-thanks/")
                assert found["T3"][2].startswith("one-click link of first-order-thanks/")

                # The next run, through the same server's workspace: Q enters two more playbooks
                # and gets no email; B18, who did not unsubscribe, gets the birthday message.
                enable(server_ws, ["birthday", "abandoned-cart"])
                server_ws.playbooks.run(as_of=AS_OF)
                rows = outbox_rows(server_ws, names)
        assert rows[("birthday", "Q")]["status"] == "suppressed"
        assert rows[("birthday", "Q")]["reason"] == "suppressed (unsubscribed)"
        assert rows[("abandoned-cart", "Q")]["status"] == "suppressed"
        assert rows[("birthday", "B18")]["status"] == "sent"
        received = Counter(to for item in box.received for to in item["to"])
    assert received["q@example.com"] == 1 and received["t3@example.com"] == 1
    assert received["b18@example.com"] == 1
