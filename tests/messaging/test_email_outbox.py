"""The email channel under the outbox's delivery loop, against a real SMTP server on localhost
(tests/mailbox.py): a connection dropped mid-batch, then a rerun; two sending processes at once.

The expected counts need no model: every row reaches the server exactly once (race), or at most
once with the dropped one left ``unknown`` and never sent again (drop).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from retainly import Workspace
from retainly.messaging.email_message import Sender
from retainly.messaging.links import LinkSigner
from retainly.messaging.smtp_channel import SmtpChannel
from retainly.playbooks import delivery, outbox
from retainly.playbooks.outbox import OutboxEntry
from tests.mailbox import Mailbox

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
T0 = datetime(2024, 3, 1, 9, 0, 0)
SENDER = Sender("Shop <news@shop.example>", "https://shop.example", shop_name="Shop")


def fill(ws: Workspace, rows: int) -> list[str]:
    entries = [OutboxEntry("winback", 1, customer, "2024-03-01", "email", 50, T0,
                           {"email": f"c{customer}@example.com", "name": f"Customer {customer}", "subject": "Hello",
                            "text": "Come back.", "marketing": True}) for customer in range(1, rows + 1)]
    assert outbox.write(ws.store, entries, run_id=1) == rows
    return [entry.key for entry in entries]


def statuses(ws: Workspace) -> Counter:
    return Counter(dict(ws.store.fetchall("SELECT status, COUNT(*) FROM outbox GROUP BY status")))


def test_a_connection_dropped_mid_batch_leaves_the_row_unknown_and_a_rerun_sends_no_duplicate(store_url):
    ws = Workspace.open(store_url)
    try:
        keys = fill(ws, 30)
        with Mailbox(lambda nth, envelope: "drop" if nth == 7 else "250") as box:
            channel = SmtpChannel("127.0.0.1", SENDER, LinkSigner.of(ws.store), port=box.port, security="none",
                                  backoff=0.01)
            with channel:
                first = delivery.deliver_due(ws.store, {"email": channel}, T0, "run-1", batch=10)
                second = delivery.deliver_due(ws.store, {"email": channel}, T0 + timedelta(minutes=5), "run-2",
                                              batch=10)
            received = box.keys()
        dropped = received[6]  # the seventh message: kept by the server, its answer never came
        assert first == {"sent": 29, "failed": 0, "queued": 0, "unknown": 1, "suppressed": 0, "skipped": 0}
        assert second["sent"] == 0 and statuses(ws) == Counter({"sent": 29, "unknown": 1})
        assert Counter(received) == Counter(keys)  # each once: the dropped one was not sent again
        [(status, reason)] = ws.store.fetchall("SELECT status, reason FROM outbox WHERE key = ?", (dropped,))
        assert status == "unknown" and "after the message was sent" in reason
    finally:
        ws.close()


SEND_PROCESS = """
import json, sys, time
from datetime import datetime
from pathlib import Path
from retainly import Workspace
from retainly.messaging.email_message import Sender
from retainly.messaging.links import LinkSigner
from retainly.messaging.smtp_channel import SmtpChannel
from retainly.playbooks import delivery

url, port, claimer, now, go = sys.argv[1:6]
ws = Workspace.open(url)
print("opened", flush=True)
while not Path(go).exists():
    time.sleep(0.01)
sender = Sender("Shop <news@shop.example>", "https://shop.example", shop_name="Shop")
with SmtpChannel("127.0.0.1", sender, LinkSigner.of(ws.store), port=int(port), security="none", retries=0) as channel:
    counts = delivery.deliver_due(ws.store, {"email": channel}, datetime.fromisoformat(now), claimer, batch=10)
print(json.dumps(counts), flush=True)
"""


@pytest.mark.slow
def test_two_sending_processes_at_once_deliver_each_row_once(postgres_url, tmp_path):
    ws = Workspace.open(postgres_url)
    try:
        keys = fill(ws, 200)
        LinkSigner.of(ws.store)  # made before the racers start: each then signs with the same secret
    finally:
        ws.close()
    go = tmp_path / "go"
    python = PYTHON if PYTHON.exists() else Path(sys.executable)
    with Mailbox() as box:
        senders = [subprocess.Popen([str(python), "-c", SEND_PROCESS, postgres_url, str(box.port), name,
                                     T0.isoformat(), str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, cwd=ROOT) for name in ("run-a", "run-b")]
        assert [p.stdout.readline().strip() for p in senders] == ["opened", "opened"]
        go.touch()
        results = [p.communicate(timeout=180) for p in senders]
        assert [p.returncode for p in senders] == [0, 0], [err for _, err in results]
        received = box.keys()
    counts = [json.loads(out.strip().splitlines()[-1]) for out, _ in results]
    assert Counter(received) == Counter(keys)
    assert sum(c["sent"] for c in counts) == 200


def test_a_second_workspace_signs_with_the_secret_the_first_made(postgres_url):
    first, second = Workspace.open(postgres_url), Workspace.open(postgres_url)
    try:
        a, b = LinkSigner.of(first.store), LinkSigner.of(second.store)
        token = a.sign("u", 7, "p/0/7/x")
        assert b.check(token, "u") == ("u", 7, "p/0/7/x", "")
        assert first.store.fetchall("SELECT COUNT(*) FROM link_secrets") == [(1,)]
    finally:
        first.close()
        second.close()
