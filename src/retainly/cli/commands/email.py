"""`retainly email bounces`: bounce and complaint reports read from the bounce mailbox (docs/email.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.output import after_commit, print_json, print_rows

email_app = typer.Typer(help="Email: bounce and complaint reports (docs/email.md).", no_args_is_help=True)
app.add_typer(email_app, name="email")


@email_app.command("bounces")
def bounces(
    path: Annotated[Path, typer.Argument(help="The bounce mailbox's export: an mbox file, an .eml file, or a "
                                         "folder of .eml files.", metavar="PATH")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Read bounce and complaint reports; suppress the addresses that bounced hard or complained.

    Each report is kept once: reading the same export again changes nothing. Soft bounces
    suppress an address after `soft_bounce_limit` of them (3, in the settings' actions section).
    Example: retainly email bounces bounces.mbox
    """
    with open_workspace() as ws:
        read = ws.email.read_bounces(path)
    with after_commit(f"the bounce reports of {path}"):
        if as_json:
            print_json(read)
        else:
            print_rows(f"bounce reports in {path}", [read])
