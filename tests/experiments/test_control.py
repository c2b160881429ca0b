"""The global control group: who is in it, that a run keeps them out of every playbook, and the
settings that set it up (docs/experiments.md, "The global control group").

Runs use the built-in playbooks on a generated shop of 1,500 customers (its last order on
2025-12-31), on two copies of the same store: one with the group off, one with 20 % from
2025-01-01. The group must take exactly its members out of what the other run enrols, leave
every arm as it was, and leave the report as it was when off.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from retainly import Workspace
from retainly.errors import InputError
from retainly.experiments.control import GlobalControl, in_control, members
from retainly.playbooks.enrol import HOLDOUT, arm
from retainly.settings import AnalysisSettings, ExperimentSettings
from tests.conftest import generated_copy

N = 20_000


def test_membership_is_the_documented_hash():
    for customer in range(50):  # sha256("salt" \x1e customer) read as a number in [0, 1), below the share
        digest = hashlib.sha256(f"global-control\x1e{customer}".encode()).digest()
        assert in_control(customer, 0.2) == (int.from_bytes(digest[:8], "big") / 2**64 < 0.2)
    assert not any(in_control(c, 0.0) for c in range(1000))


def test_the_share_is_within_binomial_bounds_and_independent_of_a_playbooks_arm():
    share = 0.1
    group = np.array([in_control(c, share) for c in range(N)])
    bound = 4 * math.sqrt(N * share * (1 - share))  # 4 standard deviations: fails by chance ~1 in 16,000
    assert abs(group.sum() - N * share) < bound
    # A playbook named like the default salt, and one whose salt is the control's: different hashes still.
    for playbook, salt in (("win-back-180", None), ("global-control", None), ("cross-sell", "global-control")):
        held = np.array([arm(playbook, c, share, salt) == HOLDOUT for c in range(N)])
        table = [[int((group & held).sum()), int((group & ~held).sum())],
                 [int((~group & held).sum()), int((~group & ~held).sum())]]
        assert scipy_stats.chi2_contingency(table).pvalue > 0.001, (playbook, table)
    other = np.array([in_control(c, share, "another-salt") for c in range(N)])
    assert scipy_stats.chi2_contingency([[int((group & other).sum()), int((group & ~other).sum())],
                                         [int((~group & other).sum()), int((~group & ~other).sum())]]).pvalue > 0.001


def test_the_engine_draws_the_same_group_as_python(store_url):
    ids = np.array([*range(3_000), 10**12, 2**53], np.int64)
    with Workspace.open(store_url) as ws:
        for share, salt in ((0.1, "global-control"), (1 / 3, "global-control"), (0.5, "sél-2026"), (0.0, "x")):
            assert members(ws.store, ids, share, salt).tolist() == [in_control(int(c), share, salt) for c in ids]
        assert members(ws.store, np.zeros(0, np.int64), 0.2).tolist() == []


# -- settings ---------------------------------------------------------------------------------------

def settings_file(folder: Path, text: str = "") -> Path:
    path = folder / "retainly.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "message"), [
    ("global_control_share = 0.1\n", "global_control_share is set: also give global_control_since"),
    ("global_control_share = 0.6\nglobal_control_since = 2025-01-01\n", "global_control_share = 0.6: give a number "
                                                                        "from 0 to 0.5"),
    ("global_control_share = 0.1\nglobal_control_since = \"2025-01-01\"\n", "give a date without quotes"),
    ("global_control_salt = \"\"\n", "global_control_salt = '': give a text"),
])
def test_settings_errors_say_what_to_write(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        AnalysisSettings.load(settings_file(tmp_path, "[experiments]\n" + text))


def test_the_group_of_the_settings():
    assert GlobalControl.of(ExperimentSettings()) is None and GlobalControl.of(None) is None
    with pytest.raises(InputError, match="also give global_control_since"):
        GlobalControl.of(ExperimentSettings(global_control_share=0.1))  # made without the file's check
    control = GlobalControl.of(ExperimentSettings(global_control_share=0.1, global_control_since=date(2025, 1, 1)))
    assert control == GlobalControl(0.1, date(2025, 1, 1), "global-control")
    assert control.keeps_out(date(2025, 1, 1)) and not control.keeps_out(date(2024, 12, 31))


# -- runs -------------------------------------------------------------------------------------------

GROUP = "[experiments]\nglobal_control_share = 0.2\nglobal_control_since = {since}\n"


@pytest.fixture(params=["duckdb", "postgres"])
def kind(request):
    return request.param


def run_on_copy(store_templates, kind: str, folder: Path, settings: str, monkeypatch, *days: date | None):
    """Runs (every built-in enabled) as of ``days`` on a copy of the generated shop: (the
    workspace's enrolments as {(playbook, customer, occurrence): arm}, the summaries, the runs' rows)."""
    folder.mkdir()
    monkeypatch.setenv("RETAINLY_OUTBOX_DIR", str(folder / "outbox"))
    with generated_copy(store_templates, kind, 1500, 11, folder) as (url, _), \
            Workspace.open(url, settings=settings_file(folder, settings)) as ws:
        ws.playbooks.enable(["all"])
        summaries = [ws.playbooks.run(day) for day in days]
        enrolled = {(p, int(c), o): a for p, c, o, a in ws.store.fetchall(
            "SELECT playbook, customer_id, occurrence, arm FROM enrolments")}
        outbox = ws.store.fetchall("SELECT playbook, customer_id, step, run_id FROM outbox")
        runs = [json.loads(s) for (s,) in ws.store.fetchall("SELECT summary FROM runs ORDER BY run_id")]
    return enrolled, summaries, outbox, runs


@pytest.mark.slow
def test_the_group_enters_no_playbook_and_everyone_else_enters_as_before(store_templates, kind, tmp_path,
                                                                           monkeypatch):
    before, (off,), _, off_runs = run_on_copy(store_templates, kind, tmp_path / "off", "", monkeypatch, None)
    since = GROUP.format(since="2025-01-01")
    after, (on,), outbox, on_runs = run_on_copy(store_templates, kind, tmp_path / "on", since, monkeypatch, None)
    assert on.as_of == off.as_of == date(2025, 12, 31)
    group = {c for c in {c for _, c, _ in before} if in_control(c, 0.2)}
    assert group and not {c for _, c, _ in after} & group and not {c for _, c, *_ in outbox} & group
    # Exactly the group's members are gone; every arm is the one it had with the group off.
    assert after == {key: a for key, a in before.items() if key[1] not in group}
    by_name = {p.playbook: p for p in on.playbooks}
    for outcome in off.playbooks:  # the report counts, per playbook, the members who would have entered
        kept = sum(1 for (p, c, _) in before if p == outcome.playbook and c in group)
        assert by_name[outcome.playbook].global_control == kept
        assert by_name[outcome.playbook].entered == outcome.entered - kept
    assert sum(p.global_control for p in on.playbooks) > 100
    # With the group off the report (and the runs' summary) is what it was: no global_control anywhere.
    assert all("global_control" not in p.to_dict() and p.global_control is None for p in off.playbooks)
    assert not any("global_control" in row for row in off_runs[0].values())
    assert all(row["global_control"] == by_name[name].global_control for name, row in on_runs[0].items())


@pytest.mark.slow
def test_from_the_day_it_began_no_later_step_of_an_earlier_enrolment_is_planned(store_templates, kind, tmp_path,
                                                                                   monkeypatch):
    """win-back-60 gets a second step 3 days after the first; a run 5 days before the group began
    enrols its members (the group keeps no one out yet), the run on the day it began plans the
    second steps of everyone else only."""
    last = date(2025, 12, 31)
    folder = tmp_path / "steps"
    folder.mkdir()
    monkeypatch.setenv("RETAINLY_OUTBOX_DIR", str(folder / "outbox"))
    with generated_copy(store_templates, kind, 1500, 11, folder) as (url, _), \
            Workspace.open(url, settings=settings_file(folder, GROUP.format(since=last.isoformat()))) as ws:
        ws.playbooks.enable(["all"])
        data = json.loads(ws.playbooks.definition_json("win-back-60"))
        data["steps"].append({**data["steps"][0], "after_days": 3})
        ws.playbooks.edit("win-back-60", data)
        early = ws.playbooks.run(last - timedelta(days=5))
        assert all(p.global_control is None for p in early.playbooks)  # not begun yet
        enrolled = {int(c) for (c,) in ws.store.fetchall(
            "SELECT customer_id FROM enrolments WHERE playbook = 'win-back-60' AND arm = 'treatment'")}
        assert {c for c in enrolled if in_control(c, 0.2)}, "the group's members entered before it began"
        ws.playbooks.run(last)
        second = {int(c) for (c,) in ws.store.fetchall(
            "SELECT customer_id FROM outbox WHERE playbook = 'win-back-60' AND step = 2")}
    assert second == {c for c in enrolled if not in_control(c, 0.2)}
