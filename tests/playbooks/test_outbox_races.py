"""Exactly once against a real HTTP server: two delivering processes at once, and a process
killed with SIGKILL mid-way and then run again.

The receiver is a ThreadingHTTPServer in the test process that records the Idempotency-Key of
every request it gets; the senders are separate Python processes running the webhook channel
(retries=0, so each request the server counts is one delivery by the outbox). The expected
counts need no model: 300 keys, each received exactly once (race) or at most once (kill).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from retainly import Workspace
from retainly.messaging.webhook import WebhookChannel
from retainly.playbooks import delivery, outbox
from retainly.playbooks.outbox import OutboxEntry
from tests.receiver import Receiver

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
T0 = datetime(2024, 3, 1, 9, 0, 0)
ROWS = 300
SECRET = "test-secret"

# The sender: opens the store, says so, waits for the go file, then delivers everything due.
SENDER = """
import json, sys, time
from datetime import datetime
from pathlib import Path
from retainly import Workspace
from retainly.errors import StoreBusyError
from retainly.messaging.webhook import WebhookChannel
from retainly.playbooks import delivery, outbox

url, endpoint, claimer, batch, now, go = sys.argv[1:7]
try:
    ws = Workspace.open(url)
except StoreBusyError as error:
    print("busy:", error, flush=True)
    sys.exit(3)
print("opened", flush=True)
while not Path(go).exists():
    time.sleep(0.01)
channel = WebhookChannel(endpoint, "%s", retries=0, timeout=30)
counts = delivery.deliver_due(ws.store, {"webhook": channel}, datetime.fromisoformat(now), claimer, batch=int(batch))
print(json.dumps(counts), flush=True)
""" % SECRET


def fill(url: str) -> list[str]:
    entries = [OutboxEntry("winback", 1, customer, "2024-03-01", "webhook", customer % 3, T0, {"n": customer})
               for customer in range(1, ROWS + 1)]
    ws = Workspace.open(url)
    try:
        assert outbox.write(ws.store, entries, run_id=1) == ROWS
    finally:
        ws.close()  # a DuckDB file admits one writing process: the senders open it next
    return [e.key for e in entries]


def start_sender(url: str, receiver: Receiver, claimer: str, batch: int, go: Path) -> subprocess.Popen:
    python = PYTHON if PYTHON.exists() else Path(sys.executable)
    process = subprocess.Popen(
        [str(python), "-c", SENDER, url, receiver.url, claimer, str(batch), T0.isoformat(), str(go)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    return process


def wait_opened(process: subprocess.Popen) -> str:
    line = process.stdout.readline().strip()
    if not line:
        raise AssertionError(f"the sender stopped before opening the store: {process.stderr.read()}")
    return line


def statuses(url: str) -> dict[str, str]:
    ws = Workspace.open(url)
    try:
        return dict(ws.store.fetchall("SELECT key, status FROM outbox"))
    finally:
        ws.close()


def test_two_processes_at_once_on_postgres_deliver_each_key_once(postgres_url, tmp_path):
    keys = fill(postgres_url)
    go = tmp_path / "go"
    with Receiver(delay=0.002) as receiver:
        senders = [start_sender(postgres_url, receiver, name, 20, go) for name in ("run-a", "run-b")]
        assert [wait_opened(p) for p in senders] == ["opened", "opened"]
        go.touch()  # both start claiming at the same moment
        results = [p.communicate(timeout=180) for p in senders]
        assert [p.returncode for p in senders] == [0, 0], [err for _, err in results]
        received = receiver.received()
    counts = [json.loads(out.strip().splitlines()[-1]) for out, _ in results]
    assert Counter(received) == Counter(keys)  # every key exactly once, nothing else
    assert sum(c["sent"] for c in counts) == ROWS
    assert set(statuses(postgres_url).values()) == {"sent"}


def test_a_second_process_on_duckdb_is_refused_and_the_first_delivers_all(tmp_path):
    url = f"duckdb:///{tmp_path}/store.duckdb"
    keys = fill(url)
    go = tmp_path / "go"
    with Receiver() as receiver:
        first = start_sender(url, receiver, "run-a", 50, go)
        assert wait_opened(first) == "opened"
        second = start_sender(url, receiver, "run-b", 50, go)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 3 and out.startswith("busy: the store is busy"), err
        go.touch()
        out, err = first.communicate(timeout=180)
        assert first.returncode == 0, err
        received = receiver.received()
    assert json.loads(out.strip().splitlines()[-1])["sent"] == ROWS
    assert Counter(received) == Counter(keys)
    assert set(statuses(url).values()) == {"sent"}


def test_a_run_killed_mid_way_then_run_again_delivers_each_key_at_most_once(store_url, tmp_path):
    keys = fill(store_url)
    go = tmp_path / "go"
    with Receiver(delay=0.02) as receiver:
        sender = start_sender(store_url, receiver, "killed", 25, go)
        assert wait_opened(sender) == "opened"
        go.touch()
        deadline = time.monotonic() + 120
        while len(receiver.received()) < 60 and time.monotonic() < deadline and sender.poll() is None:
            time.sleep(0.005)
        assert sender.poll() is None, "the sender finished before it could be killed"
        os.kill(sender.pid, signal.SIGKILL)
        sender.wait(timeout=30)
        time.sleep(0.1)  # let the server log a request that was in flight at the kill
        before_kill = receiver.received()

        ws = Workspace.open(store_url)
        try:
            left_sending = {k for (k,) in ws.store.fetchall("SELECT key FROM outbox WHERE status = 'sending'")}
            # The kill lands while a claimed batch is being delivered (each row takes 20 ms; the
            # gap between one batch's last finish and the next claim is a few microseconds).
            assert left_sending
            assert outbox.recover(ws.store, T0 + timedelta(seconds=1), lease_seconds=0) == len(left_sending)
            with WebhookChannel(receiver.url, SECRET, retries=0, timeout=30) as channel:
                delivery.deliver_due(ws.store, {"webhook": channel}, T0 + timedelta(seconds=2), "rerun", batch=25)
        finally:
            ws.close()
        received = receiver.received()

    final = statuses(store_url)
    counted = Counter(received)
    assert max(counted.values()) == 1  # no key was ever received twice
    assert {k for k, s in final.items() if s == "unknown"} == left_sending
    assert not left_sending & set(received[len(before_kill):])  # unknown rows are not resent
    sent = {k for k, s in final.items() if s == "sent"}
    assert sent | left_sending == set(keys) and not sent & left_sending
    assert all(counted[k] == 1 for k in sent)  # every other key sent exactly once
    assert set(counted) - set(keys) == set()
