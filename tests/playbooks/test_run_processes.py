"""`retainly run` as cron runs it, in separate processes: two at once, and one killed with
SIGKILL mid-delivery and started again (issue 13, "Exactly once").

The shop is test_run's hand-made shop plus EXTRA customers whose first order was 3 days before
AS_OF, so first-order-thanks (no holdout) has a few hundred emails to send. Email goes to a real
local webhook server (retries = 0, so each request it counts is one delivery attempt by the
outbox); it records the key of every request. Expected counts need no model: every key is
received exactly once (two runs at once) or at most once (a kill).
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from retainly import Workspace
from tests.conftest import fresh_store_url
from tests.playbooks.test_run import (
    AS_OF,
    HAND_CHECKED,
    enable,
    file_keys,
    load_shop,
    write_shop,
)
from tests.receiver import Receiver

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
EXTRA = 150
SECRET = "process secret"


def prepare(url: str, folder: Path, receiver: Receiver, lease_seconds: int = 900) -> dict:
    """The shop in the store at ``url``, the playbooks enabled, the settings file written; the
    environment for `retainly` processes."""
    shop = write_shop(folder / "shop")
    with open(shop / "extra_customers.csv", "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["customer_id", "name", "email", "email_consent"])
        out.writerows([f"E{n}", f"E{n} Shopper", f"e{n}@example.com", "yes"] for n in range(EXTRA))
    with open(shop / "extra_orders.csv", "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["order_id", "customer_id", "placed_at", "sku", "quantity", "unit_price"])
        out.writerows([f"EO{n}", f"E{n}", "2024-06-12 12:00:00", "P1", 1, "10.00"] for n in range(EXTRA))
    settings = folder / "retainly.toml"
    settings.write_text(f'[actions]\nlease_seconds = {lease_seconds}\n\n[channels.email]\nkind = "webhook"\n'
                        f'url = "{receiver.url}"\nsecret = "{SECRET}"\nretries = 0\ntimeout = 30.0\n',
                        encoding="utf-8")
    with Workspace.open(url, settings=settings) as ws:
        load_shop(ws, shop)
        for kind in ("customers", "orders"):
            assert ws.data.import_file(kind, shop / f"extra_{kind}.csv").rows_rejected == 0
        enable(ws, HAND_CHECKED)
    return {**os.environ, "RETAINLY_SETTINGS": str(settings), "RETAINLY_OUTBOX_DIR": str(folder / "outbox"),
            "PYTHONPATH": str(ROOT / "src")}


def start_run(url: str, env: dict, folder: Path) -> subprocess.Popen:
    return subprocess.Popen([str(PYTHON), "-m", "retainly", "--db", url, "run", "--as-of", AS_OF.isoformat()],
                            cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def handed(url: str, folder) -> Counter:
    """Keys handed on: lines in the channels' files (sms, the webhook-less channels) and the tasks
    the task channel made in the store (docs/tasks.md), each counted as often as it was."""
    with Workspace.open(url) as ws:
        tasks = Counter(key for (key,) in ws.store.fetchall("SELECT source_key FROM tasks"))
    return file_keys(folder) + tasks


def outbox_state(url: str) -> dict[str, tuple[str, str]]:
    """Key -> (channel, status) of every outbox row; a row a frequency cap deferred (Q's birthday
    greeting, test_run's module doc) has the status ``capped``."""
    with Workspace.open(url) as ws:
        return {key: (channel, "capped" if status == "queued" and (reason or "").startswith("capped") else status)
                for key, channel, status, reason in ws.store.fetchall("SELECT key, channel, status, reason FROM outbox")}


@pytest.fixture(params=["duckdb", "postgres"])
def engine(request):
    return request.param


def test_two_runs_at_once_on_postgresql_deliver_each_key_once(tmp_path):
    with fresh_store_url("postgres", tmp_path) as url, Receiver(delay=0.002) as receiver:
        env = prepare(url, tmp_path, receiver)
        runs = [start_run(url, env, tmp_path) for _ in range(2)]
        results = [run.communicate(timeout=300) for run in runs]
        assert [run.returncode for run in runs] == [0, 0], [err for _, err in results]
        rows = outbox_state(url)
        emails = {key for key, (channel, status) in rows.items() if channel == "email" and status == "sent"}
        assert len(emails) >= EXTRA
        assert Counter(receiver.received()) == Counter(dict.fromkeys(emails, 1))
        lines = handed(url, tmp_path / "outbox")  # sms to files, tasks to the store
        assert set(lines.values()) == {1}
        assert set(lines) == {key for key, (channel, status) in rows.items() if channel != "email" and status == "sent"}
        with Workspace.open(url) as ws:
            assert ws.store.fetchone("SELECT COUNT(*) FROM runs WHERE status = 'finished'")[0] == 2


def test_a_second_run_on_a_busy_duckdb_store_fails_cleanly(tmp_path):
    # Each answer waits 0.15 s, so the first run delivers (and holds the store) for well over 20 s: far
    # longer than the second process takes to start, even on a machine busy with other tests.
    with fresh_store_url("duckdb", tmp_path) as url, Receiver(delay=0.15) as receiver:
        env = prepare(url, tmp_path, receiver)
        first = start_run(url, env, tmp_path)
        deadline = time.monotonic() + 120
        while not receiver.received() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # the first run is delivering: it holds the store
        assert first.poll() is None, first.communicate()
        second = start_run(url, env, tmp_path)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 1 and out == ""
        assert err == "error: the store is busy with another retainly command; try again\n"
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, err
        assert Counter(receiver.received()) == Counter({key: 1 for key, (channel, status) in outbox_state(url).items()
                                                  if channel == "email" and status == "sent"})


def test_a_run_killed_mid_delivery_then_run_again_delivers_each_key_at_most_once(engine, tmp_path):
    """Killed after about 20 deliveries; the rerun (after the 1 s lease) marks the killed run's
    claimed email rows unknown, settles its file rows from the files, and sends the rest. Nothing
    is received twice, every email row ends sent or unknown, and only the killed run's last
    claims are unknown."""
    with fresh_store_url(engine, tmp_path) as url, Receiver(delay=0.05) as receiver:
        env = prepare(url, tmp_path, receiver, lease_seconds=1)
        killed = start_run(url, env, tmp_path)
        deadline = time.monotonic() + 120
        while len(receiver.received()) < 20 and killed.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert killed.poll() is None, killed.communicate()
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        time.sleep(1.5)  # past the lease
        rerun = start_run(url, env, tmp_path)
        out, err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, err
        rows = outbox_state(url)
        emails = {key: status for key, (channel, status) in rows.items() if channel == "email"
                  and status not in ("suppressed", "capped")}
        received = Counter(receiver.received())
        assert set(received.values()) == {1}
        assert set(emails.values()) <= {"sent", "unknown"}
        assert {key for key, status in emails.items() if status == "sent"} <= set(received)
        unknown = [key for key, status in emails.items() if status == "unknown"]
        assert len(unknown) <= 20  # at most the killed run's last batch of claims (batches of 20)
        assert len(received) >= len(emails) - len(unknown)
        # The file and task channels' rows: each key written (or made a task) once, and exactly the
        # rows recorded sent are there. A row the kill left claimed was settled from its file or the
        # tasks (sent if there, else delivered by the rerun), so none is unknown.
        files = {key: status for key, (channel, status) in rows.items() if channel != "email"}
        lines = handed(url, tmp_path / "outbox")
        assert set(lines.values()) <= {1}
        assert {key for key, status in files.items() if status == "sent"} == set(lines)
        assert "unknown" not in files.values()
