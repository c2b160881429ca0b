"""What a playbook is: a trigger, a condition, steps, a goal, a holdout share, a re-entry policy,
a priority and an active window (docs/playbooks.md).

Stored as JSON in ``playbooks.definition``; built-in ones come from retainly.playbooks.library
and are edited by saving a changed copy. ``from_json`` checks everything a run relies on and
names the playbook and key at fault.

* **Trigger** ``kind``: ``audience`` (entering the rule's audience: the false → true edge),
  ``first_order`` / ``order`` (``delay_days`` after a customer's first / every order),
  ``birthday`` (``days_before`` the birthday), ``schedule`` (every ``every_days`` days, everyone
  the rule matches).
* **Step**: due ``after_days`` after enrolment; ``action`` ``message`` (through the first of
  ``channels`` the customer may be reached by: consent, no suppression, preferred channel
  first), ``task`` (a manager's call-back) or ``export`` (added to an audience export). A
  step's ``offer`` is an incentive, withheld from customers predicted to be hit-and-run buyers.
* **Re-entry**: ``once`` (ever), ``every:N`` (at most once per N days), ``each`` (every
  occurrence: each order, each year's birthday).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date

from jinja2 import Environment, TemplateSyntaxError, meta

from retainly.audiences.tree import Rule, from_json as rule_from_json, to_json as rule_to_json
from retainly.errors import InputError

TRIGGERS = ("audience", "first_order", "order", "birthday", "schedule")
# What a step's subject, text and html may name of a customer (retainly.playbooks.facts reads them).
PRODUCT_VALUES = tuple(f"{prefix}_product_{value}" for prefix in ("next", "due") for value in ("url", "image", "price"))
MESSAGE_VALUES = ("customer", "name", "first_name", "email", "phone", "stage", "buyer_type", "next_product",
                  "due_product", *PRODUCT_VALUES)
STEP_KEYS = ("after_days", "action", "channels", "subject", "text", "html", "feedback", "promo_pool", "export",
             "offer")
PROMO_CODE = "promo_code"  # what a step with a promo_pool may name besides MESSAGE_VALUES
_POOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$")
ACTIONS = ("message", "task", "export")
CHANNELS = ("email", "sms", "webhook", "file", "task", "export")
_EXPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")  # as retainly.exports.definitions names exports


@dataclass(frozen=True)
class Trigger:
    kind: str
    rule: Rule | None = None
    delay_days: int = 0
    days_before: int = 0
    every_days: int = 7
    # "second_order_gap": the delay is the shop's median days from a first to a second order,
    # measured at each run on the data up to its day (delay_days when nobody has two orders).
    delay_from: str | None = None


@dataclass(frozen=True)
class Step:
    after_days: int
    action: str
    channels: tuple[str, ...] = ("email",)
    subject: str | None = None
    text: str = ""
    offer: str | None = None
    html: str | None = None  # the email's content as HTML (values escaped); its text part is made from it
    feedback: bool = False  # the email asks for a 0-10 score (docs/email.md, "Feedback")
    promo_pool: str | None = None  # each customer gets a code of this pool: {{ promo_code }}
    export: str | None = None  # an export step: the export (`retainly exports`) its customers go to

    def templates(self) -> tuple[str, ...]:
        return tuple(t for t in (self.subject, self.text, self.html) if t)


@dataclass(frozen=True)
class Playbook:
    name: str
    title: str
    trigger: Trigger
    steps: tuple[Step, ...]
    description: str = ""
    advice: str = ""  # the retention handbook's advice this playbook serves
    condition: Rule | None = None  # checked on entry and again when each step is due
    goal_days: int = 30  # an order within this many days of entry counts as the goal
    holdout_share: float = 0.1
    reentry: str = "once"
    priority: int = 50  # higher wins when a frequency cap bites
    active_from: date | None = None
    active_to: date | None = None
    marketing: bool = True  # counts toward frequency caps and needs marketing consent
    enabled: bool = field(default=False, compare=False)

    def reentry_days(self) -> int | None:
        """N of ``every:N``, else None."""
        return int(self.reentry.split(":", 1)[1]) if self.reentry.startswith("every:") else None

    def active_on(self, day: date) -> bool:
        return (self.active_from is None or day >= self.active_from) and (self.active_to is None or day <= self.active_to)

    def with_changes(self, **changes) -> Playbook:
        return replace(self, **changes)


def to_json(playbook: Playbook) -> dict:
    trigger = playbook.trigger
    return {
        "name": playbook.name, "title": playbook.title, "description": playbook.description,
        "advice": playbook.advice,
        "trigger": {"kind": trigger.kind, "rule": None if trigger.rule is None else rule_to_json(trigger.rule),
                    "delay_days": trigger.delay_days, "days_before": trigger.days_before,
                    "every_days": trigger.every_days, "delay_from": trigger.delay_from},
        "condition": None if playbook.condition is None else rule_to_json(playbook.condition),
        "steps": [{"after_days": s.after_days, "action": s.action, "channels": list(s.channels),
                   "subject": s.subject, "text": s.text, "html": s.html, "feedback": s.feedback,
                   "promo_pool": s.promo_pool, "offer": s.offer, **({"export": s.export} if s.export else {})}
                  for s in playbook.steps],
        "goal_days": playbook.goal_days, "holdout_share": playbook.holdout_share, "reentry": playbook.reentry,
        "priority": playbook.priority, "marketing": playbook.marketing,
        "active_from": None if playbook.active_from is None else playbook.active_from.isoformat(),
        "active_to": None if playbook.active_to is None else playbook.active_to.isoformat(),
    }


def _int(data: dict, key: str, default: int, where: str, low: int = 0) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise InputError(f"{where}: {key} = {value!r}; give a whole number of at least {low}")
    return value


def _date(value, where: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{where}: {value!r} is not a date; write it as 2025-01-31") from None


def _step(step, at: str) -> Step:
    if not isinstance(step, dict):
        raise InputError(f"{at}: a step is an object with after_days, action and channels")
    unknown = sorted(set(step) - set(STEP_KEYS))
    if unknown:
        raise InputError(f"{at}: unknown keys {', '.join(unknown)}; a step has {', '.join(STEP_KEYS[:-1])} and "
                         f"{STEP_KEYS[-1]}")
    action = step.get("action")
    if action not in ACTIONS:
        raise InputError(f"{at}: action {action!r} is unknown; use one of {', '.join(ACTIONS)}")
    channels = tuple(step.get("channels") or {"task": ("task",), "export": ("export",)}.get(action, ("email",)))
    bad = [c for c in channels if c not in CHANNELS]
    if bad:
        raise InputError(f"{at}: unknown channel {bad[0]!r}; use one of {', '.join(CHANNELS)}")
    export = _export_of(step, action, channels, at)
    subject, text, html = step.get("subject"), step.get("text") or "", step.get("html") or None
    pool = step.get("promo_pool") or None
    if pool is not None and not (isinstance(pool, str) and _POOL.match(pool)):
        raise InputError(f"{at}: promo_pool = {pool!r}; name a pool of promo codes (`retainly email codes list`)")
    for key, value in (("subject", subject), ("text", text), ("html", html)):
        if value is not None:
            _check_template(value, f"{at}: {key}", with_code=pool is not None)
    feedback = step.get("feedback", False)
    if not isinstance(feedback, bool):
        raise InputError(f"{at}: feedback = {feedback!r}; give true (ask for a 0-10 score) or false")
    return Step(_int(step, "after_days", 0, at), action, channels, subject, text, step.get("offer"), html, feedback,
                pool, export)


def _export_of(step: dict, action: str, channels: tuple[str, ...], at: str) -> str | None:
    """The export an export step names; only an export step names one, and only it uses channel export."""
    export = step.get("export")
    if action != "export":
        if export is not None:
            raise InputError(f"{at}: export = {export!r} belongs to a step of action export; remove it or make "
                             "the action export")
        if "export" in channels:
            raise InputError(f"{at}: channel export is for steps of action export; choose another channel")
        return None
    if channels != ("export",):
        raise InputError(f"{at}: an export step goes through channel export alone, not {', '.join(channels)}; "
                         "leave channels out")
    if not isinstance(export, str) or not _EXPORT_NAME.match(export):
        raise InputError(f"{at}: export = {export!r}; an export step names the export its customers go to "
                         "(letters, digits, '_' and '-'; `retainly exports list`)")
    return export


def _check_template(text, where: str, with_code: bool = False) -> None:
    """A step's subject, text or html must be a Jinja2 template that parses and names only the
    values a message may say (``MESSAGE_VALUES``, and ``promo_code`` when the step has a pool):
    it is rendered per customer."""
    if not isinstance(text, str):
        raise InputError(f"{where} = {text!r}; give the message as text")
    environment = Environment()
    try:
        parsed = environment.parse(text)
    except TemplateSyntaxError as error:
        problem = (error.message or "not a template").rstrip(".")
        raise InputError(f"{where}: line {error.lineno}: {problem}; write values as {{{{ first_name }}}}, "
                         "see docs/playbooks.md") from None
    named = meta.find_undeclared_variables(parsed)
    if PROMO_CODE in named and not with_code:
        raise InputError(f"{where}: names `{PROMO_CODE}`; give the step a promo_pool to take the codes from")
    unknown = sorted(named - set(MESSAGE_VALUES) - {PROMO_CODE})
    if unknown:
        line = next((number for number, words in enumerate(text.splitlines(), start=1)
                     if re.search(rf"\b{re.escape(unknown[0])}\b", words)), 1)
        raise InputError(f"{where}: line {line}: unknown value `{unknown[0]}`; a message may name "
                         f"{', '.join(MESSAGE_VALUES)}") from None


def from_json(data: dict, where: str | None = None) -> Playbook:
    """A playbook from its JSON form, checked; errors name the playbook and the key at fault."""
    name = data.get("name") if isinstance(data, dict) else None
    where = where or f"playbook {name!r}"
    if not isinstance(data, dict) or not isinstance(name, str) or not name:
        raise InputError(f"{where}: a playbook is an object with at least name, title, trigger and steps")
    known = {"name", "title", "description", "advice", "trigger", "condition", "steps", "goal_days",
             "holdout_share", "reentry", "priority", "marketing", "active_from", "active_to", "enabled"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"{where}: unknown keys {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    raw = data.get("trigger") or {}
    kind = raw.get("kind")
    if kind not in TRIGGERS:
        raise InputError(f"{where}: trigger kind {kind!r} is unknown; use one of {', '.join(TRIGGERS)}")
    rule = None if raw.get("rule") is None else rule_from_json(raw["rule"], f"{where} trigger.rule")
    if kind in ("audience", "schedule") and rule is None:
        raise InputError(f"{where}: a {kind} trigger needs a rule (who enters)")
    delay_from = raw.get("delay_from")
    if delay_from not in (None, "second_order_gap"):
        raise InputError(f"{where}: trigger delay_from {delay_from!r} is unknown; use second_order_gap or leave it out")
    trigger = Trigger(kind, rule, _int(raw, "delay_days", 0, f"{where} trigger"),
                      _int(raw, "days_before", 0, f"{where} trigger"),
                      _int(raw, "every_days", 7, f"{where} trigger", low=1), delay_from)
    steps = tuple(_step(step, f"{where} step {n + 1}") for n, step in enumerate(data.get("steps") or []))
    if not steps:
        raise InputError(f"{where}: give at least one step")
    share = data.get("holdout_share", 0.1)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share < 1:
        raise InputError(f"{where}: holdout_share = {share!r}; give a share from 0 up to (not including) 1")
    reentry = str(data.get("reentry", "once"))
    if reentry not in ("once", "each") and not (reentry.startswith("every:") and reentry[6:].isdigit()
                                                 and int(reentry[6:]) > 0):
        raise InputError(f"{where}: reentry = {reentry!r}; use once, each or every:N (N days)")
    condition = None if data.get("condition") is None else rule_from_json(data["condition"], f"{where} condition")
    return Playbook(
        name=name, title=str(data.get("title") or name), trigger=trigger, steps=steps,
        description=str(data.get("description") or ""), advice=str(data.get("advice") or ""),
        condition=condition, goal_days=_int(data, "goal_days", 30, where, low=1), holdout_share=float(share),
        reentry=reentry, priority=_int(data, "priority", 50, where), marketing=bool(data.get("marketing", True)),
        active_from=_date(data.get("active_from"), f"{where} active_from"),
        active_to=_date(data.get("active_to"), f"{where} active_to"), enabled=bool(data.get("enabled", False)))
