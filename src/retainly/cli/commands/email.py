"""`retainly email preview|test|bounces`: a step's email shown or test-sent, and the bounce mailbox read
(docs/email.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.commands.audiences import AsOf
from retainly.cli.commands.measure import day
from retainly.cli.output import after_commit, console, print_csv, print_json, print_rows
from retainly.errors import InputError

email_app = typer.Typer(help="Email: preview and test a step's message; read bounce reports (docs/email.md).",
                        no_args_is_help=True)
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


Playbook = Annotated[str, typer.Argument(help="The playbook (see `retainly playbooks list`).", metavar="PLAYBOOK")]
Customer = Annotated[str, typer.Argument(help="The customer, by the shop's id.", metavar="CUSTOMER")]
Step = Annotated[int, typer.Option("--step", help="Which step of the playbook, from 1.")]


@email_app.command("preview")
def preview(
    playbook: Playbook,
    customer: Customer,
    step: Step = 1,
    as_of: AsOf = None,
    html: Annotated[Optional[Path], typer.Option("--html", help="Also write the HTML part to this file, to "
                                                 "open in a browser.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (the HTML included).")] = False,
) -> None:
    """Show a step's email as a run would send it to one customer: address, subject and text.

    Its unsubscribe link is inert. Example: retainly email preview win-back-60 C1042 --html preview.html
    """
    with open_workspace() as ws:
        shown = ws.email.preview(playbook, customer, step, day(as_of, "--as-of"))
    if html is not None:
        html.write_text(shown.html, encoding="utf-8")
    if as_json:
        print_json(shown)
        return
    reach = shown.channel if shown.channel else f"nobody: {shown.refused}"
    lines = [f"To: {shown.to or '(no address)'}   (a run would use: {reach})", f"Subject: {shown.subject}", "",
             *shown.text.rstrip().split("\n")]
    if html is not None:
        lines += ["", f"The HTML part is in {html}"]
    for line in lines:  # one at a time: the console shows a line's control characters, not a newline's effect
        console.print(line, markup=False, highlight=False)


@email_app.command("test")
def send_test(
    playbook: Playbook,
    customer: Customer,
    to: Annotated[str, typer.Option("--to", help="The address to send the test to (yours).")],
    step: Step = 1,
    as_of: AsOf = None,
) -> None:
    """Send a step's email for one customer to your own address, through the SMTP settings.

    Nothing goes to the outbox; the subject says [test].
    Example: retainly email test win-back-60 C1042 --to me@shop.example
    """
    with open_workspace() as ws:
        sent = ws.email.send_test(playbook, customer, to, step, day(as_of, "--as-of"))
    if sent.status != "sent":
        raise InputError(f"the test to {to} was not sent: {sent.detail}", parameter="to")
    console.print(f"sent to {to}: {sent.detail}", markup=False, highlight=False)


codes_app = typer.Typer(help="Promo codes: pools of codes that messages give out, one per customer (docs/email.md).",
                        no_args_is_help=True)
email_app.add_typer(codes_app, name="codes")


@codes_app.command("add")
def add_codes(
    pool: Annotated[str, typer.Argument(help="The pool's name (a step's promo_pool).", metavar="POOL")],
    file: Annotated[Optional[Path], typer.Option("--file", help="The shop's codes: one a line, or a CSV's "
                                                 "first column.")] = None,
    generate: Annotated[int, typer.Option("--generate", help="Generate this many new codes instead.")] = 0,
    prefix: Annotated[str, typer.Option("--prefix", help="Generated codes start with this.")] = "",
    out: Annotated[Optional[Path], typer.Option("--out", help="Where to write the generated codes, for the "
                                                "shop system to take.")] = None,
) -> None:
    """Fill a pool with the shop's codes, or with generated ones; all or none.

    Example: retainly email codes add winback10 --generate 5000 --prefix WB- --out winback10.txt
    """
    with open_workspace() as ws:
        found = ws.email.add_codes(pool, file, generate, prefix, out)
    with after_commit(f"the codes of pool {pool}"):
        console.print(f"pool {found.pool}: {found.codes:,} codes, {found.given:,} given, {found.free:,} free"
                      + (f"; the new codes are in {out}" if generate else ""), markup=False, highlight=False)


@codes_app.command("list")
def list_codes(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Each pool of promo codes: its codes, those given and those free.

    Example: retainly email codes list
    """
    with open_workspace(read_only=True) as ws:
        rows = ws.email.code_pools()
    if as_json:
        print_json(rows)
    elif as_csv:
        print_csv(rows, columns=["pool", "codes", "given", "free"])
    else:
        print_rows("promo code pools", rows)
