"""What a planned step hands its channel: the message or task, as the JSON text the outbox keeps.

A step's texts are Jinja2 templates (sandboxed) over what messages may say of a customer
(retainly.playbooks.facts: names, stage, buyer type, the next product, a product due). A run
plans up to millions of rows, so payloads are written a step's rows at a time, as Arrow columns
(``StepPayloads.texts``): a text is rendered once per distinct set of the values it names, the
fields every row shares are encoded once, and only the rare value that needs escaping is
encoded one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from json.encoder import encode_basestring

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from retainly.messaging.channels import to_json
from retainly.playbooks.definition import PRODUCT_VALUES, Playbook, Step

TEMPLATES = SandboxedEnvironment(autoescape=False)
HTML_TEMPLATES = SandboxedEnvironment(autoescape=True)  # a step's html: the customer's values escaped
# What a text says where the customer's value is unknown: a product's page, picture and price say
# nothing, so a template shows them under `{% if next_product_url %}` (docs/email.md).
FALLBACKS = {"name": "", "first_name": "there", "next_product": "our latest picks", "due_product": "supplies",
             "stage": "", "promo_code": "", **dict.fromkeys(PRODUCT_VALUES, "")}


@lru_cache(maxsize=256)
def _template(text: str, html: bool = False):
    """A step's text (or html) compiled once, with the names of the values it reads."""
    environment = HTML_TEMPLATES if html else TEMPLATES
    return environment.from_string(text), tuple(sorted(meta.find_undeclared_variables(environment.parse(text))))


@lru_cache(maxsize=65536)
def _rendered(text: str, values: tuple, html: bool = False) -> str:
    return _template(text, html)[0].render(dict(values))


def render(text: str, values: Mapping[str, object], html: bool = False) -> str:
    """``text`` rendered with ``values`` (``html``: escaped as HTML); a text depends only on the
    values it names, so the same first name and product render once per run, not once per message.
    Unknown values say their fallback (``FALLBACKS``), never a placeholder."""
    return _rendered(text, tuple((name, values.get(name) if values.get(name) is not None else FALLBACKS.get(name))
                                 for name in _template(text, html)[1]), html)


def _value(value) -> str:
    """One JSON value as ``to_json`` writes it (strings by the same encoder, without its call)."""
    if value is None:
        return "null"
    return encode_basestring(value) if type(value) is str else to_json(value)


class StepPayloads:
    """The payloads of one step of a playbook, as JSON text, written for many rows at once.

    The payload (in this field order) is: playbook, title, step, action (and export, for an export step),
    customer, name, email, phone, as_of, goal_days, subject, text (html, feedback and promo_code, when the step
    has them), offer, offer_withheld, marketing. An incentive is withheld from customers predicted to be
    hit-and-run buyers, and where a context's ``offer_withheld`` column gives a reason (targeted offers)."""

    def __init__(self, playbook: Playbook, step: Step, number: int, as_of: date):
        self.step = step
        head = to_json({"playbook": playbook.name, "title": playbook.title, "step": number, "action": step.action,
                        **({"export": step.export} if step.export else {})})
        self._head = head[:-1] + ',"customer":'
        self._middle = f',"as_of":{_value(as_of.isoformat())},"goal_days":{_value(playbook.goal_days)},"subject":'
        self._offered = f',"offer":{_value(step.offer)},"offer_withheld":null'
        self._withheld = ',"offer":null,"offer_withheld":"predicted hit-and-run buyer"'
        self._tail = f',"marketing":{_value(playbook.marketing)}}}'

    def texts(self, context: pa.Table) -> pa.Array:
        """The payload of each row of ``context``: what messages may say of the row's customer
        (the columns of ``CONTEXT``, null where unknown, every column null for a customer not found)."""
        step = self.step
        subject = "null" if step.subject is None else _rendered_json(step.subject, context)
        offer = self._offered
        if step.offer:
            hit_and_run = pc.fill_null(pc.equal(context["buyer_type"], "hit_and_run"), False)
            offer = pc.if_else(hit_and_run, self._withheld, self._offered)
            if "offer_withheld" in context.column_names:  # a targeted offer: why a row goes without it
                why = context["offer_withheld"]
                targeted = pc.binary_join_element_wise(',"offer":null,"offer_withheld":', _json_strings(why), "")
                offer = pc.if_else(pc.and_(pc.is_valid(why), pc.invert(hit_and_run)), targeted, offer)
        text = _rendered_json(step.text, context)
        if step.html:  # only then: a payload without html stays as it always was
            text = pc.binary_join_element_wise(text, ',"html":', _rendered_json(step.html, context, html=True), "")
        if step.feedback:
            text = pc.binary_join_element_wise(text, ',"feedback":true', "")
        if step.promo_pool:
            text = pc.binary_join_element_wise(text, ',"promo_code":', _json_strings(context["promo_code"]), "")
        return pc.binary_join_element_wise(
            self._head, _json_strings(context["customer"]), ',"name":', _json_strings(context["name"]),
            ',"email":', _json_strings(context["email"]), ',"phone":', _json_strings(context["phone"]), self._middle,
            subject, ',"text":', text, offer, self._tail, "")


def _rendered_json(text: str, context: pa.Table, html: bool = False):
    """``text`` rendered for each row of ``context`` as a JSON string: once per distinct set of the
    values it names (each the customer's, else its fallback), then spread to the rows."""
    names = _template(text, html)[1]
    count = context.num_rows
    if not names:
        return _value(_rendered(text, (), html))
    columns = []
    for name in names:
        column = context[name].combine_chunks() if name in context.column_names else pa.nulls(count, pa.string())
        if FALLBACKS.get(name) is not None:
            column = pc.fill_null(column, FALLBACKS[name])
        columns.append(column)
    # One integer per row naming its combination of values (nulls included), then the distinct ones.
    combined, distinct = np.zeros(count, np.int64), 1
    for column in columns:
        encoded = pc.dictionary_encode(column, null_encoding="encode")
        if distinct * len(encoded.dictionary) >= 2**62:  # renumber the combinations so far densely first
            combined = np.unique(combined, return_inverse=True)[1].reshape(-1)
            distinct = int(combined.max()) + 1
        combined = combined * len(encoded.dictionary) + encoded.indices.to_numpy(zero_copy_only=False)
        distinct *= len(encoded.dictionary)
    _, first, codes = np.unique(combined, return_index=True, return_inverse=True)
    values = zip(*(column.take(pa.array(first)).to_pylist() for column in columns))
    rendered = pa.array([_value(_rendered(text, tuple(zip(names, row)), html)) for row in values], pa.string())
    return rendered.take(pa.array(codes.reshape(-1)))


_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'  # what JSON escapes in a string; anything else is written as it is


def _json_strings(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Each value as JSON: null, or the string quoted (escaped as ``to_json`` does where needed)."""
    values = pc.cast(values, pa.string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    quoted = pc.binary_join_element_wise('"', values, '"', "")
    needs = pc.fill_null(pc.match_substring_regex(values, _NEEDS_ESCAPE), False)
    if pc.any(needs).as_py():  # rare: quotes, backslashes, control characters
        escaped = [encode_basestring(value) for value in pc.filter(values, needs).to_pylist()]
        quoted = pc.replace_with_mask(quoted, needs, pa.array(escaped, pa.string()))
    return pc.fill_null(quoted, "null")
