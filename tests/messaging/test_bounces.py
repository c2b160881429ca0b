"""Bounce and complaint reports read from a bounce mailbox's export (retainly.messaging.bounces).

The reports are written here in the shapes the standards give: RFC 3464 delivery status
notifications (as Postfix sends them: the failed recipient's block, and the original's headers
as text/rfc822-headers) and RFC 5965 complaint reports (ARF, the original as message/rfc822).
What each should do is the module's rule: 5.1.x and 5.2.1 suppress at once, complaints at once,
anything else failed is soft and suppresses at the limit, "delayed" is no bounce.
"""

from __future__ import annotations

import json
import mailbox
from datetime import datetime

import pytest

from retainly import Workspace
from retainly.cli.app import main
from retainly.errors import InputError
from retainly.playbooks import outbox
from retainly.playbooks.outbox import OutboxEntry
from tests.mailbox import Mailbox, smtp_settings
from tests.playbooks.test_run import AS_OF, enable, load_shop, outbox_rows, settings_file, write_shop

KEY_HEADER = "X-Retainly-Key"


def dsn(recipient: str, status: str, key: str | None, report_id: str, action: str = "failed",
        diagnostic: str = "550 5.1.1 User unknown") -> bytes:
    original = (f"From: Shop <news@shop.example>\r\nTo: {recipient}\r\nSubject: We miss you\r\n"
                + (f"{KEY_HEADER}: {key}\r\n" if key else ""))
    return (f"From: MAILER-DAEMON@mx.example (Mail Delivery System)\r\nTo: news@shop.example\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <{report_id}@mx.example>\r\n"
            "Date: Tue, 01 Dec 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n\r\n'
            "--B1\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not "
            "be delivered.\r\n\r\n"
            "--B1\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.example\r\nArrival-Date: Tue, 01 Dec 2026 09:59:58 +0100\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
            f"Action: {action}\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {diagnostic}\r\n\r\n"
            f"--B1\r\nContent-Type: text/rfc822-headers\r\n\r\n{original}\r\n--B1--\r\n").encode()


def complaint(recipient: str, key: str | None, report_id: str) -> bytes:
    return ("From: fbl@provider.example\r\nTo: news@shop.example\r\nSubject: Abuse report\r\n"
            f"Message-ID: <{report_id}@provider.example>\r\nDate: Tue, 01 Dec 2026 11:00:00 +0000\r\n"
            'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary="F1"\r\n\r\n'
            "--F1\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n\r\n"
            "--F1\r\nContent-Type: message/feedback-report\r\n\r\n"
            f"Feedback-Type: abuse\r\nUser-Agent: ProviderFBL/1.0\r\nVersion: 1\r\nOriginal-Rcpt-To: <{recipient}>\r\n"
            "\r\n--F1\r\nContent-Type: message/rfc822\r\n\r\n"
            f"From: Shop <news@shop.example>\r\nTo: {recipient}\r\nSubject: Offer\r\n"
            + (f"{KEY_HEADER}: {key}\r\n" if key else "") + "\r\nHello.\r\n--F1--\r\n").encode()


AUTO_REPLY = (b"From: t4@example.com\r\nTo: news@shop.example\r\nSubject: Out of office\r\n\r\n"
              b"I am away until Monday.\r\n")


@pytest.fixture
def shop(store_url, tmp_path):
    """The run loop's hand-made shop (every customer <name>@example.com), and one email outbox row
    for T3 and one for W60, so that reports can name them by key."""
    ws = Workspace.open(store_url, settings=settings_file(tmp_path))
    names = load_shop(ws, write_shop(tmp_path / "shop"))
    entries = [OutboxEntry("win-back-60", 0, names[name], "2024-06-15", "email", 50, datetime(2024, 6, 15, 9),
                           {"email": f"{name.lower()}@example.com"}) for name in ("T3", "W60")]
    outbox.write(ws.store, entries, run_id=1)
    yield ws, names, {name: entry.key for name, entry in zip(("T3", "W60"), entries)}
    ws.close()


def suppressed(ws: Workspace, names: dict[str, int]) -> dict[str, tuple[str, str]]:
    back = {number: name for name, number in names.items()}
    return {back[int(c)]: (reason, source) for c, reason, source in ws.store.fetchall(
        "SELECT customer_id, reason, source FROM suppressions WHERE channel = 'email'")}


def test_a_hard_bounce_suppresses_at_once_and_reading_again_changes_nothing(shop, tmp_path):
    ws, names, keys = shop
    path = tmp_path / "bounce.eml"
    path.write_bytes(dsn("T3@Example.com", "5.1.1", keys["T3"], "r1"))
    read = ws.email.read_bounces(path)
    assert (read.emails, read.reports, read.bounces, read.suppressed, read.not_matched) == (1, 1, 1, 1, 0)
    assert suppressed(ws, names) == {"T3": ("bounced", "5.1.1 550 5.1.1 User unknown")}
    assert ws.store.fetchall("SELECT message_key, kind, occurred_at FROM message_events") == [
        (keys["T3"], "bounce", datetime(2026, 12, 1, 9, 0))]  # the report's Date, in UTC
    again = ws.email.read_bounces(path)
    assert (again.reports, again.already_read, again.bounces, again.suppressed) == (1, 1, 0, 0)
    assert ws.store.fetchall("SELECT COUNT(*) FROM message_events") == [(1,)]


def test_without_the_key_the_failed_address_finds_the_customer(shop, tmp_path):
    ws, names, _ = shop
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "1.eml").write_bytes(dsn("n1@example.com", "5.2.1", None, "r2",
                                                    diagnostic="550 5.2.1 mailbox disabled"))
    (tmp_path / "folder" / "2.eml").write_bytes(dsn("nobody@example.com", "5.1.1", None, "r3"))
    (tmp_path / "folder" / "3.eml").write_bytes(AUTO_REPLY)
    read = ws.email.read_bounces(tmp_path / "folder")
    assert (read.emails, read.other_emails, read.reports, read.bounces, read.not_matched) == (3, 1, 2, 1, 1)
    assert set(suppressed(ws, names)) == {"N1"}


def test_soft_bounces_suppress_at_the_limit_and_a_delay_is_no_bounce(shop, tmp_path):
    ws, names, keys = shop
    box = mailbox.mbox(tmp_path / "bounces.mbox")
    reports = [dsn("w60@example.com", "4.2.2", keys["W60"], "s1", diagnostic="452 4.2.2 mailbox full"),
               dsn("w60@example.com", "5.7.1", keys["W60"], "s2", diagnostic="550 5.7.1 blocked by policy"),
               dsn("w60@example.com", "4.4.1", keys["W60"], "s3", action="delayed", diagnostic="no answer yet")]
    for raw in reports:
        box.add(raw)
    box.close()
    read = ws.email.read_bounces(tmp_path / "bounces.mbox")
    assert (read.emails, read.reports, read.soft_bounces, read.suppressed) == (3, 2, 2, 0)
    assert suppressed(ws, names) == {}
    third = tmp_path / "third.eml"
    third.write_bytes(dsn("w60@example.com", "4.2.2", keys["W60"], "s4", diagnostic="452 4.2.2 mailbox full"))
    read = ws.email.read_bounces(third)  # the third soft bounce reaches the limit (3)
    assert (read.soft_bounces, read.suppressed) == (1, 1)
    assert suppressed(ws, names) == {"W60": ("bounced", "3 soft bounces, the last 4.2.2")}


def test_a_complaint_suppresses_at_once_and_the_first_reason_stands(shop, tmp_path):
    ws, names, keys = shop
    path = tmp_path / "fbl.eml"
    path.write_bytes(complaint("t3@example.com", keys["T3"], "c1"))
    read = ws.email.read_bounces(path)
    assert (read.complaints, read.suppressed) == (1, 1)
    assert suppressed(ws, names)["T3"] == ("complained", "abuse complaint (abuse) from ProviderFBL/1.0")
    path.write_bytes(dsn("t3@example.com", "5.1.1", keys["T3"], "r9"))  # a later bounce keeps "complained"
    assert ws.email.read_bounces(path).bounces == 1
    assert suppressed(ws, names)["T3"][0] == "complained"


def test_a_missing_export_is_named(shop, tmp_path):
    ws, _, _ = shop
    with pytest.raises(InputError, match="nothing.mbox: no such file or folder"):
        ws.email.read_bounces(tmp_path / "nothing.mbox")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="a folder without .eml files"):
        ws.email.read_bounces(tmp_path / "empty")


def command(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_the_command_prints_what_it_did(shop, tmp_path, store_url, capsys):
    ws, names, keys = shop
    ws.close()  # a DuckDB file admits one writer: the command opens it next
    path = tmp_path / "bounce.eml"
    path.write_bytes(dsn("t3@example.com", "5.1.1", keys["T3"], "r1"))
    code, out, err = command(capsys, "--db", store_url, "email", "bounces", str(path), "--json")
    assert code == 0, err
    printed = json.loads(out)
    assert printed["bounces"] == 1 and printed["suppressed"] == 1, (out, err)
    code, out, err = command(capsys, "--db", store_url, "email", "bounces", str(tmp_path / "missing.mbox"))
    assert code != 0 and "missing.mbox: no such file or folder" in err and "Traceback" not in err
    with Workspace.open(store_url) as again:
        assert suppressed(again, names) == {"T3": ("bounced", "5.1.1 550 5.1.1 User unknown")}


def test_an_address_the_mail_server_refuses_while_sending_is_a_hard_bounce_at_once(store_url, tmp_path, monkeypatch):
    monkeypatch.setenv("RETAINLY_OUTBOX_DIR", str(tmp_path / "outbox"))
    with Mailbox(refused_recipients=("t3@example.com",)) as box:
        settings = settings_file(tmp_path, smtp_settings(box.port))
        ws = Workspace.open(store_url, settings=settings)
        try:
            names = load_shop(ws, write_shop(tmp_path / "shop"))
            enable(ws, ["first-order-thanks"])
            ws.playbooks.run(as_of=AS_OF)
            rows = outbox_rows(ws, names, "first-order-thanks")
            assert rows[("first-order-thanks", "T3")]["status"] == "failed"
            assert suppressed(ws, names) == {"T3": ("bounced", "5.1.1 RCPT TO: 550 5.1.1 no such user here")}
            assert ws.store.fetchall("SELECT message_key, kind FROM message_events") == [
                (rows[("first-order-thanks", "T3")]["key"], "bounce")]
        finally:
            ws.close()
        assert sorted(to for item in box.received for to in item["to"]) == ["q@example.com", "t3s@example.com"]
