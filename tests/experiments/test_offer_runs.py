"""Targeted offers in a run (docs/experiments.md, "Offers where they pay"), on a hand-made shop, both engines.

win-back-180 (10 % off the next order) ran an offer test before: 120 treated customers entered it on
2022-03-01, written straight into the enrolments with their offer-test decisions (``TEST_OFFERED``
or ``TEST_NOT_OFFERED``), 30 in each (group, kind); 60 held-out customers beside them (30 of each
kind, no decision) are no units of it. Each had two orders before, 300 and 200 days before
entering. Coupon customers used a promo code on both and buy (60.00 net of the discount) only when
offered; regular customers used none and buy either way, 45.00 offered (after the discount) and
50.00 not (held out: coupon nothing, regular 50.00). By hand, margin 0.4 and no contact cost (the
message goes either way): coupon G1 = 60 / 0.9 = 66.67, G0 = 0, gain = 0.4 x 66.67 - 0.1 x 66.67 =
+20.00; regular G1 = 45 / 0.9 = 50 = G0, gain = 0.4 x 0 - 0.1 x 50 = -5.00.

As of AS_OF = 2024-06-15 four new customers of each kind, with the same history as of that day
(two orders, 300 and 200 days before), enter win-back-180 (200 days silent), held out none.
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from retainly import Workspace
from retainly.experiments.targeting import HIT_AND_RUN, TEST_NOT_OFFERED, TEST_OFFERED, training_units
from retainly.experiments.targeting import test_groups as offer_test_groups

AS_OF = date(2024, 6, 15)
ENTERED = date(2022, 3, 1)
PLAYBOOK = "win-back-180"
LEARNER = ("uplift learner (gradient boosting) on the offer test's 60 offered and 60 not offered, "
           "ended by 2024-06-15")
SPEND = {("coupon", "o"): "60.00", ("regular", "o"): "45.00", ("regular", "n"): "50.00", ("regular", "h"): "50.00"}


def write_shop(folder: Path, new_per_kind: int = 4) -> dict[str, str]:
    """The shop's files; the shop's id -> kind ("coupon" or "regular") of the new customers. The past
    customers' ids are H + kind + group (o offered, n not offered, h held out) + number."""
    folder.mkdir(parents=True, exist_ok=True)
    customers, orders, new = [], [], {}

    def history(name: str, kind: str, day: date) -> None:
        code = "SAVE" if kind == "coupon" else ""
        for days in (300, 200):
            orders.append((name, datetime.combine(day - timedelta(days=days), datetime.min.time()).replace(hour=12),
                           code, "20.00"))

    for kind in ("coupon", "regular"):
        for group in ("o", "n", "h"):
            for i in range(30):
                name = f"H{kind[0]}{group}{i}"
                customers.append(name)
                history(name, kind, ENTERED)
                if (kind, group) in SPEND:  # within the 30-day window
                    orders.append((name, datetime(2022, 3, 5, 12), "", SPEND[kind, group]))
        for i in range(new_per_kind):
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


def enrol(ws: Workspace, customer_id: int, occurrence: str, day: date, arm: str, model: str | None = None,
          offered: bool = False) -> None:
    """An enrolment of win-back-180 written by hand, with its decision at step 1 when ``model`` is given."""
    ws.store.execute("INSERT INTO enrolments (playbook, customer_id, occurrence, enrolled_on, arm, holdout_share, "
                     "goal_days, run_id, created_at) VALUES (?, ?, ?, ?, ?, 0.5, 30, 0, ?)",
                     (PLAYBOOK, customer_id, occurrence, day, arm, datetime.combine(day, datetime.min.time())))
    if model is not None:
        ws.store.execute("INSERT INTO offer_decisions (playbook, customer_id, occurrence, step, decided_on, model, "
                         "offered) VALUES (?, ?, ?, 1, ?, ?, ?)", (PLAYBOOK, customer_id, occurrence, day, model,
                                                                   offered))


def open_shop(store_url: str, folder: Path, settings: str,
              new_per_kind: int = 4) -> tuple[Workspace, dict[str, str], dict[str, int]]:
    (folder / "retainly.toml").write_text(settings, encoding="utf-8")
    ws = Workspace.open(store_url, settings=folder / "retainly.toml")
    new = write_shop(folder / "shop", new_per_kind)
    for kind in ("customers", "orders"):
        assert ws.data.import_file(kind, folder / "shop" / f"{kind}.csv").rows_rejected == 0
    ids = {external: int(number) for external, number in ws.store.fetchall(
        "SELECT external_id, customer_id FROM customers")}
    for name, number in ids.items():
        if name.startswith("H") and name[2] == "h":
            enrol(ws, number, "o", ENTERED, "holdout")
        elif name.startswith("H"):
            offered = name[2] == "o"
            enrol(ws, number, "o", ENTERED, "treatment", TEST_OFFERED if offered else TEST_NOT_OFFERED, offered)
    ws.playbooks.enable([PLAYBOOK])
    ws.playbooks.edit(PLAYBOOK, holdout_share=0.0)
    return ws, new, ids


@pytest.fixture(autouse=True)
def outbox_folder(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("RETAINLY_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("RETAINLY_SETTINGS", raising=False)
    return tmp_path / "outbox"


def decisions(ws: Workspace, since: date = AS_OF) -> dict[int, dict]:
    rows = ws.store.fetch_arrow("SELECT * FROM offer_decisions WHERE decided_on >= ?", (since,)).to_pylist()
    return {row["customer_id"]: row for row in rows}


def payloads(ws: Workspace) -> dict[int, dict]:
    return {int(c): json.loads(p) for c, p in ws.store.fetchall(
        "SELECT customer_id, payload FROM outbox WHERE playbook = ?", (PLAYBOOK,))}


def test_training_units_are_the_offer_test_of_treated_enrolments(store_url, tmp_path):
    ws, new, ids = open_shop(store_url, tmp_path, "")
    try:
        # None of these is a unit: a held-out enrolment with a test decision, a treated one decided by
        # the learner, a treated one without a decision, and a test unit whose window has not ended.
        enrol(ws, ids["Hch0"], "x", ENTERED, "holdout", TEST_OFFERED, True)
        enrol(ws, ids["Hco0"], "learner", date(2022, 6, 1), "treatment", LEARNER, True)
        enrol(ws, ids["Hco1"], "none", date(2022, 6, 1), "treatment")
        enrol(ws, ids["Hcn0"], "late", AS_OF - timedelta(days=10), "treatment", TEST_NOT_OFFERED)
        units = training_units(ws.store, PLAYBOOK, 30, AS_OF).to_pylist()
        assert len(units) == 120
        names = {number: name for name, number in ids.items()}
        for unit in units:
            name = names[unit["customer_id"]]
            kind, group = {"c": "coupon", "r": "regular"}[name[1]], name[2]
            assert (unit["occurrence"], unit["enrolled_on"]) == ("o", ENTERED) and group in ("o", "n")
            assert unit["arm"] == ("treatment" if group == "o" else "holdout")
            assert unit["outcome"] == float(SPEND.get((kind, group), 0))  # 60, 0, 45 or 50 by hand
            # As of 2022-03-01: the order 200 days before is in the year, the one 300 days before too.
            assert (unit["orders"], unit["orders_365"], unit["days_since_last"], unit["promo_share"]) == (
                2.0, 2.0, 200.0, 1.0 if kind == "coupon" else 0.0)
        later = training_units(ws.store, PLAYBOOK, 30, AS_OF + timedelta(days=20))  # the late one has ended
        assert later.num_rows == 121 and ("late", "holdout") in zip(later["occurrence"].to_pylist(),
                                                                    later["arm"].to_pylist())
    finally:
        ws.close()


def test_a_run_decides_each_offer_and_stores_why(store_url, tmp_path):
    # No offer test among the new customers: the learner decides each of them.
    ws, new, ids = open_shop(store_url, tmp_path, '[experiments]\ntarget_offers = ["win-back-180"]\n'
                                                  'min_per_arm = 20\noffer_test_share = 0\n')
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
            assert row["model"] == LEARNER
            assert row["offered"] == (kind == "coupon"), (name, row)
            assert row["expected_cost"] == pytest.approx(0.1 * row["expected_with"] / 0.9)  # d x G1, no contact
            figures = [row[name] for name in ("expected_with", "expected_without", "expected_gain")]
            if kind == "coupon":  # by hand (module doc): μ1 60, μ0 0, gain +20.00
                assert figures == pytest.approx([60.0, 0.0, 20.0], abs=1.0)
                assert (payload["offer"], payload["offer_withheld"]) == ("10 % off the next order", None)
            else:  # μ1 45, μ0 50, gain -5.00
                assert figures == pytest.approx([45.0, 50.0, -5.0], abs=1.0)
                assert payload["offer"] is None
                assert payload["offer_withheld"] == f"not expected to pay (expected gain {row['expected_gain']:.2f})"
        ws.playbooks.run(as_of=AS_OF)  # the steps are planned: nothing is decided again
        assert decisions(ws) == decided
        # Decided by the learner, not at random: none of them trains the next model.
        later = training_units(ws.store, PLAYBOOK, 30, AS_OF + timedelta(days=30))["customer_id"].to_pylist()
        assert len(later) == 120 and not set(later) & set(decided)
        (summary,) = ws.experiments.offers(PLAYBOOK, as_of=AS_OF)
        gains = [row["expected_gain"] for row in decided.values()]
        assert (summary.targeted, summary.offer_rate, summary.decisions, summary.offered, summary.withheld,
                summary.by_model) == (True, 0.1, 128, 64, 64, 8)  # with the past test's 120 (60 offered)
        assert summary.expected_gain == pytest.approx(sum(g for g in gains if g > 0), abs=0.01)
        assert summary.expected_gain_everyone == pytest.approx(sum(gains), abs=0.01)
        assert summary.saving == pytest.approx(-sum(g for g in gains if g < 0), abs=0.02)
        assert summary.saving == pytest.approx(4 * 5.0, abs=2.0)  # four regular customers' 5.00 by hand
        assert summary.model == LEARNER and summary.last_decided_on == AS_OF
    finally:
        ws.close()


def test_the_offer_test_decides_its_customers_whatever_the_model_says(store_url, tmp_path):
    # Everyone in the offer test (share 1: half offered, half not) but two predicted hit-and-run buyers,
    # of 12 new customers of each kind.
    ws, new, ids = open_shop(store_url, tmp_path, '[experiments]\ntarget_offers = ["win-back-180"]\n'
                                                  'min_per_arm = 20\noffer_test_share = 1.0\n', new_per_kind=12)
    try:
        numbers = np.array(sorted(ids[name] for name in new), np.int64)
        group = dict(zip(numbers.tolist(), offer_test_groups(ws.store, PLAYBOOK, numbers, 1.0).tolist()))
        kind = {ids[name]: found for name, found in new.items()}
        # The hash puts coupon and regular customers in both groups: the model would offer to the
        # coupon customers only, the test does not follow it.
        assert {(kind[n], group[n]) for n in numbers.tolist()} == {(k, g) for k in ("coupon", "regular")
                                                                  for g in (1, 2)}
        hit = {next(n for n in numbers.tolist() if (kind[n], group[n]) == (k, 1)) for k in ("coupon", "regular")}
        ws.derived.ensure("insights", AS_OF)  # the buyer types the run reads, then two made hit-and-run
        ws.store.execute(f"UPDATE buyer_types SET buyer_type = 'hit_and_run' WHERE as_of = ? AND customer_id IN "
                         f"({', '.join(map(str, sorted(hit)))})", (AS_OF,))
        ws.playbooks.run(as_of=AS_OF)
        decided, sent = decisions(ws), payloads(ws)
        assert set(decided) == set(sent) == set(group)
        for number, row in decided.items():
            payload, figures = sent[number], [row[name] for name in ("expected_with", "expected_without",
                                                                     "expected_gain", "expected_cost")]
            if number in hit:  # the test's "offered" group, yet never offered; the learner's row
                assert (row["offered"], row["model"], payload["offer_withheld"]) == (False, LEARNER, HIT_AND_RUN)
                assert None not in figures
            elif group[number] == 1:
                assert (row["offered"], row["model"], payload["offer"], payload["offer_withheld"]) == (
                    True, TEST_OFFERED, "10 % off the next order", None)
                assert figures == [None] * 4
            else:
                assert (row["offered"], row["model"], payload["offer"], payload["offer_withheld"]) == (
                    False, TEST_NOT_OFFERED, None, TEST_NOT_OFFERED)
                assert figures == [None] * 4
        # Against the learner (coupon customers offered, regular ones not: the previous test).
        assert {("coupon", False), ("regular", True)} <= {(kind[n], row["offered"]) for n, row in decided.items()
                                                          if n not in hit}
        offered = sum(row["offered"] for row in decided.values())
        (summary,) = ws.experiments.offers(PLAYBOOK, as_of=AS_OF)
        assert (summary.decisions, summary.offered, summary.by_model, summary.model) == (
            144, 60 + offered, 2, LEARNER)  # with the past test's 120 (60 offered)
        # Once their window ends, the test's customers train the next model, the hit-and-run buyers not.
        later = training_units(ws.store, PLAYBOOK, 30, AS_OF + timedelta(days=30))
        arms = dict(zip(later["customer_id"].to_pylist(), later["arm"].to_pylist()))
        assert len(arms) == 120 + 22 and {n: arms[n] for n in group if n not in hit} == {
            n: "treatment" if g == 1 else "holdout" for n, g in group.items() if n not in hit}
    finally:
        ws.close()


def test_with_too_little_data_the_default_offers_and_says_so(store_url, tmp_path):
    ws, new, ids = open_shop(store_url, tmp_path, '[experiments]\ntarget_offers = "all"\noffer_test_share = 0\n')
    try:
        ws.playbooks.run(as_of=AS_OF)
        decided, sent = decisions(ws), payloads(ws)
        assert set(decided) == {ids[name] for name in new}
        for row in decided.values():
            assert row["model"] == ("default: 60 offered and 60 not offered in the offer test have ended; "
                                    "targeting needs 200 of each")
            assert row["offered"] and row["expected_gain"] is None and row["expected_with"] is None
            assert sent[row["customer_id"]]["offer"] == "10 % off the next order"
        offers = {found.playbook: found for found in ws.experiments.offers(as_of=AS_OF)}
        found = offers[PLAYBOOK]  # with the past test's 120 decisions (60 offered)
        assert (found.decisions, found.offered, found.by_model, found.saving) == (128, 68, 0, None)
        assert found.model == decided[ids["Nc0"]]["model"]
        assert offers["birthday"].targeted and offers["birthday"].decisions == 0  # "all": every playbook's offer
        assert "win-back-60" not in offers  # no offer
    finally:
        ws.close()
