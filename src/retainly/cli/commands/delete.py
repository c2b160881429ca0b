"""`retainly delete`: orders, customers or returns by id, or a whole import; and the question
both it and `retainly customer erase` ask before changing anything for good."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.output import after_commit, print_json, say
from retainly.errors import InputError
from retainly.services.data import DELETE_KINDS


def ask_first(yes: bool, dry_run: bool, preview, question: str) -> None:
    """Go on only when told to: ``--yes`` (or ``--dry-run``, which changes nothing) says so; on a
    terminal the user is shown ``preview()`` and asked, and "no" ends the command with exit code 1;
    elsewhere (a script, a pipe) the command refuses, since nobody could answer."""
    if yes or dry_run:
        return
    if not sys.stdin.isatty():
        raise InputError("this cannot be undone: add `yes` to go ahead without a question, "
                         "or `dry_run` to see what it would change", parameter="yes")
    preview()
    if typer.confirm(question, default=False):
        return
    say("nothing was changed")
    sys.exit(1)  # typer.Exit's code would be lost: the app runs outside click's standalone mode


@app.command("delete")
def delete_command(
    kind: Annotated[Optional[str], typer.Argument(help=f"What to delete: {', '.join(DELETE_KINDS)}.",
                                                  metavar="KIND", show_default=False)] = None,
    ids: Annotated[Optional[list[str]], typer.Argument(help="The shop's ids of the rows to delete.", metavar="ID...",
                                                       show_default=False)] = None,
    import_id: Annotated[Optional[int], typer.Option("--import", help="Undo import N (see `retainly imports`): "
                                                     "delete everything it wrote.", metavar="N")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Delete without asking (needed when not on a terminal).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be deleted; delete nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was deleted as JSON.")] = False,
) -> None:
    """Delete orders, customers or returns by id, or undo a whole import, in one transaction.

    An order goes with its lines; a customer with their orders, returns, contacts, site events
    and scores; an import with every row it wrote. Unknown ids delete nothing. The deletion is
    recorded in `retainly imports`, and scores, segments and stages are recomputed when next
    asked for. On a terminal it asks first; elsewhere it needs --yes.

    Example: retainly delete orders 581483 581484 --yes
    """
    request = {"kind": kind, "ids": ids or [], "import_id": import_id}
    with open_workspace() as ws:
        ask_first(yes, dry_run, lambda: _report(ws.data.delete(**request, dry_run=True)), "Delete these rows for good?")
        done = ws.data.delete(**request, dry_run=dry_run)
    if done.dry_run:
        print_json(done) if as_json else _report(done)
        return
    with after_commit(f"deletion #{done.ledger_id}"):
        print_json(done) if as_json else _report(done)


def _report(done) -> None:
    what = f"import #{done.import_id}" if done.kind == "import" else f"{done.kind} {', '.join(done.ids)}"
    rows = ", ".join(f"{table.replace('_', ' ')} {count:,}" for table, count in done.rows_removed.items()) or "no rows"
    if done.dry_run:
        say(f"would delete {what}: {rows}")
    else:
        say(f"deleted {what}: {rows} (recorded as #{done.ledger_id} in `retainly imports`)")
    for note in done.notes:
        say(f"  note: {note}")
