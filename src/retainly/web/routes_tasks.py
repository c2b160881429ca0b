"""Managers' tasks over the API (docs/tasks.md, docs/api.md): the queue, one task, making a task,
logging an outcome, cancelling, reassigning, and the supervisor's figures.

Managers and analysts (and admin) read, make, log and cancel tasks (``WORK_TASKS``); reassigning
and the team's figures and settings are for analysts (``SUPERVISE_TASKS``). An API key belongs to
the shop, not to a person: ``by`` names the user who called (their email), as ``--by`` does on
the command line, and a key may act on any task. Times are the shop's local wall-clock time; one
sent with a zone (``...Z``, ``+02:00``) is taken as that moment in the server's local time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, Field

from retainly.results.tasks import ManagerFigures, ManagerInfo, TaskDetail, TaskItem
from retainly.web.auth import SUPERVISE_TASKS, WORK_TASKS, allow
from retainly.web.pages import Limit, Offset, Page, json_response, page, page_of_read, to_read
from retainly.web.shop import shop
from retainly.workspace import Workspace

tasks = APIRouter(prefix="/tasks", tags=["tasks"])
NOBODY = "nobody"  # the owner filter for the tasks nobody has yet (no email is spelled so)
# The service reads up to a limit; the tasks nobody has are picked from this many open ones.
_READ_MOST = 100_000
LONGEST_TEXT = 2000


def no_nul(value: str | None) -> str | None:
    """Text the store can hold: PostgreSQL text takes no NUL byte."""
    if value is not None and "\x00" in value:
        raise ValueError("contains a NUL byte (\\x00), which the store cannot hold")
    return value


def local_time(value: datetime | None) -> datetime | None:
    """A time as the shop's wall clock: one with a zone is turned into the server's local time."""
    if value is None or value.tzinfo is None:
        return value
    try:
        return value.astimezone().replace(tzinfo=None)
    except (OverflowError, ValueError, OSError):
        raise ValueError("is out of range as a local time") from None


Text = Annotated[str, AfterValidator(no_nul)]
Moment = Annotated[datetime | None, AfterValidator(local_time)]
TaskId = Annotated[int, Path(ge=1, le=10**15, description="The task's number.")]
MaybeText = Annotated[str | None, AfterValidator(no_nul)]


class NewTask(BaseModel):
    """A task made by hand (``retainly tasks add``)."""

    customer: Text = Field(min_length=1, max_length=200, description="The customer, by the shop's id.")
    reason: Text = Field(min_length=1, max_length=LONGEST_TEXT, description="Why the customer should be called.")
    due_at: Moment = Field(None, description="When, local time (default: in `[tasks] due_hours`).")
    priority: Text = Field("normal", max_length=20, description="urgent, high, normal or low.")
    owner: MaybeText = Field(None, max_length=320, description="Give it to this manager (email); default: by "
                                                               "the assignment rule.")
    offer: MaybeText = Field(None, max_length=500, description="What the manager may offer.")
    by: MaybeText = Field(None, max_length=320, description="Who made it (a user's email).")


class LoggedOutcome(BaseModel):
    """What came of a call (``retainly tasks log``)."""

    outcome: Text = Field(max_length=40, description="reached, no_answer, call_back, not_interested or ordered.")
    note: MaybeText = Field(None, max_length=LONGEST_TEXT, description="What was said.")
    call_back_at: Moment = Field(None, description="For call_back: when to call back, local time, after now.")
    by: MaybeText = Field(None, max_length=320, description="Who called (a user's email); the supervisor's "
                                                           "figures count it.")


class Reassignment(BaseModel):
    owner: Text = Field(min_length=1, max_length=320, description="The manager's email.")


def read_queue(ws: Workspace, owner: str | None, queue: str | None, state: str, customer: str | None,
               limit: int) -> list[TaskItem]:
    """The service's queue; ``owner`` ``nobody``: the tasks no manager has yet."""
    if owner != NOBODY:
        return ws.tasks.queue(owner, queue, state, customer, limit)
    return [task for task in ws.tasks.queue(None, queue, state, customer, _READ_MOST) if task.owner is None][:limit]


OwnerQuery = Annotated[str | None, Query(max_length=320, description="One manager's tasks (their email); "
                                                                     f"`{NOBODY}`: those nobody has yet."),
                       AfterValidator(no_nul)]
QueueQuery = Annotated[str | None, Query(max_length=20, description="overdue, today or upcoming."),
                       AfterValidator(no_nul)]
StateQuery = Annotated[str, Query(max_length=20, description="open, done or cancelled."), AfterValidator(no_nul)]
CustomerQuery = Annotated[str | None, Query(max_length=200, description="One customer's tasks (the shop's id)."),
                          AfterValidator(no_nul)]
Days = Annotated[int, Query(ge=1, le=3650, description="The period: the last N days.")]


@tasks.get("", response_model=Page[TaskItem], dependencies=[allow(*WORK_TASKS)])
def task_list(request: Request, owner: OwnerQuery = None, queue: QueueQuery = None, state: StateQuery = "open",
              customer: CustomerQuery = None, limit: Limit = 100, offset: Offset = 0) -> Response:
    """Tasks most pressing first: overdue, due today, upcoming (``retainly tasks list``); ``total`` is
    null while more follow this page."""
    with shop(request).use() as ws:
        found = read_queue(ws, owner, queue, state, customer, to_read(limit, offset))
    return page_of_read(found, limit, offset)


@tasks.get("/team", response_model=Page[ManagerFigures], dependencies=[allow(*SUPERVISE_TASKS)])
def team(request: Request, days: Days = 30, limit: Limit = 100, offset: Offset = 0) -> Response:
    """The supervisor's figures per manager over the last ``days`` days (``retainly tasks team``)."""
    with shop(request).use() as ws:
        rows = ws.tasks.supervise(days)
    return page(rows, limit, offset, days=days)


@tasks.get("/managers", response_model=Page[ManagerInfo], dependencies=[allow(*SUPERVISE_TASKS)])
def managers(request: Request, limit: Limit = 100, offset: Offset = 0) -> Response:
    """The managers, with their daily limits, regions, segments, absences and open tasks."""
    with shop(request).use() as ws:
        rows = ws.tasks.managers()
    return page(rows, limit, offset)


@tasks.get("/{task_id}", response_model=TaskDetail, dependencies=[allow(*WORK_TASKS)])
def task(request: Request, task_id: TaskId) -> Response:
    """One task, with every outcome logged on it (``retainly tasks show``)."""
    with shop(request).use() as ws:
        found = ws.tasks.show(task_id)
    return json_response(found)


@tasks.post("", response_model=TaskDetail, status_code=201, dependencies=[allow(*WORK_TASKS)])
def add(request: Request, body: Annotated[NewTask, Body()]) -> Response:
    """Make a task by hand; it goes to ``owner``, or to a manager by the assignment rule."""
    with shop(request).use() as ws:
        made = ws.tasks.add(body.customer, body.reason, due_at=body.due_at, priority=body.priority,
                            owner=body.owner, offer=body.offer, by=body.by)
    return json_response(made, status_code=201)


@tasks.post("/{task_id}/outcome", response_model=TaskDetail, dependencies=[allow(*WORK_TASKS)])
def log_outcome(request: Request, task_id: TaskId, body: Annotated[LoggedOutcome, Body()]) -> Response:
    """Log what came of a call: stored as the customer's contact; ``call_back`` makes the follow-up
    task (its number in ``follow_up``), ``no_answer`` keeps the task open, due a day later."""
    with shop(request).use() as ws:
        done = ws.tasks.log(task_id, body.outcome, note=body.note, call_back_at=body.call_back_at, by=body.by)
    return json_response(done)


@tasks.post("/{task_id}/cancel", response_model=TaskDetail, dependencies=[allow(*WORK_TASKS)])
def cancel(request: Request, task_id: TaskId) -> Response:
    """Cancel an open task: nobody needs to call."""
    with shop(request).use() as ws:
        done = ws.tasks.cancel(task_id)
    return json_response(done)


@tasks.post("/{task_id}/reassign", response_model=TaskDetail, dependencies=[allow(*SUPERVISE_TASKS)])
def reassign(request: Request, task_id: TaskId, body: Annotated[Reassignment, Body()]) -> Response:
    """Give an open task to another manager, whatever the rule and their daily limit."""
    with shop(request).use() as ws:
        done = ws.tasks.reassign(task_id, body.owner)
    return json_response(done)


ROUTERS = (tasks,)
