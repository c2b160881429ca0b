"""`retainly keys create|list|revoke`: the API keys that let machines call `retainly serve` (docs/api.md)."""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.output import after_commit, console, print_csv, print_json, print_rows
from retainly.services.access import ROLES, ApiKey

keys_app = typer.Typer(help="API keys for the REST API (`retainly serve`, docs/api.md).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def create(
    role: Annotated[str, typer.Option("--role", help=f"What the key may do: {', '.join(ROLES)} (docs/api.md).")],
    name: Annotated[Optional[str], typer.Option("--name", help="Whose key it is or what it is for.")] = None,
) -> None:
    """Make an API key and print its token, once: retainly keeps only a hash of it.

    Example: retainly keys create --role analyst --name "weekly dashboard"
    """
    with open_workspace() as ws:
        key_id, token = ws.keys.create(role, name)
    with after_commit(f"API key {key_id}"):
        console.print(f"created API key {key_id} (role {role}{f', {name}' if name else ''}); its token:")
        console.print(token)
        console.print("The token will not be shown again: store it now. Send it as `Authorization: Bearer <token>`.")


@keys_app.command("list")
def list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Every API key, revoked ones too, with its role and last use (never a token).

    Example: retainly keys list
    """
    with open_workspace(read_only=True) as ws:
        rows = ws.keys.list()
    if as_json:
        print_json(rows)
    elif as_csv:
        print_csv(rows, columns=[f.name for f in fields(ApiKey)])
    else:
        print_rows("API keys", rows)


@keys_app.command("revoke")
def revoke(key_id: Annotated[int, typer.Argument(help="The key's id (see `retainly keys list`).", metavar="KEY_ID")]
           ) -> None:
    """Revoke an API key for good: its token is refused from the next request on.

    Example: retainly keys revoke 3
    """
    with open_workspace() as ws:
        key = ws.keys.revoke(key_id)
    with after_commit(f"the revocation of API key {key_id}"):
        console.print(f"revoked API key {key.key_id} (role {key.role}{f', {key.name}' if key.name else ''}) "
                      f"as of {key.revoked_at}")
