"""Promo codes (retainly.messaging.promo_codes) through a real run to a real SMTP server on
localhost (tests/mailbox.py), on the run loop's hand-made shop (tests/playbooks/test_run.py):
as of AS_OF, first-order-thanks emails T3, T3s and Q (T3n has no consent, T3p no email).

The pool holds two codes, CODE-A and CODE-B, for three customers: in the order a run plans them
(by retainly's customer id), the first gets CODE-A, the second CODE-B, and the third is skipped
for want of a code.
"""

from __future__ import annotations

import csv
import re
from collections import Counter

import pytest

from retainly import Workspace
from retainly.errors import InputError
from retainly.playbooks.definition import from_json
from tests.mailbox import Mailbox, smtp_settings
from tests.playbooks.test_run import AS_OF, NOON, enable, load_shop, outbox_rows, settings_file, write_shop

STEP = {"after_days": 0, "action": "message", "channels": ["email"], "subject": "A gift",
        "text": "Your code: {{ promo_code }}", "promo_pool": "thanks10"}


@pytest.fixture(autouse=True)
def _no_outbox_in_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RETAINLY_OUTBOX_DIR", str(tmp_path / "outbox"))


def test_each_customer_gets_one_code_and_the_order_with_it_is_matched_to_the_message(store_url, tmp_path):
    (tmp_path / "codes.csv").write_text("code\nCODE-B\nCODE-A\nCODE-A\n", encoding="utf-8")
    with Mailbox() as box:
        settings = settings_file(tmp_path, smtp_settings(box.port))
        ws = Workspace.open(store_url, settings=settings)
        try:
            names = load_shop(ws, write_shop(tmp_path / "shop"))
            pool = ws.email.add_codes("thanks10", tmp_path / "codes.csv")
            assert (pool.codes, pool.given, pool.free) == (2, 0, 2)
            ws.playbooks.edit("first-order-thanks", steps=[STEP])
            enable(ws, ["first-order-thanks"])
            dry = ws.playbooks.run(as_of=AS_OF, dry_run=True)
            assert dry.playbooks[0].skipped_by_reason == {"no promo code left in pool thanks10": 1}
            assert ws.email.code_pools()[0].given == 0  # a dry run gives nothing out
            ws.playbooks.run(as_of=AS_OF)
            rows = outbox_rows(ws, names, "first-order-thanks")
            first, second, third = sorted(("T3", "T3s", "Q"), key=names.get)  # the order a run plans them
            assert [rows[("first-order-thanks", n)]["status"] for n in (first, second, third)] == [
                "sent", "sent", "skipped"]
            assert rows[("first-order-thanks", third)]["reason"] == "no promo code left in pool thanks10"
            given = dict(ws.store.fetchall("SELECT code, message_key FROM promo_codes"))
            assert given == {"CODE-A": rows[("first-order-thanks", first)]["key"],
                             "CODE-B": rows[("first-order-thanks", second)]["key"]}
            ws.playbooks.run(as_of=AS_OF)  # again: nothing new, no code given twice
            assert ws.email.code_pools()[0].given == 2

            # The first orders with its code (typed in lower case) an hour later: matched to its message.
            with open(tmp_path / "orders.csv", "w", newline="", encoding="utf-8") as f:
                out = csv.writer(f)
                out.writerow(["order_id", "customer_id", "placed_at", "sku", "quantity", "unit_price", "promo_code"])
                out.writerow(["P1", first, f"{AS_OF.isoformat()} {NOON + 1}:00:00", "P1", 2, "10.00", "code-a "])
            assert ws.data.import_file("orders", tmp_path / "orders.csv").rows_rejected == 0
            [result] = ws.playbooks.results("first-order-thanks")
            assert (result.code_orders, result.code_revenue) == (1, 20.0)
        finally:
            ws.close()
    texts = Counter(re.search(r"Your code: (\S+)", item["message"].get_body(("plain",)).get_content()).group(1)
                    for item in box.received)
    assert texts == Counter({"CODE-A": 1, "CODE-B": 1})


def test_codes_are_checked_and_generated_ones_are_written_for_the_shop(tmp_path):
    ws = Workspace.open(f"duckdb:///{tmp_path}/store.duckdb", settings=settings_file(tmp_path))
    try:
        (tmp_path / "bad.txt").write_text("GOOD-1\nnot a code\n", encoding="utf-8")
        with pytest.raises(InputError, match=r"bad.txt: code 2 'not a code' is not a promo code"):
            ws.email.add_codes("pool1", tmp_path / "bad.txt")
        assert ws.email.code_pools() == []  # all or none
        found = ws.email.add_codes("pool1", generate=50, prefix="WB-", out=tmp_path / "new.txt")
        written = (tmp_path / "new.txt").read_text(encoding="utf-8").split()
        assert (found.codes, len(set(written))) == (50, 50)
        assert all(re.fullmatch(r"WB-[A-HJ-NP-Z2-9]{8}", code) for code in written)
        with pytest.raises(InputError, match="not both nor neither"):
            ws.email.add_codes("pool1")
    finally:
        ws.close()


def test_a_step_naming_promo_code_needs_a_pool():
    step = {**STEP}
    del step["promo_pool"]
    with pytest.raises(InputError, match="names `promo_code`; give the step a promo_pool"):
        from_json({"name": "p", "trigger": {"kind": "first_order"}, "steps": [step]})
