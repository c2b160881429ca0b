"""`retainly tasks ...`: managers' call-back tasks: the queue, outcomes, assignment, the team's figures
and the morning digest (docs/tasks.md)."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.commands.audiences import Csv, Json
from retainly.cli.commands.measure import day
from retainly.cli.output import console, print_csv, print_json, print_rows
from retainly.errors import InputError
from retainly.results.tasks import ManagerFigures, ManagerInfo, TaskDetail, TaskItem

tasks_app = typer.Typer(help="Managers' call-back tasks (docs/tasks.md).", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")

TaskId = Annotated[int, typer.Argument(help="The task's number (see `retainly tasks list`).", metavar="TASK")]
By = Annotated[Optional[str], typer.Option("--by", help="Who you are: your email as a user of the web app.")]
_LIST = ["task_id", "queue", "priority", "due_at", "customer", "name", "phone", "owner", "state", "outcome",
         "attempts", "reason"]


def moment(text: str | None, option: str) -> datetime | None:
    """A YYYY-MM-DD[THH:MM] option value as a local time, or a one-line error naming the option."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{option} {text!r}: give a date and time as YYYY-MM-DDTHH:MM (the shop's local time)",
                         parameter=option.lstrip("-").replace("-", "_")) from None


def _print_detail(detail: TaskDetail, as_json: bool) -> None:
    if as_json:
        print_json(detail)
        return
    task = detail.task
    console.print(f"task {task.task_id} ({task.state}{f', {task.outcome}' if task.outcome else ''}): "
                  f"{task.name or task.customer} ({task.customer}), {task.phone or 'no phone'}")
    console.print(f"  {task.priority}, due {task.due_at:%Y-%m-%d %H:%M}, owner {task.owner or 'nobody yet'}")
    console.print(f"  {task.reason}")
    if detail.attempts:
        print_rows("attempts", detail.attempts)
    if detail.follow_up is not None:
        console.print(f"follow-up task {detail.follow_up} made for the call back")


@tasks_app.command("list")
def list_tasks(
    owner: Annotated[Optional[str], typer.Option("--owner", help="One manager's tasks (their email).")] = None,
    queue: Annotated[Optional[str], typer.Option("--queue", help="overdue, today or upcoming.")] = None,
    state: Annotated[str, typer.Option("--state", help="open, done or cancelled.")] = "open",
    customer: Annotated[Optional[str], typer.Option("--customer", help="One customer's (the shop's id).")] = None,
    as_json: Json = False, as_csv: Csv = False,
) -> None:
    """Tasks, most pressing first: overdue, due today, upcoming.

    Example: retainly tasks list --owner ana@example.com --queue today
    """
    with open_workspace(read_only=True) as ws:
        found = ws.tasks.queue(owner, queue, state, customer)
    if as_json:
        print_json(found)
    elif as_csv:
        print_csv(found, columns=[f.name for f in fields(TaskItem)])
    else:
        print_rows("Tasks", [{name: getattr(t, name) for name in _LIST} for t in found])


@tasks_app.command("show")
def show(task_id: TaskId, as_json: Json = False) -> None:
    """One task, with every outcome logged on it.

    Example: retainly tasks show 12
    """
    with open_workspace(read_only=True) as ws:
        detail = ws.tasks.show(task_id)
    _print_detail(detail, as_json)


@tasks_app.command("add")
def add(
    customer: Annotated[str, typer.Argument(help="The customer (the shop's id).")],
    reason: Annotated[str, typer.Option("--reason", help="Why the customer should be called.")],
    due: Annotated[Optional[str], typer.Option("--due", help="When: YYYY-MM-DDTHH:MM (default: in "
                                               "[tasks] due_hours).")] = None,
    priority: Annotated[str, typer.Option("--priority", help="urgent, high, normal or low.")] = "normal",
    owner: Annotated[Optional[str], typer.Option("--owner", help="Give it to this manager (email); "
                                                 "default: by the assignment rule.")] = None,
    offer: Annotated[Optional[str], typer.Option("--offer", help="What the manager may offer.")] = None,
    by: By = None, as_json: Json = False,
) -> None:
    """Make a task by hand.

    Example: retainly tasks add C0001013 --reason "Asked for a call about the warranty" --priority high
    """
    with open_workspace() as ws:
        detail = ws.tasks.add(customer, reason, due_at=moment(due, "--due"), priority=priority, owner=owner,
                              offer=offer, by=by)
    _print_detail(detail, as_json)


@tasks_app.command("log")
def log(
    task_id: TaskId,
    outcome: Annotated[str, typer.Argument(help="reached, no_answer, call_back, not_interested or ordered.")],
    note: Annotated[Optional[str], typer.Option("--note", help="What was said.")] = None,
    call_back_at: Annotated[Optional[str], typer.Option("--call-back-at", help="For call_back: when, as "
                                                        "YYYY-MM-DDTHH:MM.")] = None,
    by: By = None, as_json: Json = False,
) -> None:
    """Log what came of a call; a call back makes the follow-up task.

    Example: retainly tasks log 12 call_back --call-back-at 2026-12-04T15:00 --note "In a meeting" --by ana@example.com
    """
    with open_workspace() as ws:
        detail = ws.tasks.log(task_id, outcome, note=note, call_back_at=moment(call_back_at, "--call-back-at"), by=by)
    _print_detail(detail, as_json)


@tasks_app.command("cancel")
def cancel(task_id: TaskId, as_json: Json = False) -> None:
    """Cancel an open task: nobody needs to call.

    Example: retainly tasks cancel 12
    """
    with open_workspace() as ws:
        detail = ws.tasks.cancel(task_id)
    _print_detail(detail, as_json)


@tasks_app.command("reassign")
def reassign(task_id: TaskId, owner: Annotated[str, typer.Argument(help="The manager's email.")],
             as_json: Json = False) -> None:
    """Give an open task to another manager.

    Example: retainly tasks reassign 12 ben@example.com
    """
    with open_workspace() as ws:
        detail = ws.tasks.reassign(task_id, owner)
    _print_detail(detail, as_json)


@tasks_app.command("assign")
def assign() -> None:
    """Give out the open tasks nobody has, and those of managers away today (`retainly run` does it too).

    Example: retainly tasks assign
    """
    with open_workspace() as ws:
        given = ws.tasks.assign()
    console.print(f"{given} task{'s' if given != 1 else ''} given to managers")


@tasks_app.command("managers")
def managers(as_json: Json = False, as_csv: Csv = False) -> None:
    """The managers, with their daily limits, regions, segments, absences and open tasks.

    Example: retainly tasks managers
    """
    with open_workspace(read_only=True) as ws:
        found = ws.tasks.managers()
    if as_json:
        print_json(found)
    elif as_csv:
        print_csv(found, columns=[f.name for f in fields(ManagerInfo)])
    else:
        print_rows("Managers", found)


@tasks_app.command("manager")
def manager(
    email: Annotated[str, typer.Argument(help="The manager's email.")],
    daily_limit: Annotated[Optional[int], typer.Option("--daily-limit", help="New tasks a day at most.")] = None,
    regions: Annotated[Optional[str], typer.Option("--regions", help="Countries covered, comma-separated "
                                                   "(for assign = \"region\"); empty: any.")] = None,
    segments: Annotated[Optional[str], typer.Option("--segments", help="RFM segments covered, comma-separated "
                                                    "(for assign = \"segment\"); empty: any.")] = None,
    away_from: Annotated[Optional[str], typer.Option("--away-from", help="First day away, YYYY-MM-DD.")] = None,
    away_until: Annotated[Optional[str], typer.Option("--away-until", help="Last day away, YYYY-MM-DD.")] = None,
    back: Annotated[bool, typer.Option("--back", help="Clear the absence.")] = False,
    as_json: Json = False,
) -> None:
    """Change what assignment knows of a manager; their tasks move while they are away.

    Example: retainly tasks manager ana@example.com --away-from 2026-12-20 --away-until 2027-01-04
    """
    with open_workspace() as ws:
        info = ws.tasks.set_manager(email, daily_limit=daily_limit, regions=regions, segments=segments,
                                    away_from=day(away_from, "--away-from"), away_until=day(away_until, "--away-until"),
                                    back=back)
    if as_json:
        print_json(info)
    else:
        print_rows("Manager", [info])


@tasks_app.command("team")
def team(
    days: Annotated[int, typer.Option("--days", help="The period: the last N days.")] = 30,
    as_json: Json = False, as_csv: Csv = False,
) -> None:
    """The supervisor's view: per manager, open, overdue and done tasks, time to first attempt,
    reach rate, and the orders after calls that reached the customer.

    Example: retainly tasks team --days 7
    """
    with open_workspace(read_only=True) as ws:
        found = ws.tasks.supervise(days)
    if as_json:
        print_json(found)
    elif as_csv:
        print_csv(found, columns=[f.name for f in fields(ManagerFigures)])
    else:
        print_rows(f"Managers, the last {days} days", found)


@tasks_app.command("digest")
def digest() -> None:
    """Email each manager today's digest now (once a day; `retainly run` sends it too).

    Example: retainly tasks digest
    """
    with open_workspace() as ws:
        sent = ws.tasks.digest()
    console.print("digests: " + (", ".join(f"{n} {status}" for status, n in sorted(sent.items())) or "no managers"))
