"""`retainly playbooks ...`, `retainly run` and `retainly outbox`: what happens to whom, and the loop
that makes it happen exactly once (docs/playbooks.md)."""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.commands.audiences import AsOf, Csv, Json, _show
from retainly.cli.commands.exports import print_outcome
from retainly.cli.commands.measure import day
from retainly.cli.output import console, print_csv, print_json, print_rows
from retainly.results.actions import MessageResult, OutboxItem, PlaybookSummary

playbooks_app = typer.Typer(help="Playbooks: the retention handbook's tactics (docs/playbooks.md).",
                            no_args_is_help=True)
app.add_typer(playbooks_app, name="playbooks")

Names = Annotated[list[str], typer.Argument(help="Playbook names, or `all`.")]


@playbooks_app.command("list")
def list_playbooks(as_json: Json = False, as_csv: Csv = False) -> None:
    """Every playbook, built-in and the shop's own, highest priority first.

    Example: retainly playbooks list
    """
    with open_workspace(read_only=True) as ws:
        rows = ws.playbooks.list()
    _show(rows, "playbooks", as_json, as_csv, [f.name for f in fields(PlaybookSummary)])


@playbooks_app.command("show")
def show(name: Annotated[str, typer.Argument(help="The playbook's name.")], as_json: Json = False) -> None:
    """One playbook: trigger, condition, steps, goal, holdout, re-entry. `--json` prints the
    definition `playbooks edit --file` takes back.

    Example: retainly playbooks show win-back-180 --json > win-back.json
    """
    with open_workspace(read_only=True) as ws:
        detail = ws.playbooks.show(name)
    if as_json:
        print_json(detail.definition)
        return
    summary = detail.summary
    console.print(f"{summary.name}: {summary.title} ({'enabled' if summary.enabled else 'disabled'})")
    console.print(f"  why: {summary.advice}")
    console.print(f"  trigger: {summary.trigger}; re-entry {summary.reentry}; priority {summary.priority}; "
                  f"holdout {summary.holdout_share:.0%}; goal: an order within {detail.definition['goal_days']} days")
    for number, step in enumerate(detail.definition["steps"], start=1):
        offer = f" (offer: {step['offer']})" if step.get("offer") else ""
        console.print(f"  step {number}, day {step['after_days']}: {step['action']} via "
                      f"{' / '.join(step['channels'])}: {step['text']}{offer}")


@playbooks_app.command("enable")
def enable(names: Names) -> None:
    """Enable playbooks (the next `retainly run` acts on them).

    Example: retainly playbooks enable first-order-thanks win-back-180
    """
    with open_workspace() as ws:
        done = ws.playbooks.enable(names)
    console.print("enabled " + ", ".join(p.name for p in done))


@playbooks_app.command("disable")
def disable(names: Names) -> None:
    """Disable playbooks (their enrolments and outbox rows stay).

    Example: retainly playbooks disable all
    """
    with open_workspace() as ws:
        done = ws.playbooks.disable(names)
    console.print("disabled " + ", ".join(p.name for p in done))


@playbooks_app.command("edit")
def edit(
    name: Annotated[str, typer.Argument(help="The playbook's name (a new name saves a new playbook from --file).")],
    file: Annotated[Optional[str], typer.Option("--file", help="A whole definition: JSON, TOML or YAML.")] = None,
    holdout_share: Annotated[Optional[float], typer.Option("--holdout-share", help="Share held out, 0 to <1.")] = None,
    priority: Annotated[Optional[int], typer.Option("--priority", help="Higher wins when caps bite.")] = None,
    reentry: Annotated[Optional[str], typer.Option("--reentry", help="once, each or every:N.")] = None,
    goal_days: Annotated[Optional[int], typer.Option("--goal-days", help="The goal: an order within N days.")] = None,
) -> None:
    """Change a playbook: a whole definition from a file, or single settings.

    Example: retainly playbooks edit win-back-180 --holdout-share 0.2
    """
    with open_workspace() as ws:
        detail = ws.playbooks.edit(name, file, holdout_share=holdout_share, priority=priority, reentry=reentry,
                                   goal_days=goal_days)
    console.print(f"saved {detail.summary.name}: holdout {detail.summary.holdout_share:.0%}, "
                  f"priority {detail.summary.priority}, re-entry {detail.summary.reentry}")


@app.command("run")
def run(
    as_of: AsOf = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would happen; write and send nothing.")] = False,
    as_json: Json = False, as_csv: Csv = False,
) -> None:
    """Run the enabled playbooks once: enrol, hold out, plan and deliver (made for cron).

    Example: retainly run --dry-run
    """
    with open_workspace() as ws:
        result = ws.playbooks.run(day(as_of, "--as-of"), dry_run)
    rows = [{k: v for k, v in p.to_dict().items() if not k.endswith("_by_reason")} for p in result.playbooks]
    if as_json:
        print_json(result)
        return
    if as_csv:
        print_csv(rows, columns=["playbook", "entered", "held_out", "to_deliver", "capped", "suppressed", "skipped"])
        return
    kind = "dry run (nothing written or sent)" if result.dry_run else f"run {result.run_id}"
    print_rows(f"{kind} as of {result.as_of}", rows)
    reasons = {}
    for outcome in result.playbooks:
        for reason, n in outcome.suppressed_by_reason.items():
            reasons[reason] = reasons.get(reason, 0) + n
    if reasons:
        print_rows("suppressed, by reason", [{"reason": r, "rows": n} for r, n in sorted(reasons.items())])
    if result.delivered:
        console.print("delivered: " + ", ".join(f"{n} {status}" for status, n in sorted(result.delivered.items())))
    if result.tasks is not None and (result.tasks.assigned or result.tasks.digests):
        digests = ", ".join(f"{n} {status}" for status, n in sorted(result.tasks.digests.items()))
        console.print(f"tasks: {result.tasks.assigned} given to managers"
                      + (f"; digests: {digests}" if digests else ""))
    for outcome in result.exports or []:  # only when exports are scheduled
        print_outcome(outcome)


@app.command("outbox")
def outbox(
    status: Annotated[Optional[str], typer.Option("--status", help="queued, sending, sent, failed, unknown, "
                                                  "suppressed or skipped.")] = None,
    playbook: Annotated[Optional[str], typer.Option("--playbook", help="One playbook's rows.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many rows.", min=1)] = 100,
    as_json: Json = False, as_csv: Csv = False,
) -> None:
    """The outbox: one row per playbook step and customer, with its delivery status, newest first.

    Example: retainly outbox --status failed
    """
    with open_workspace(read_only=True) as ws:
        rows = ws.playbooks.outbox(status, playbook, limit)
    _show(rows, "outbox", as_json, as_csv, [f.name for f in fields(OutboxItem)])


@playbooks_app.command("results")
def results(
    name: Annotated[str, typer.Argument(help="A playbook's name, or `all`.")] = "all",
    as_of: AsOf = None, as_json: Json = False, as_csv: Csv = False,
) -> None:
    """What each step's messages brought: delivered, customers who then ordered, their orders and
    revenue (last touch within the playbook's goal window), unsubscribes, bounces, complaints.

    What followed a message, not what it caused: holdouts measure that.
    Example: retainly playbooks results win-back-60
    """
    with open_workspace(read_only=True) as ws:
        rows = ws.playbooks.results(name, day(as_of, "--as-of"))
    _show(rows, "what each step's messages brought", as_json, as_csv, [f.name for f in fields(MessageResult)])
