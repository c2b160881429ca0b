"""A step's payload text, written from fragments for whole columns, is exactly the JSON of the payload's value.

The expected payloads are written out by hand as dicts in the documented field order
(retainly.playbooks.payloads) and encoded with the channels' own ``to_json``: the outbox keeps
the text, and channels splice it into their lines unparsed, so the two must be the same bytes.
"""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa
import pytest

from retainly.messaging.channels import to_json
from retainly.playbooks.definition import Playbook, Step, Trigger
from retainly.playbooks.facts import CONTEXT
from retainly.playbooks.payloads import StepPayloads, render

AS_OF = date(2025, 12, 31)
STEP = Step(after_days=0, action="email", subject="Hi {{ first_name }}",
            text='We miss you, {{ first_name }}. "{{ next_product }}" is back.', offer="10% off")
PLAYBOOK = Playbook(name="win-back", title="Win them back – after 60 days", trigger=Trigger("audience"),
                    steps=(STEP,), goal_days=21)


def texts(step_payloads: StepPayloads, contexts: list[dict]) -> list[str]:
    """The payloads of one row per context (a missing key: an unknown value)."""
    table = pa.table({name: pa.array([c.get(name) for c in contexts], pa.string()) for name in CONTEXT})
    return step_payloads.texts(table).to_pylist()


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
    [written] = texts(StepPayloads(PLAYBOOK, STEP, 1, AS_OF), [context])
    assert written == expected(context, subject, text, offer, withheld)
    assert json.loads(written)["text"] == text


def test_a_step_without_subject_or_offer_and_a_service_playbook():
    step = Step(after_days=3, action="call", channels=("task",), text="Call {{ name }}")
    playbook = Playbook(name="call", title="Call", trigger=Trigger("audience"), steps=(step,), goal_days=14,
                        marketing=False)
    [written] = texts(StepPayloads(playbook, step, 2, AS_OF), [{"customer": "7", "name": "Ann Lee"}])
    assert written == to_json({
        "playbook": "call", "title": "Call", "step": 2, "action": "call", "customer": "7", "name": "Ann Lee",
        "email": None, "phone": None, "as_of": "2025-12-31", "goal_days": 14, "subject": None,
        "text": "Call Ann Lee", "offer": None, "offer_withheld": None, "marketing": False})


def test_many_rows_keep_their_order_and_each_their_own_values():
    """Rows repeating and differing in the values the texts name, and values JSON must escape
    (quotes, backslashes, control characters, a line break, letters beyond ASCII), each as ``to_json``
    writes it: texts are rendered once per distinct set of values and spread back to their rows."""
    people = [
        {"customer": "A", "name": "Ann Lee", "first_name": "Ann", "email": "a@x.org", "next_product": "Mug"},
        {"customer": "B", "name": 'Bo "B" Ek', "first_name": "Bo", "phone": "+46\t1", "next_product": "Mug"},
        {"customer": "C\u0001", "name": "Ann Ray", "first_name": "Ann", "next_product": "Tea\\pot",
         "buyer_type": "hit_and_run"},
        {},
        {"customer": "E", "name": "Ёж\nЖук", "first_name": "Ёж", "email": "", "next_product": "Mug"},
    ]
    contexts = [people[i % len(people)] for i in (0, 1, 2, 3, 4, 0, 2, 2, 3, 1)]
    written = texts(StepPayloads(PLAYBOOK, STEP, 1, AS_OF), contexts)
    for context, text in zip(contexts, written):
        first, product = context.get("first_name", "there"), context.get("next_product", "our latest picks")
        hit_and_run = context.get("buyer_type") == "hit_and_run"
        assert text == expected(context, f"Hi {first}", f'We miss you, {first}. "{product}" is back.',
                                None if hit_and_run else "10% off", "predicted hit-and-run buyer" if hit_and_run else None)


def test_render_depends_only_on_the_values_a_text_names():
    assert render("Hello {{ first_name }}", {"first_name": "Ann", "stage": "vip"}) == "Hello Ann"
    assert render("Hello {{ first_name }}", {"first_name": "Bo", "stage": "new"}) == "Hello Bo"
