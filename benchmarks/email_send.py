"""Time the email channel: outbox rows delivered over SMTP to a local server, with and without DKIM.

    PYTHONPATH=src python benchmarks/email_send.py [--rows 5000] [--batch 50]

A fresh DuckDB store gets ``--rows`` queued email rows (one customer each, the payload a built-in
step writes); the delivery loop then hands them to the SMTP channel, which sends them over one
connection to an aiosmtpd server in this process (the test suite's tests/mailbox.py; install the
test extra), first unsigned, then DKIM-signed with the test key of tests/data. Each pass prints
rows a second and the seconds per message of composing alone (headers, layout, CSS inlining,
tracking links, signature), so the share the network and the store take shows. Results go in
benchmarks/RESULTS.md. The reference: a mail relay takes a few hundred messages a second from
one connection; retainly's at-most-once claim and record cost a share of that.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retainly import Workspace  # noqa: E402
from retainly.messaging.channels import Delivery  # noqa: E402
from retainly.messaging.email_message import DkimKey, Sender, compose  # noqa: E402
from retainly.messaging.links import LinkSigner  # noqa: E402
from retainly.messaging.smtp_channel import SmtpChannel  # noqa: E402
from retainly.playbooks import delivery, outbox  # noqa: E402
from retainly.playbooks.outbox import OutboxEntry  # noqa: E402
from tests.mailbox import Mailbox  # noqa: E402

T0 = datetime(2025, 12, 31, 10, 0)
PAYLOAD = {"playbook": "win-back-60", "title": "Win back after 60 days of silence", "step": 1, "action": "message",
           "name": "Ann Shopper", "subject": "It has been a while",
           "text": "We miss you, Ann. Here is what is new since your last order: https://shop.example/new",
           "offer": "10 % off the next order", "marketing": True}


def one_pass(rows: int, batch: int, signed: bool) -> None:
    key = DkimKey("shop.example", "sel1", (ROOT / "tests" / "data" / "dkim_test_key.pem").read_bytes())
    with tempfile.TemporaryDirectory() as folder, Mailbox() as box:
        ws = Workspace.open(f"duckdb:///{folder}/store.duckdb")
        try:
            entries = [OutboxEntry("win-back-60", 1, number, "2025-12-31", "email", 50, T0,
                                   {**PAYLOAD, "email": f"c{number}@example.com"}) for number in range(1, rows + 1)]
            outbox.write(ws.store, entries, run_id=1)
            links = LinkSigner.of(ws.store)
            sender = Sender("Coffee & Tea <news@shop.example>", "https://retainly.shop.example",
                            shop_name="Coffee & Tea", postal_address="1 Main Street, Berlin",
                            dkim=key if signed else None)
            sample = [Delivery(e.key, e.playbook, e.step, e.customer_id, e.channel, e.payload, 0)
                      for e in entries[:200]]
            started = time.perf_counter()
            for item in sample:
                compose(item, sender, links, datetime.now(UTC))
            per_message = (time.perf_counter() - started) / len(sample)
            channel = SmtpChannel("127.0.0.1", sender, links, port=box.port, security="none")
            channel.batch_size = batch
            started = time.perf_counter()
            with channel:
                counts = delivery.deliver_due(ws.store, {"email": channel}, T0, "bench")
            seconds = time.perf_counter() - started
        finally:
            ws.close()
        received = len(box.received)
    label = "DKIM-signed" if signed else "unsigned"
    print(f"  {label:12} {counts['sent']:,} sent ({received:,} received) in {seconds:.1f} s = "
          f"{counts['sent'] / seconds:,.0f} messages/s; composing alone {per_message * 1000:.2f} ms a message",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=50, help="rows claimed at a time (the channel's batch_size)")
    args = parser.parse_args()
    print(f"email over SMTP to a local aiosmtpd: {args.rows:,} rows, batches of {args.batch}")
    for signed in (False, True):
        one_pass(args.rows, args.batch, signed)


if __name__ == "__main__":
    main()
