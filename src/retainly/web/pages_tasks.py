"""The Tasks pages: a manager's queue, one task and its outcomes, the team's figures (docs/web.md).

``/tasks`` is the user's queue in three sections (overdue, due today, upcoming); analysts and
admins see every task and choose whose (all, nobody yet, one manager). ``/tasks/{id}`` shows a
task with its attempts and the forms to log an outcome, cancel it and (analysts, admins)
reassign it. ``/tasks/team`` is the supervisor's view with the managers' settings. The
customer's page lists their open tasks and makes one (``customer_tasks``, ``POST
/customers/{id}/tasks``). Each page's data is its JSON twin's service call (routes_tasks);
every form is a POST with the session's CSRF token that answers 303 to a page.

A manager works their own tasks and those nobody has yet (a task waiting for a free manager
may be picked up); another manager's task they may read, not log on or cancel.
"""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from retainly.errors import RetainlyError
from retainly.results.tasks import TaskItem
from retainly.results.users import SessionUser
from retainly.services.tasks import OUTCOMES, PRIORITIES, QUEUES
from retainly.web.auth import SUPERVISE_TASKS, WORK_TASKS
from retainly.web.render import error_page, render
from retainly.web.routes_tasks import LONGEST_TEXT, NOBODY, read_queue
from retainly.web.session import CSRF_FIELD, page_user, require_csrf
from retainly.web.shop import shop
from retainly.workspace import Workspace

router = APIRouter(include_in_schema=False)
QUEUE_MOST = 500  # the queue page's tasks, as the service reads by default
SECTIONS = dict(zip(QUEUES, ("Overdue", "Due today", "Upcoming")))
PERIODS = (7, 30, 90)
_LONGEST_EMAIL = 320


class FormProblem(ValueError):
    """A form's value that is not what the field takes: a 422 page saying so, nothing done."""


def supervises(user: SessionUser) -> bool:
    return user.role == "admin" or user.role in SUPERVISE_TASKS


def may_work(user: SessionUser, task: TaskItem) -> bool:
    """Whether ``user`` may log on or cancel ``task``: see the module's doc."""
    return supervises(user) or task.owner is None or task.owner.lower() == user.email.lower()


def _task_number(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < int(text) <= 10**15 else None


def _moment(text: str, label: str) -> datetime | None:
    """A datetime-local field's value (YYYY-MM-DDTHH:MM, the shop's time), or None when empty."""
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise FormProblem(f"{label} {text[:40]!r} is not a date and time: give it as YYYY-MM-DDTHH:MM") from None


def _day(text: str, label: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FormProblem(f"{label} {text[:40]!r} is not a day: give it as YYYY-MM-DD") from None


def _text(form, name: str, longest: int = LONGEST_TEXT) -> str:
    value = str(form.get(name, "")).replace("\x00", "").strip()  # the store takes no NUL byte
    if len(value) > longest:
        raise FormProblem(f"the {name.replace('_', ' ')} is {len(value)} characters long; keep it to {longest}")
    return value


async def _form(request: Request, roles: tuple[str, ...]) -> tuple[SessionUser, dict]:
    """The user (allowed ``roles``) and the form they sent, its CSRF token checked first."""
    user = page_user(request, roles)
    form = await request.form()
    require_csrf(str(form.get(CSRF_FIELD, "")), user.csrf_token)
    return user, form


def _failed(request: Request, user: SessionUser, problem: Exception) -> Response:
    return error_page(request, user, getattr(problem, "http_status", 422), str(problem))


def _said(ws: Workspace, task: str, done: str, follow_up: str) -> str | None:
    """The one-line confirmation after a form: what was done to which task, and the follow-up."""
    number, after = _task_number(task), _task_number(follow_up)
    if number is None or done not in ("logged", "cancelled"):
        return None
    try:
        detail = ws.tasks.show(number)
        made = ws.tasks.show(after).task if after is not None else None
    except RetainlyError:
        return None
    t = detail.task
    who = f"task {t.task_id} ({t.name or t.customer})"
    if done == "cancelled":
        return f"Cancelled {who}."
    said = f"Logged {(t.outcome or 'the call').replace('_', ' ')} on {who}."
    if made is not None:
        return f"{said} Follow-up task {made.task_id} made, due {made.due_at:%Y-%m-%d %H:%M}."
    if t.state == "open":
        return f"{said} It stays in the queue, due again {t.due_at:%Y-%m-%d %H:%M}."
    return f"{said} The task is {t.state}."


@router.get("/tasks")
def queue(request: Request, owner: str = "", task: str = "", done: str = "", follow_up: str = "") -> Response:
    user = page_user(request, WORK_TASKS)
    supervisor = supervises(user)
    if len(owner) > _LONGEST_EMAIL:
        return error_page(request, user, 422, f"the owner is {len(owner)} characters long; choose one from the list")
    whose = (owner.strip() or None) if supervisor else user.email
    try:
        with shop(request).use() as ws:
            found = read_queue(ws, whose, None, "open", None, QUEUE_MOST)
            managers = ws.tasks.managers() if supervisor else []
            said = _said(ws, task, done, follow_up)
    except RetainlyError as problem:
        return _failed(request, user, problem)
    grouped = {key: [(index, item) for index, item in enumerate(found) if item.queue == key] for key in QUEUES}
    twin = "/api/v1/tasks?" + urlencode({**({"owner": whose} if whose else {}), "limit": QUEUE_MOST})
    return render(request, "tasks.j2", user, grouped=grouped, sections=SECTIONS, supervisor=supervisor,
                  managers=managers, owner=whose or "", nobody=NOBODY, said=said, twin=twin, listed=len(found),
                  most=QUEUE_MOST)


@router.get("/tasks/team")
def team(request: Request, days: str = "30") -> Response:
    user = page_user(request, SUPERVISE_TASKS)
    if not days.isdigit() or not 1 <= int(days) <= 3650:
        return error_page(request, user, 422, f"the period {days[:40]!r} is not a number of days from 1 to 3650")
    try:
        with shop(request).use() as ws:
            figures = ws.tasks.supervise(int(days))
            managers = ws.tasks.managers()
            flag_days, order_days = ws.settings.tasks.overdue_flag_days, ws.settings.tasks.order_days
    except RetainlyError as problem:
        return _failed(request, user, problem)
    return render(request, "tasks_team.j2", user, figures=figures, managers=managers, days=int(days),
                  periods=PERIODS, flag_days=flag_days, order_days=order_days,
                  twin=f"/api/v1/tasks/team?days={days}", managers_twin="/api/v1/tasks/managers")


@router.post("/tasks/team/managers")
async def set_manager(request: Request) -> Response:
    """A manager's daily limit and absence, from the team page's form."""
    user, form = await _form(request, SUPERVISE_TASKS)
    try:
        limit = _text(form, "daily_limit", 9)
        if limit and not limit.isdigit():
            raise FormProblem(f"the daily limit {limit!r} is not a whole number from 0")
        with shop(request).use() as ws:
            ws.tasks.set_manager(_text(form, "email", _LONGEST_EMAIL), daily_limit=int(limit) if limit else None,
                                 away_from=_day(_text(form, "away_from", 40), "the first day away"),
                                 away_until=_day(_text(form, "away_until", 40), "the last day away"),
                                 back=form.get("back") == "yes")
    except (FormProblem, RetainlyError) as problem:
        return _failed(request, user, problem)
    days = _text(form, "days", 4)
    return RedirectResponse(f"/tasks/team?days={days if days.isdigit() else 30}", status_code=303)


@router.get("/tasks/{task_id}")
def task_page(request: Request, task_id: str, made: str = "") -> Response:
    user = page_user(request, WORK_TASKS)
    number = _task_number(task_id)
    if number is None:
        return error_page(request, user, 404, f"no task {task_id[:40]!r}: a task's number is a whole number")
    try:
        with shop(request).use() as ws:
            detail = ws.tasks.show(number)
            managers = ws.tasks.managers() if supervises(user) else []
    except RetainlyError as problem:
        return _failed(request, user, problem)
    return render(request, "task.j2", user, d=detail, t=detail.task, outcomes=OUTCOMES, managers=managers,
                  may_work=detail.task.state == "open" and may_work(user, detail.task),
                  may_reassign=detail.task.state == "open" and supervises(user), made=made == "yes",
                  twin=f"/api/v1/tasks/{number}")


async def _on_task(request: Request, task_id: str, roles: tuple[str, ...]):
    """The user, the form and the task a task's form is about, once the user may act on it."""
    user, form = await _form(request, roles)
    number = _task_number(task_id)
    if number is None:
        return user, form, None, error_page(request, user, 404, f"no task {task_id[:40]!r}")
    try:
        with shop(request).use() as ws:
            found = ws.tasks.show(number).task
    except RetainlyError as problem:
        return user, form, None, _failed(request, user, problem)
    if not may_work(user, found):
        return user, form, None, error_page(request, user, 403, f"task {number} is {found.owner}'s; a manager "
                                                                "logs on their own tasks and on those nobody has yet")
    return user, form, number, None


@router.post("/tasks/{task_id}/outcome")
async def log_outcome(request: Request, task_id: str) -> Response:
    user, form, number, refused = await _on_task(request, task_id, WORK_TASKS)
    if refused is not None:
        return refused
    try:
        outcome = _text(form, "outcome", 40)
        # The call-back field is sent with every outcome (it is only hidden): it counts for call_back alone.
        call_back_at = _moment(_text(form, "call_back_at", 40), "the call-back time") \
            if outcome == "call_back" else None
        with shop(request).use() as ws:
            done = ws.tasks.log(number, outcome, note=_text(form, "note") or None, call_back_at=call_back_at,
                                by=user.email)
    except (FormProblem, RetainlyError) as problem:
        return _failed(request, user, problem)
    follow_up = {"follow_up": done.follow_up} if done.follow_up is not None else {}
    return RedirectResponse("/tasks?" + urlencode({"task": number, "done": "logged", **follow_up}), status_code=303)


@router.post("/tasks/{task_id}/cancel")
async def cancel(request: Request, task_id: str) -> Response:
    user, _form_sent, number, refused = await _on_task(request, task_id, WORK_TASKS)
    if refused is not None:
        return refused
    try:
        with shop(request).use() as ws:
            ws.tasks.cancel(number)
    except RetainlyError as problem:
        return _failed(request, user, problem)
    return RedirectResponse(f"/tasks?task={number}&done=cancelled", status_code=303)


@router.post("/tasks/{task_id}/reassign")
async def reassign(request: Request, task_id: str) -> Response:
    user, form, number, refused = await _on_task(request, task_id, SUPERVISE_TASKS)
    if refused is not None:
        return refused
    try:
        with shop(request).use() as ws:
            ws.tasks.reassign(number, _text(form, "owner", _LONGEST_EMAIL))
    except (FormProblem, RetainlyError) as problem:
        return _failed(request, user, problem)
    return RedirectResponse(f"/tasks/{number}", status_code=303)


def customer_tasks(ws: Workspace, customer: str) -> dict:
    """What the customer's page shows of tasks: their open ones, and the managers for the form."""
    return {"open_tasks": ws.tasks.queue(customer=customer), "managers": ws.tasks.managers(),
            "priorities": PRIORITIES}


@router.post("/customers/{customer_id}/tasks")
async def make_task(request: Request, customer_id: str) -> Response:
    """A task made by hand on the customer's page; then the new task's page."""
    user, form = await _form(request, WORK_TASKS)
    try:
        priority = _text(form, "priority", 20) or "normal"
        with shop(request).use() as ws:
            made = ws.tasks.add(customer_id, _text(form, "reason"), due_at=_moment(_text(form, "due_at", 40),
                                                                                    "the due time"),
                                priority=priority, owner=_text(form, "owner", _LONGEST_EMAIL) or None, by=user.email)
    except (FormProblem, RetainlyError) as problem:
        return _failed(request, user, problem)
    return RedirectResponse(f"/tasks/{quote(str(made.task.task_id))}?made=yes", status_code=303)
