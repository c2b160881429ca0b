"""Playbook definitions: the built-in library round-trips through JSON, and bad definitions get
one-line errors naming the playbook and the key at fault."""

from __future__ import annotations

import pytest

from retainly.errors import InputError
from retainly.playbooks.definition import from_json, to_json
from retainly.playbooks.library import builtins

SEED_TACTICS = {  # the list of tactics -> the built-ins that serve them
    "thank-you and feedback after the first order": {"first-order-thanks"},
    "second-order nudge": {"second-order-nudge"},
    "discount for a loyal buyer slowing down": {"loyal-slowing-discount"},
    "replenishment reminder": {"replenishment-reminder"},
    "cross-sell of the next product": {"cross-sell"},
    "birthday offer": {"birthday"},
    "win-back at 60, 180 and 365 days": {"win-back-60", "win-back-180", "win-back-365"},
    "win-back by own rhythm": {"win-back-by-rhythm"},
    "VIP welcome and reward": {"vip-welcome"},
    "abandoned cart": {"abandoned-cart"},
    "discount-only buyers caught early": {"discount-only-early"},
    "manager's call to valuable customers drifting away": {"call-drifting-valuable"},
    "manager's call to customers silent for a year": {"call-silent-year"},
}


def test_every_tactic_has_a_builtin_and_each_round_trips():
    library = {p.name: p for p in builtins(45)}
    for tactic, names in SEED_TACTICS.items():
        assert names <= set(library), tactic
    for playbook in library.values():
        assert from_json(to_json(playbook)) == playbook
        assert playbook.advice and playbook.steps
    # The second-order nudge is timed by the shop's typical gap, the calls are tasks, not marketing.
    assert library["second-order-nudge"].trigger.delay_days == 45
    assert [s.action for s in library["call-silent-year"].steps] == ["task"]
    assert not library["call-drifting-valuable"].marketing
    # When caps bite, a win-back beats a cross-sell.
    assert library["win-back-60"].priority > library["cross-sell"].priority


def minimal(**changes) -> dict:
    return {"name": "p", "trigger": {"kind": "first_order"}, "steps": [{"action": "message"}], **changes}


@pytest.mark.parametrize("changes, message", [
    ({"trigger": {"kind": "sunrise"}},
     "playbook 'p': trigger kind 'sunrise' is unknown; use one of audience, first_order, order, birthday, schedule"),
    ({"trigger": {"kind": "audience"}}, "playbook 'p': a audience trigger needs a rule (who enters)"),
    ({"steps": [{"action": "fax"}]},
     "playbook 'p' step 1: action 'fax' is unknown; use one of message, task, export"),
    ({"steps": [{"action": "message", "channels": ["pigeon"]}]},
     "playbook 'p' step 1: unknown channel 'pigeon'; use one of email, sms, webhook, file, task, export"),
    ({"steps": [{"action": "message", "wait": 3}]},
     "playbook 'p' step 1: unknown keys wait; a step has after_days, action, channels, subject, text, html, feedback, promo_pool, export and offer"),
    ({"steps": []}, "playbook 'p': give at least one step"),
    ({"holdout_share": 1.0},
     "playbook 'p': holdout_share = 1.0; give a share from 0 up to (not including) 1"),
    ({"reentry": "twice"}, "playbook 'p': reentry = 'twice'; use once, each or every:N (N days)"),
    ({"goal_days": 0}, "playbook 'p': goal_days = 0; give a whole number of at least 1"),
    ({"steps": [{"action": "message", "text": "Hi {{ first_name"}]},
     "playbook 'p' step 1: text: line 1: unexpected end of template, expected 'end of print statement'; write "
     "values as {{ first_name }}, see docs/playbooks.md"),
    ({"steps": [{"action": "message", "subject": 7}]},
     "playbook 'p' step 1: subject = 7; give the message as text"),
    ({"colour": "red"}, "playbook 'p': unknown keys colour; known: active_from, active_to, advice, condition, "
                        "description, enabled, goal_days, holdout_share, marketing, name, priority, reentry, steps, "
                        "title, trigger"),
])
def test_bad_definitions_name_the_key(changes, message):
    with pytest.raises(InputError) as caught:
        from_json(minimal(**changes))
    assert str(caught.value) == message


def test_defaults_and_reentry_days():
    playbook = from_json(minimal(reentry="every:30"))
    assert playbook.reentry_days() == 30 and playbook.holdout_share == 0.1 and playbook.goal_days == 30
    assert playbook.steps[0].channels == ("email",)
    assert from_json(minimal(steps=[{"action": "task"}])).steps[0].channels == ("task",)
