"""`retainly sites add|list|revoke`: the public keys of the site snippet (docs/api.md, "The site snippet")."""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.output import after_commit, console, print_csv, print_json, print_rows
from retainly.services.sites import SiteKey

sites_app = typer.Typer(help="Site keys for the site snippet that sends visits and cart events (docs/api.md).",
                        no_args_is_help=True)
app.add_typer(sites_app, name="sites")

PLACEHOLDER_URL = "https://RETAINLY-SERVER"


def _verbatim(text: str) -> None:
    """``text`` exactly, never wrapped nor styled: it is to be copied into a page."""
    console.print(text, soft_wrap=True, markup=False, highlight=False, emoji=False)


@sites_app.command("add")
def add(
    origins: Annotated[list[str], typer.Option("--origin", help="An origin the shop's pages are served from, "
                                               "e.g. https://shop.example; repeat for each.")],
    name: Annotated[Optional[str], typer.Option("--name", help="Which site it is.")] = None,
    server_url: Annotated[Optional[str], typer.Option("--server-url", help="The public address of `retainly "
                                                      "serve` (behind its proxy), for the snippet.")] = None,
) -> None:
    """Make a site key and print it with the snippet to paste into the shop's pages.

    The key is public (it is in every page); the server takes it only from the origins given.
    Example: retainly sites add --origin https://shop.example --origin https://www.shop.example
    """
    with open_workspace() as ws:
        site = ws.sites.add(origins, name)
        snippet = ws.sites.snippet(site.site_key, server_url or PLACEHOLDER_URL)
    with after_commit(f"site key {site.site_id}"):
        console.print(f"created site key {site.site_id}{f' ({name})' if name else ''}, taken from "
                      f"{', '.join(site.origins)}:", markup=False, highlight=False)
        _verbatim(site.site_key)
        console.print("Paste this into every page of the shop, before </head>:", markup=False)
        for line in snippet.splitlines():
            _verbatim(line)
        if not server_url:
            console.print(f"Replace {PLACEHOLDER_URL} with the address the server is reached at (or pass "
                          "--server-url).", markup=False)


def _flat(rows: list[SiteKey]) -> list[dict]:
    return [{**row.to_dict(), "origins": " ".join(row.origins)} for row in rows]


@sites_app.command("list")
def list_sites(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Every site key, revoked ones too, with the origins it is taken from.

    Example: retainly sites list
    """
    with open_workspace(read_only=True) as ws:
        rows = ws.sites.list()
    if as_json:
        print_json(rows)
    elif as_csv:
        print_csv(_flat(rows), columns=[f.name for f in fields(SiteKey)])
    else:
        print_rows("site keys", _flat(rows))


@sites_app.command("revoke")
def revoke(site_id: Annotated[int, typer.Argument(help="The site key's id (see `retainly sites list`).",
                                                  metavar="SITE_ID")]) -> None:
    """Revoke a site key for good: the snippet's events with it are refused from then on.

    Example: retainly sites revoke 2
    """
    with open_workspace() as ws:
        site = ws.sites.revoke(site_id)
    with after_commit(f"the revocation of site key {site_id}"):
        console.print(f"revoked site key {site.site_id}{f' ({site.name})' if site.name else ''} as of "
                      f"{site.revoked_at}", markup=False, highlight=False)
