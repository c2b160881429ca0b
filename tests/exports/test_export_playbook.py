"""A playbook's export step, end to end: `run` enrols, plans the step on channel ``export``, marks its rows
sent, and the scheduled export of source ``playbook:<name>`` then holds exactly the treated customers the
step reached who may be sent (consent); when their goal window has passed they leave it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from retainly.errors import InputError, NotFoundError
from retainly.playbooks import saved
from retainly.playbooks.definition import from_json
from tests.exports.shop import load, person, read_csv

AS_OF = date(2024, 3, 1)
PLAYBOOK = {"name": "remarket", "title": "Remarket buyers", "trigger": {"kind": "audience",
            "rule": {"field": "orders_count", "op": ">=", "value": 1}},
            "steps": [{"after_days": 0, "action": "export", "export": "remarket-ads"}],
            "holdout_share": 0.5, "goal_days": 30}


def test_the_export_of_a_playbook_holds_the_treated_customers_its_step_reached(workspace, tmp_path, monkeypatch):
    ws = workspace
    monkeypatch.setenv("RETAINLY_OUTBOX_DIR", str(tmp_path / "outbox"))
    # t1-t8 with ads consent but t7 (none) and t8 (suppressed on all: its row is suppressed, never sent).
    people = [person(f"t{i}", f"t{i}@example.com") for i in range(1, 9)]
    people[6]["ads_consent"] = "no"
    load(ws, tmp_path, people)
    ws.playbooks.suppress("t8", "all", "manual")
    with pytest.raises(NotFoundError, match="no playbook named .remarket."):
        ws.exports.add("remarket-ads", "csv", "playbook:remarket", {"fields": "customer", "consent": "ads"})
    saved.save(ws.store, from_json(PLAYBOOK), enabled=True)
    ws.exports.add("remarket-ads", "csv", "playbook:remarket",
                   {"fields": "customer", "consent": "ads", "folder": str(tmp_path / "out")}, scheduled=True)
    summary = ws.playbooks.run(AS_OF)
    arms = dict(ws.store.fetchall("SELECT c.external_id, e.arm FROM enrolments e JOIN customers c "
                                  "ON c.customer_id = e.customer_id"))
    assert len(arms) == 8 and set(arms.values()) == {"treatment", "holdout"}  # the hash split them
    sent = dict(ws.store.fetchall("SELECT c.external_id, o.status FROM outbox o JOIN customers c "
                                  "ON c.customer_id = o.customer_id WHERE o.channel = 'export'"))
    treated = {who for who, arm in arms.items() if arm == "treatment"}
    assert set(sent) == treated  # a row per treated customer, none for the held out
    assert {who for who, status in sent.items() if status == "sent"} == treated - {"t8"}
    expected = treated - {"t7", "t8"}  # t7 lacks ads consent; t8's row was suppressed
    (outcome,) = summary.exports
    assert (outcome.export, outcome.status, outcome.added) == ("remarket-ads", "completed", len(expected))
    written = read_csv(tmp_path / "out" / f"remarket-ads-{outcome.run_id}-add.csv")
    assert sorted(row["customer"] for row in written) == sorted(expected)
    # 31 days later the goal window (30 days) of every enrolment has passed: all of them leave.
    later = ws.exports.run("remarket-ads", AS_OF + timedelta(days=31))
    assert (later.added, later.removed, later.kept) == (0, len(expected), 0)
    gone = read_csv(tmp_path / "out" / f"remarket-ads-{later.run_id}-remove.csv")
    assert sorted(row["customer"] for row in gone) == sorted(expected)


def test_an_export_step_names_its_export_and_goes_through_channel_export():
    step = {**PLAYBOOK["steps"][0]}
    playbook = from_json({**PLAYBOOK, "steps": [step]})
    assert (playbook.steps[0].channels, playbook.steps[0].export) == (("export",), "remarket-ads")
    with pytest.raises(InputError, match="step 1: export = None; an export step names the export"):
        from_json({**PLAYBOOK, "steps": [{"action": "export"}]})
    with pytest.raises(InputError, match="an export step goes through channel export alone, not email"):
        from_json({**PLAYBOOK, "steps": [{**step, "channels": ["email"]}]})
    with pytest.raises(InputError, match="export = 'x' belongs to a step of action export"):
        from_json({**PLAYBOOK, "steps": [{"action": "message", "export": "x"}]})
    with pytest.raises(InputError, match="channel export is for steps of action export"):
        from_json({**PLAYBOOK, "steps": [{"action": "message", "channels": ["export"]}]})
