"""`retainly users add|list|password|disable|unlock`: the people who log in to the web app (docs/web.md)."""

from __future__ import annotations

import sys
from dataclasses import fields
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.output import after_commit, console, print_csv, print_json, print_rows
from retainly.errors import InputError
from retainly.services.users import ROLES, User

users_app = typer.Typer(help="Users of the web app (`retainly serve`, docs/web.md).", no_args_is_help=True)
app.add_typer(users_app, name="users")

Email = Annotated[str, typer.Argument(help="The email the user logs in with.", metavar="EMAIL")]


def _password(from_stdin: bool) -> str:
    """The new password: the first line of standard input with --password-stdin, else asked twice
    on the terminal without echo. Never an option: it would stay in the shell's history."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InputError("no terminal to ask for the password on: pipe it in with `password_stdin`",
                         parameter="password_stdin")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def add(
    email: Email,
    role: Annotated[str, typer.Option("--role", help=f"What the user may see: {', '.join(ROLES)} (docs/web.md).")],
    name: Annotated[Optional[str], typer.Option("--name", help="The user's name, shown in the web app.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from the first line "
                                                 "of standard input (for scripts) instead of asking.")] = False,
) -> None:
    """Add a user of the web app; the password is asked for (twice, not shown) and stored hashed.

    Example: retainly users add ana@example.com --role analyst --name "Ana Silva"
    """
    password = _password(password_stdin)
    with open_workspace() as ws:
        user = ws.users.add(email, role, password, name)
    with after_commit(f"user {user.email}"):
        console.print(f"added user {user.user_id}: {user.email} (role {user.role}"
                      f"{f', {user.name}' if user.name else ''}); they can log in to `retainly serve` now")


@users_app.command("list")
def list_users(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Every user, disabled ones too, with their role, lock-out and last login (never a password).

    Example: retainly users list
    """
    with open_workspace(read_only=True) as ws:
        rows = ws.users.list()
    if as_json:
        print_json(rows)
    elif as_csv:
        print_csv(rows, columns=[f.name for f in fields(User)])
    else:
        print_rows("Users", rows)


@users_app.command("disable")
def disable(email: Email) -> None:
    """Disable a user for good: they are logged out and cannot log in again.

    Example: retainly users disable ana@example.com
    """
    with open_workspace() as ws:
        user = ws.users.disable(email)
    with after_commit(f"disabling {user.email}"):
        console.print(f"disabled user {user.user_id}: {user.email} as of {user.disabled_at}; they are logged out")


@users_app.command("unlock")
def unlock(email: Email) -> None:
    """Let a user log in again after 5 wrong passwords in a row locked them out (for 15 minutes).

    Example: retainly users unlock ana@example.com
    """
    with open_workspace() as ws:
        user = ws.users.unlock(email)
    with after_commit(f"unlocking {user.email}"):
        console.print(f"unlocked user {user.user_id}: {user.email}; their count of wrong passwords is back to 0")


@users_app.command("password")
def password(
    email: Email,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the new password from the first "
                                                 "line of standard input (for scripts) instead of asking.")] = False,
) -> None:
    """Give a user a new password (asked twice, not shown): they are logged out everywhere and any
    lock-out is lifted.

    Example: retainly users password ana@example.com
    """
    new_password = _password(password_stdin)
    with open_workspace() as ws:
        user = ws.users.set_password(email, new_password)
    with after_commit(f"the new password of {user.email}"):
        console.print(f"set a new password for user {user.user_id}: {user.email}; they are logged out everywhere")
