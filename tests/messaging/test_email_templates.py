"""A step written in HTML, and the shop's own layout, end to end: `retainly run` to a real SMTP
server on localhost (tests/mailbox.py), on the run loop's hand-made shop (tests/playbooks/test_run.py:
first-order-thanks reaches T3, T3s and Q by email as of AS_OF). Expected texts are written out by
hand from the templates below.
"""

from __future__ import annotations

import pytest

from retainly import Workspace
from retainly.errors import InputError
from retainly.playbooks.definition import from_json
from tests.mailbox import Mailbox
from tests.playbooks.test_run import AS_OF, enable, load_shop, settings_file, write_shop

HTML_STEP = ('<h1 class="big">Thank you, {{ first_name }}!</h1>\n'
             '<p>See <a href="https://shop.example/new">what is new</a>.</p>')
LAYOUT = """<html><head><style>.big { color: #123456; } .foot { font-size: 11px; }</style></head>
<body><div style="border-top: 4px solid {{ colour }}">{{ content }}</div>
{% if offer %}<p>{{ offer }}</p>{% endif %}
<p class="foot">{{ shop }} · {{ postal_address }} · <a href="{{ unsubscribe }}">Unsubscribe</a></p></body></html>"""


def settings(tmp_path, port: int, layout: str | None = LAYOUT) -> str:
    text = (f'[channels.email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nfrom = "news@shop.example"\n'
            'public_url = "https://shop.example"\nshop_name = "Coffee & Tea"\npostal_address = "1 Main Street"\n'
            'colour = "#AA0000"\n')
    if layout is not None:
        (tmp_path / "layout.html").write_text(layout, encoding="utf-8")
        text += f'layout_file = "{tmp_path / "layout.html"}"\n'
    return text


def test_an_html_step_goes_out_in_the_shops_layout_with_css_inlined_and_its_text_made_from_it(
        store_url, tmp_path, monkeypatch):
    monkeypatch.setenv("RETAINLY_OUTBOX_DIR", str(tmp_path / "outbox"))
    with Mailbox() as box:
        ws = Workspace.open(store_url, settings=settings_file(tmp_path, settings(tmp_path, box.port)))
        try:
            names = load_shop(ws, write_shop(tmp_path / "shop"))
            ws.store.execute("UPDATE customers SET name = ? WHERE customer_id = ?", ("<Ann> Shopper", names["Q"]))
            ws.playbooks.edit("first-order-thanks", steps=[{
                "after_days": 0, "action": "message", "channels": ["email"], "subject": "Thanks, {{ first_name }}",
                "html": HTML_STEP}])
            enable(ws, ["first-order-thanks"])
            ws.playbooks.run(as_of=AS_OF)
        finally:
            ws.close()
    [q] = [item["message"] for item in box.received if item["to"] == ["q@example.com"]]
    assert q["Subject"] == "Thanks, <Ann>"
    html = q.get_body(("html",)).get_content()
    # The customer's value escaped in the HTML; the layout's <style> moved into style attributes.
    assert '<h1 class="big" style="color: #123456;">Thank you, &lt;Ann&gt;!</h1>' in html
    assert "<style>" not in html and 'style="font-size: 11px;"' in html
    assert 'style="border-top: 4px solid #AA0000"' in html
    assert "Coffee &amp; Tea · 1 Main Street" in html and 'href="https://shop.example/u/' in html
    text = q.get_body(("plain",)).get_content()
    assert "# Thank you, <Ann>!" in text  # html2text writes a heading as Markdown does
    assert "See [what is new](https://shop.example/new)." in text
    assert "Unsubscribe: https://shop.example/u/" in text


def test_a_template_naming_an_unknown_value_is_refused_with_the_line_and_the_name():
    step = {"after_days": 0, "action": "message", "channels": ["email"], "subject": "Hi",
            "html": "<p>Hello</p>\n<p>{{ first_name }}, your coupon is {{ coupon }}</p>"}
    with pytest.raises(InputError, match=r"step 1: html: line 2: unknown value `coupon`; a message may name "):
        from_json({"name": "p", "trigger": {"kind": "first_order"}, "steps": [step]})
    step = {"after_days": 0, "action": "message", "text": "Hello {{ first_name }"}
    with pytest.raises(InputError, match=r"step 1: text: line 1: unexpected '}'"):
        from_json({"name": "p", "trigger": {"kind": "first_order"}, "steps": [step]})


@pytest.mark.parametrize(("layout", "message"), [
    ("<p>{{ content }}</p>", "the layout must show the unsubscribe link"),
    ("<p>{{ content }} {{ unsubscribe }} {{ discount }}</p>", "unknown value `discount`"),
    ("<p>{{ content }} {{ unsubscribe }</p>", "line 1: unexpected '}'"),
])
def test_a_broken_layout_stops_the_run_before_anything_is_sent(tmp_path, layout, message):
    with Mailbox() as box:
        ws = Workspace.open(f"duckdb:///{tmp_path}/store.duckdb",
                            settings=settings_file(tmp_path, settings(tmp_path, box.port, layout)))
        try:
            load_shop(ws, write_shop(tmp_path / "shop"))
            enable(ws, ["first-order-thanks"])
            with pytest.raises(InputError, match=message):
                ws.playbooks.run(as_of=AS_OF)
            assert ws.store.fetchall("SELECT COUNT(*) FROM outbox") == [(0,)]
        finally:
            ws.close()
    assert box.received == []


def test_a_preview_shows_what_a_run_would_send_and_a_test_goes_only_to_the_given_address(
        store_url, tmp_path, monkeypatch):
    monkeypatch.setenv("RETAINLY_OUTBOX_DIR", str(tmp_path / "outbox"))
    with Mailbox() as box:
        ws = Workspace.open(store_url, settings=settings_file(tmp_path, settings(tmp_path, box.port, layout=None)))
        try:
            load_shop(ws, write_shop(tmp_path / "shop"))
            shown = ws.email.preview("first-order-thanks", "Q", as_of=AS_OF)
            assert (shown.to, shown.channel, shown.refused, shown.subject) == (
                "q@example.com", "email", None, "How was your order?")
            assert "Thank you for your first order, Q! How did it go?" in shown.text
            assert "Thank you for your first order, Q! How did it go?" in shown.html
            assert "Unsubscribe: https://shop.example/u/preview" in shown.text  # inert: unsubscribes nobody
            nobody = ws.email.preview("first-order-thanks", "T3n", as_of=AS_OF)
            assert (nobody.channel, nobody.refused) == (None, "no email consent")
            with pytest.raises(InputError, match="has 1 step"):
                ws.email.preview("first-order-thanks", "Q", step=2)

            sent = ws.email.send_test("first-order-thanks", "Q", "me@shop.example", as_of=AS_OF)
            assert (sent.to, sent.status) == ("me@shop.example", "sent")
            assert ws.store.fetchall("SELECT COUNT(*) FROM outbox") == [(0,)]
        finally:
            ws.close()
    [test] = box.received
    assert test["to"] == ["me@shop.example"] and test["message"]["Subject"] == "[test] How was your order?"
    assert "/u/preview" in str(test["message"]["List-Unsubscribe"])


def test_a_test_send_needs_smtp_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("RETAINLY_OUTBOX_DIR", str(tmp_path / "outbox"))
    ws = Workspace.open(f"duckdb:///{tmp_path}/store.duckdb", settings=settings_file(tmp_path))
    try:
        load_shop(ws, write_shop(tmp_path / "shop"))
        with pytest.raises(InputError, match=r"add a \[channels.email\] section with a host"):
            ws.email.send_test("first-order-thanks", "Q", "me@shop.example", as_of=AS_OF)
        assert ws.email.preview("first-order-thanks", "Q", as_of=AS_OF).subject == "How was your order?"
    finally:
        ws.close()
