"""Targeted offers in a run (docs/experiments.md, "Offers where they pay"), on a hand-made shop, both engines.

win-back-180 (10 % off the next order) ran before: 120 customers entered it on 2022-03-01, written
straight into the enrolments, 30 in each (arm, kind). Each had two orders before, 300 and 200 days
before entering. Coupon customers used a promo code on both and buy (60.00 net of the discount)
only when treated; regular customers used none and buy either way, 45.00 treated (after the
discount) and 50.00 held out. So the offer pays for the first (gain 0.4 x 66.67 - 6.67 - 0.01 =
+20) and not for the second (0.4 x 0 - 5.00 - 0.01).

As of AS_OF = 2024-06-15 four new customers of each kind, with the same history as of that day
(two orders, 300 and 200 days before), enter win-back-180 (200 days silent), held out none.
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from retainly import Workspace
from retainly.experiments.targeting import training_units

AS_OF = date(2024, 6, 15)
ENTERED = date(2022, 3, 1)
PLAYBOOK = "win-back-180"


def write_shop(folder: Path) -> dict[str, str]:
    """The shop's files; the shop's id -> kind ("coupon" or "regular") of the new customers."""
    folder.mkdir(parents=True, exist_ok=True)
    customers, orders, new = [], [], {}

    def history(name: str, kind: str, day: date) -> None:
        code = "SAVE" if kind == "coupon" else ""
        for days in (300, 200):
            orders.append((name, datetime.combine(day - timedelta(days=days), datetime.min.time()).replace(hour=12),
                           code, "20.00"))

    for kind in ("coupon", "regular"):
        for arm in ("treatment", "holdout"):
            for i in range(30):
                name = f"H{kind[0]}{arm[0]}{i}"
                customers.append(name)
                history(name, kind, ENTERED)
                spend = {("coupon", "treatment"): "60.00", ("regular", "treatment"): "45.00",
                         ("regular", "holdout"): "50.00"}.get((kind, arm))
                if spend:  # within the 30-day window
                    orders.append((name, datetime(2022, 3, 5, 12), "", spend))
        for i in range(4):
            name = f"N{kind[0]}{i}"
            customers.append(name)
            new[name] = kind
            history(name, kind, AS_OF)
    with open(folder / "customers.csv", "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["customer_id", "name", "email", "email_consent"])
        out.writerows([name, f"{name} Shopper", f"{name.lower()}@example.com", "yes"] for name in customers)
    with open(folder / "orders.csv", "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["order_id", "customer_id", "placed_at", "promo_code", "sku", "quantity", "unit_price"])
        out.writerows([f"O{n}", name, f"{moment:%Y-%m-%d %H:%M:%S}", code, "P1", 1, price]
                      for n, (name, moment, code, price) in enumerate(orders, start=1))
    return new


def open_shop(store_url: str, folder: Path, settings: str) -> tuple[Workspace, dict[str, str], dict[str, int]]:
    (folder / "retainly.toml").write_text(settings, encoding="utf-8")
    ws = Workspace.open(store_url, settings=folder / "retainly.toml")
    new = write_shop(folder / "shop")
    for kind in ("customers", "orders"):
        assert ws.data.import_file(kind, folder / "shop" / f"{kind}.csv").rows_rejected == 0
    ids = {external: int(number) for external, number in ws.store.fetchall(
        "SELECT external_id, customer_id FROM customers")}
    for name, number in ids.items():
        if name.startswith("H"):
            ws.store.execute("INSERT INTO enrolments (playbook, customer_id, occurrence, enrolled_on, arm, "
                             "holdout_share, goal_days, run_id, created_at) VALUES (?, ?, 'o', ?, ?, 0.5, 30, 0, ?)",
                             (PLAYBOOK, number, ENTERED, "treatment" if name[2] == "t" else "holdout",
                              datetime(2022, 3, 1)))
    ws.playbooks.enable([PLAYBOOK])
    ws.playbooks.edit(PLAYBOOK, holdout_share=0.0)
    return ws, new, ids


@pytest.fixture(autouse=True)
def outbox_folder(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("RETAINLY_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("RETAINLY_SETTINGS", raising=False)
    return tmp_path / "outbox"


def decisions(ws: Workspace) -> dict[int, dict]:
    rows = ws.store.fetch_arrow("SELECT * FROM offer_decisions").to_pylist()
    return {row["customer_id"]: row for row in rows}


def payloads(ws: Workspace) -> dict[int, dict]:
    return {int(c): json.loads(p) for c, p in ws.store.fetchall(
        "SELECT customer_id, payload FROM outbox WHERE playbook = ?", (PLAYBOOK,))}


def test_a_run_decides_each_offer_and_stores_why(store_url, tmp_path):
    ws, new, ids = open_shop(store_url, tmp_path, '[experiments]\ntarget_offers = ["win-back-180"]\nmin_per_arm = 20\n')
    try:
        dry = ws.playbooks.run(as_of=AS_OF, dry_run=True)
        assert dry.playbooks[0].to_deliver == 8 and decisions(ws) == {}  # a dry run decides nothing
        ws.playbooks.run(as_of=AS_OF)
        decided, sent = decisions(ws), payloads(ws)
        assert set(decided) == set(sent) == {ids[name] for name in new}
        occurrences = dict(ws.store.fetchall("SELECT customer_id, occurrence FROM enrolments WHERE enrolled_on = ?",
                                             (AS_OF,)))
        for name, kind in new.items():
            row, payload = decided[ids[name]], sent[ids[name]]
            assert (row["playbook"], row["occurrence"], row["step"], row["decided_on"]) == (
                PLAYBOOK, occurrences[ids[name]], 1, AS_OF)
            assert row["model"] == ("two-model uplift learner (gradient boosting) on 60 treated and 60 held-out "
                                    "enrolments ended by 2024-06-15")
            assert row["offered"] == (kind == "coupon"), (name, row)
            assert row["expected_cost"] == pytest.approx(0.1 * row["expected_with"] / 0.9 + 0.01)
            if kind == "coupon":
                assert row["expected_gain"] > 10 and row["expected_with"] > 50 and row["expected_without"] < 5
                assert (payload["offer"], payload["offer_withheld"]) == ("10 % off the next order", None)
            else:
                assert row["expected_gain"] < -4 and abs(row["expected_with"] / 0.9 - row["expected_without"]) < 3
                assert payload["offer"] is None
                assert payload["offer_withheld"] == f"not expected to pay (expected gain {row['expected_gain']:.2f})"
        ws.playbooks.run(as_of=AS_OF)  # the steps are planned: nothing is decided again
        assert decisions(ws) == decided
        # Once their window ends, the new enrolments train the next model; a treated one that went
        # without the offer does not stand for "with the offer".
        later = training_units(ws.store, PLAYBOOK, 30, AS_OF + timedelta(days=30))["customer_id"].to_pylist()
        assert len(later) == 124 and {ids[name] for name, kind in new.items() if kind == "coupon"} <= set(later)
        (summary,) = ws.experiments.offers(PLAYBOOK, as_of=AS_OF)
        gains = [row["expected_gain"] for row in decided.values()]
        assert (summary.targeted, summary.offer_rate, summary.decisions, summary.offered, summary.withheld,
                summary.by_model) == (True, 0.1, 8, 4, 4, 8)
        assert summary.expected_gain == pytest.approx(sum(g for g in gains if g > 0), abs=0.01)
        assert summary.expected_gain_everyone == pytest.approx(sum(gains), abs=0.01)
        assert summary.saving == pytest.approx(-sum(g for g in gains if g < 0), abs=0.02) and summary.saving > 16
        assert summary.model == decided[ids["Nc0"]]["model"] and summary.last_decided_on == AS_OF
    finally:
        ws.close()


def test_with_too_little_data_the_default_offers_and_says_so(store_url, tmp_path):
    ws, new, ids = open_shop(store_url, tmp_path, '[experiments]\ntarget_offers = "all"\n')
    try:
        ws.playbooks.run(as_of=AS_OF)
        decided, sent = decisions(ws), payloads(ws)
        assert set(decided) == {ids[name] for name in new}
        for row in decided.values():
            assert row["model"] == ("default: 60 treated and 60 held-out enrolments have ended; targeting needs "
                                    "200 in each")
            assert row["offered"] and row["expected_gain"] is None and row["expected_with"] is None
            assert sent[row["customer_id"]]["offer"] == "10 % off the next order"
        offers = {found.playbook: found for found in ws.experiments.offers(as_of=AS_OF)}
        assert offers[PLAYBOOK].decisions == offers[PLAYBOOK].offered == 8 and offers[PLAYBOOK].saving is None
        assert offers["birthday"].targeted and offers["birthday"].decisions == 0  # "all": every playbook's offer
        assert "win-back-60" not in offers  # no offer
    finally:
        ws.close()
