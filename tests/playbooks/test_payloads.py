"""A step's payload text, written from fragments, is exactly the JSON of the payload's value.

The expected payloads are written out by hand as dicts in the documented field order
(retainly.playbooks.payloads) and encoded with the channels' own ``to_json``: the outbox keeps
the text, and channels splice it into their lines unparsed, so the two must be the same bytes.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from retainly.messaging.channels import to_json
from retainly.playbooks.definition import Playbook, Step, Trigger
from retainly.playbooks.payloads import StepPayloads, render

AS_OF = date(2025, 12, 31)
STEP = Step(after_days=0, action="email", subject="Hi {{ first_name }}",
            text='We miss you, {{ first_name }}. "{{ next_product }}" is back.', offer="10% off")
PLAYBOOK = Playbook(name="win-back", title="Win them back – after 60 days", trigger=Trigger("audience"),
                    steps=(STEP,), goal_days=21)


def expected(context: dict, subject: str, text: str, offer, withheld) -> str:
    return to_json({
        "playbook": "win-back", "title": "Win them back – after 60 days", "step": 1, "action": "email",
        "customer": context.get("customer"), "name": context.get("name"), "email": context.get("email"),
        "phone": context.get("phone"), "as_of": "2025-12-31", "goal_days": 21, "subject": subject, "text": text,
        "offer": offer, "offer_withheld": withheld, "marketing": True})


@pytest.mark.parametrize("context, subject, text, offer, withheld", [
    ({"customer": "C-1", "name": "Ольга Петрова", "first_name": "Ольга", "email": "olga@example.com",
      "phone": None, "next_product": 'Mug "Big"', "buyer_type": "loyal"},
     "Hi Ольга", 'We miss you, Ольга. "Mug "Big"" is back.', "10% off", None),
    # Unknown values fall back to the documented words; a hit-and-run buyer gets no incentive.
    ({"customer": "C\\2\n", "name": "", "first_name": "there", "email": None, "phone": "+44 1",
      "buyer_type": "hit_and_run"},
     "Hi there", 'We miss you, there. "our latest picks" is back.', None, "predicted hit-and-run buyer"),
    ({}, "Hi there", 'We miss you, there. "our latest picks" is back.', "10% off", None),
])
def test_payload_text_is_the_json_of_its_value(context, subject, text, offer, withheld):
    written = StepPayloads(PLAYBOOK, STEP, 1, AS_OF).text(context)
    assert written == expected(context, subject, text, offer, withheld)
    assert json.loads(written)["text"] == text


def test_a_step_without_subject_or_offer_and_a_service_playbook():
    step = Step(after_days=3, action="call", channels=("task",), text="Call {{ name }}")
    playbook = Playbook(name="call", title="Call", trigger=Trigger("audience"), steps=(step,), goal_days=14,
                        marketing=False)
    written = StepPayloads(playbook, step, 2, AS_OF).text({"customer": "7", "name": "Ann Lee"})
    assert written == to_json({
        "playbook": "call", "title": "Call", "step": 2, "action": "call", "customer": "7", "name": "Ann Lee",
        "email": None, "phone": None, "as_of": "2025-12-31", "goal_days": 14, "subject": None,
        "text": "Call Ann Lee", "offer": None, "offer_withheld": None, "marketing": False})


def test_render_depends_only_on_the_values_a_text_names():
    assert render("Hello {{ first_name }}", {"first_name": "Ann", "stage": "vip"}) == "Hello Ann"
    assert render("Hello {{ first_name }}", {"first_name": "Bo", "stage": "new"}) == "Hello Bo"
