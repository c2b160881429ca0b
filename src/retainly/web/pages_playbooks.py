"""The Playbooks pages: the library, switching a playbook on and off, and one playbook whole (docs/web.md).

``/playbooks`` lists every playbook (built-in and the shop's own, highest priority first) with its
advice, trigger in words, whether it is enabled, the customers who entered and were held out, and
its outbox rows by status; its JSON twins are ``GET /api/v1/playbooks`` (``ws.playbooks.list``) and
``GET /api/v1/playbooks/all/activity`` (``ws.playbooks.activity``, counted in the store). ``/playbooks/{name}`` shows one playbook's definition:
trigger, condition, steps with their timing, channels and text, goal, holdout and re-entry; its
twin is ``GET /api/v1/playbooks/{name}`` (``ws.playbooks.show``). Enabling and disabling
(``ws.playbooks.enable``/``disable``) and editing a playbook's timing, text, rules, goal, holdout and
priority (``ws.playbooks.edit``) are POST forms with the session's CSRF token, for the roles of the
API's ``EDIT_ACTIONS``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from retainly.errors import RetainlyError
from retainly.results.users import SessionUser
from retainly.web.auth import EDIT_ACTIONS, READ_FIGURES
from retainly.web.pages_experiments import what_it_added
from retainly.web.render import error_page, render
from retainly.web.session import CSRF_FIELD, page_user, require_csrf, safe_next
from retainly.web.shop import shop

router = APIRouter(include_in_schema=False)
# The outbox's statuses as the pages name them, in the order shown ("sent" is what was delivered).
STATUS_WORDS = (("sent", "delivered"), ("suppressed", "suppressed"), ("queued", "queued"), ("sending", "sending"),
                ("failed", "failed"), ("unknown", "unknown"), ("skipped", "skipped"))


def activity_twin(name: str) -> str:
    return f"/api/v1/playbooks/{quote(name, safe='')}/activity"


def by_playbook(activity: list) -> dict[str, object]:
    return {found.playbook: found for found in activity}


def _failed(request: Request, user: SessionUser, problem: RetainlyError) -> Response:
    return error_page(request, user, problem.http_status, str(problem))


@router.get("/playbooks")
def playbooks(request: Request) -> Response:
    user = page_user(request, READ_FIGURES)
    try:
        with shop(request).use() as ws:
            found = ws.playbooks.list()
            activity = by_playbook(ws.playbooks.activity("all"))
    except RetainlyError as problem:
        return _failed(request, user, problem)
    return render(request, "playbooks.j2", user, playbooks=found, activity=activity, statuses=STATUS_WORDS,
                  activity_twin=activity_twin,
                  may_edit=user.role == "admin" or user.role in EDIT_ACTIONS, twin="/api/v1/playbooks")


def _rule_text(rule) -> str | None:
    """A rule as stored: a one-line expression stays as it is, a tree is shown as compact JSON."""
    if rule is None or isinstance(rule, str):
        return rule
    return json.dumps(rule, ensure_ascii=False)


@router.get("/playbooks/{name}")
def playbook(request: Request, name: str) -> Response:
    user = page_user(request, READ_FIGURES)
    try:
        with shop(request).use() as ws:
            found = ws.playbooks.show(name)
            (activity,) = ws.playbooks.activity(name)
            results = ws.playbooks.results(name, date.today())
            added = what_it_added(ws, name)
    except RetainlyError as problem:
        return _failed(request, user, problem)
    definition = found.definition
    return render(request, "playbook.j2", user, p=found.summary, d=definition,
                  trigger_rule=_rule_text(definition["trigger"].get("rule")),
                  condition=_rule_text(definition.get("condition")),
                  activity=activity, statuses=STATUS_WORDS, activity_twin=activity_twin(name), results=results,
                  results_twin=f"/api/v1/playbooks/{quote(name, safe='')}/results?as_of={date.today().isoformat()}",
                  may_edit=user.role == "admin" or user.role in EDIT_ACTIONS, twin=f"/api/v1/playbooks/{name}",
                  added=added)


def _switch(request: Request, name: str, enable: bool, token: str, back: str) -> Response:
    """Enable or disable ``name`` (the form's token must be the session's), then back to the page."""
    user = page_user(request, EDIT_ACTIONS)
    require_csrf(token, user.csrf_token)
    try:
        with shop(request).use() as ws:
            (ws.playbooks.enable if enable else ws.playbooks.disable)([name])
    except RetainlyError as problem:
        return _failed(request, user, problem)
    return RedirectResponse(safe_next(back or "/playbooks"), status_code=303)


def _whole(form, key: str, label: str) -> int:
    text = str(form.get(key, "")).strip()
    if not text.lstrip("-").isdigit():
        raise ValueError(f"{label} {text!r} is not a whole number")
    return int(text)


def _share(form, key: str) -> float:
    text = str(form.get(key, "")).strip()
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"the holdout share {text!r} is not a number: give a share such as 0.1") from None


def _rule(form, key: str, label: str) -> dict | None:
    """A rule from a form's field: the JSON tree of docs/audiences.md, or nothing when empty."""
    text = str(form.get(key, "")).strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValueError(f"the {label} is not JSON ({exc.msg} at character {exc.pos}): give the rule as the "
                         "JSON tree of docs/audiences.md") from None


def edited(definition: dict, form) -> dict:
    """``definition`` with what the edit form changes: each step's timing, subject and text, the
    rules, goal, holdout and priority. The service checks the whole (``ws.playbooks.edit``)."""
    changed = json.loads(json.dumps(definition))  # a deep copy, as JSON: the definition is plain data
    for number, step in enumerate(changed["steps"], start=1):
        step["after_days"] = _whole(form, f"step{number}_after_days", f"step {number}'s days after entering")
        if step["action"] == "message":
            step["subject"] = str(form.get(f"step{number}_subject", "")).strip() or None
        step["text"] = str(form.get(f"step{number}_text", "")).replace("\r\n", "\n").strip()
    if changed["trigger"].get("rule") is not None:
        changed["trigger"]["rule"] = _rule(form, "trigger_rule", "audience rule")
    changed["condition"] = _rule(form, "condition", "condition")
    changed["goal_days"] = _whole(form, "goal_days", "the goal's days")
    changed["priority"] = _whole(form, "priority", "the priority")
    changed["holdout_share"] = _share(form, "holdout_share")
    return changed


@router.post("/playbooks/{name}/edit")
async def edit(request: Request, name: str) -> Response:
    """Save the edit form's changes to ``name`` (the shop's own copy; enabled or not as it was)."""
    user = page_user(request, EDIT_ACTIONS)
    form = await request.form()
    require_csrf(str(form.get(CSRF_FIELD, "")), user.csrf_token)
    try:
        with shop(request).use() as ws:
            ws.playbooks.edit(name, definition=edited(ws.playbooks.show(name).definition, form))
    except ValueError as problem:  # the form's own, and the service's InputError (a ValueError too)
        return error_page(request, user, getattr(problem, "http_status", 422), str(problem))
    except RetainlyError as problem:
        return _failed(request, user, problem)
    return RedirectResponse(f"/playbooks/{quote(name, safe='')}", status_code=303)


Token = Annotated[str, Form(alias=CSRF_FIELD)]
Back = Annotated[str, Form(description="The page to go back to.")]


@router.post("/playbooks/{name}/enable")
def enable(request: Request, name: str, csrf_token: Token = "", back: Back = "") -> Response:
    return _switch(request, name, True, csrf_token, back)


@router.post("/playbooks/{name}/disable")
def disable(request: Request, name: str, csrf_token: Token = "", back: Back = "") -> Response:
    return _switch(request, name, False, csrf_token, back)
