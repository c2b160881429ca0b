"""What a planned step hands its channel: the message or task, as the JSON text the outbox keeps.

A step's texts are Jinja2 templates (sandboxed) over what messages may say of a customer
(``contexts``: names, stage, buyer type, the next product, a product due). A run plans up to
millions of rows, so the work per row is kept small: a text is rendered once per distinct set
of the values it names, and a payload's JSON is written from fragments, the fields every row of
the step shares encoded once (``StepPayloads``), never built as a dict and encoded whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from json.encoder import encode_basestring

import pyarrow as pa
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from retainly.messaging.channels import to_json
from retainly.playbooks.definition import Playbook, Step
from retainly.store.backends import Store

TEMPLATES = SandboxedEnvironment(autoescape=False)
FALLBACKS = {"name": "", "first_name": "there", "next_product": "our latest picks", "due_product": "supplies",
             "stage": ""}  # what a text says where the customer's value is unknown


@lru_cache(maxsize=256)
def _template(text: str):
    """A step's text compiled once, with the names of the values it reads."""
    return TEMPLATES.from_string(text), tuple(sorted(meta.find_undeclared_variables(TEMPLATES.parse(text))))


@lru_cache(maxsize=65536)
def _rendered(text: str, values: tuple) -> str:
    return _template(text)[0].render(dict(values))


def render(text: str, values: Mapping[str, object]) -> str:
    """``text`` rendered with ``values``; a text depends only on the values it names, so the same
    first name and product render once per run, not once per message."""
    return _rendered(text, tuple((name, values.get(name)) for name in _template(text)[1]))


def contexts(store: Store, ids: list[int], as_of: date) -> dict[int, dict]:
    """What messages may say of each customer: names, stage, the next product, a product due."""
    if not ids:
        return {}
    found: dict[int, dict] = {}
    with store.staged(pa.table({"customer_id": pa.array(ids, pa.int64())})) as staged:
        # Each customer's first product to offer and first (by name) product due, gathered once for
        # the staged customers and joined, rather than looked up per customer.
        for cid, external, name, email, phone, stage, buyer_type, next_product, due_product in store.fetchall(
                "WITH offered AS (SELECT n.customer_id, MIN(COALESCE(p.name, n.sku)) AS product "
                f'FROM next_products AS n JOIN "{staged}" AS s ON s.customer_id = n.customer_id '
                "LEFT JOIN products AS p ON p.sku = n.sku WHERE n.as_of = ? AND n.rank = 1 GROUP BY n.customer_id), "
                "due AS (SELECT d.customer_id, MIN(COALESCE(p.name, d.sku)) AS product "
                f'FROM reorders_due AS d JOIN "{staged}" AS s ON s.customer_id = d.customer_id '
                "LEFT JOIN products AS p ON p.sku = d.sku WHERE d.as_of = ? GROUP BY d.customer_id) "
                "SELECT c.customer_id, c.external_id, c.name, c.email, c.phone, l.stage, b.buyer_type, "
                "offered.product, due.product "
                f'FROM customers AS c JOIN "{staged}" AS s ON s.customer_id = c.customer_id '
                "LEFT JOIN lifecycle_stages AS l ON l.customer_id = c.customer_id AND l.as_of = ? "
                "LEFT JOIN buyer_types AS b ON b.customer_id = c.customer_id AND b.as_of = ? "
                "LEFT JOIN offered ON offered.customer_id = c.customer_id "
                "LEFT JOIN due ON due.customer_id = c.customer_id",
                (as_of, as_of, as_of, as_of)):
            found[int(cid)] = {"customer": external, "name": name or "",
                               "first_name": (name or "").split(" ")[0] or "there", "email": email, "phone": phone,
                               "stage": stage, "buyer_type": buyer_type, "next_product": next_product,
                               "due_product": due_product}
    return found


def _value(value) -> str:
    """One JSON value as ``to_json`` writes it (strings by the same encoder, without its call)."""
    if value is None:
        return "null"
    return encode_basestring(value) if type(value) is str else to_json(value)


class StepPayloads:
    """The payloads of one step of a playbook, as JSON text.

    The payload (in this field order) is: playbook, title, step, action, customer, name, email,
    phone, as_of, goal_days, subject, text, offer, offer_withheld, marketing. An incentive is
    withheld from customers predicted to be hit-and-run buyers."""

    def __init__(self, playbook: Playbook, step: Step, number: int, as_of: date):
        self.step = step
        head = to_json({"playbook": playbook.name, "title": playbook.title, "step": number, "action": step.action})
        self._head = head[:-1] + ',"customer":'
        self._middle = f',"as_of":{_value(as_of.isoformat())},"goal_days":{_value(playbook.goal_days)},"subject":'
        self._offered = f',"offer":{_value(step.offer)},"offer_withheld":null'
        self._withheld = ',"offer":null,"offer_withheld":"predicted hit-and-run buyer"'
        self._tail = f',"marketing":{_value(playbook.marketing)}}}'
        self._subject_names = () if step.subject is None else _template(step.subject)[1]
        self._text_names = _template(step.text)[1]

    def text(self, context: Mapping[str, object]) -> str:
        """The payload for a customer of ``context`` (``contexts``; empty when unknown)."""
        step, get = self.step, context.get
        subject = None if step.subject is None else _rendered(step.subject, self._values(self._subject_names, get))
        withheld = step.offer and get("buyer_type") == "hit_and_run"
        return "".join((
            self._head, _value(get("customer")), ',"name":', _value(get("name")), ',"email":', _value(get("email")),
            ',"phone":', _value(get("phone")), self._middle, _value(subject), ',"text":',
            _value(_rendered(step.text, self._values(self._text_names, get))),
            self._withheld if withheld else self._offered, self._tail))

    @staticmethod
    def _values(names: tuple[str, ...], get) -> tuple:
        """What ``render`` would pass a text naming ``names``: the customer's value, else the fallback."""
        return tuple([(name, FALLBACKS.get(name) if (value := get(name)) is None else value) for name in names])
