"""`retainly db status|upgrade`."""

from __future__ import annotations

from typing import Annotated

import typer

from retainly.cli.app import db_app, state
from retainly.cli.output import after_commit, console, print_csv, print_json, print_rows
from retainly.workspace import Workspace


@db_app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV: the pending migrations.")] = False,
) -> None:
    """Show the store's schema version and the migrations it still needs.

    Example: retainly --db shop.duckdb db status
    """
    with Workspace.open_unchecked(state.db, create=False, read_only=True) as ws:
        current = ws.schema.status()
        data = {
            "store": ws.store.url.display(),
            "version": current.version,
            "latest": current.latest,
            "pending": [{"version": m.version, "name": m.name} for m in current.pending],
        }
    if as_json:
        print_json(data)
        return
    if as_csv:
        print_csv(data["pending"], columns=("version", "name"))
        return
    console.print(f"store {data['store']}: schema version {current.version} of {current.latest}")
    if current.pending:
        print_rows("pending migrations (run `retainly db upgrade`)", data["pending"])
    else:
        console.print("up to date")


@db_app.command("upgrade")
def upgrade() -> None:
    """Bring the store's schema up to this retainly's version, in place.

    Each migration runs in its own transaction. Back the store up first.
    Example: retainly --db postgresql://shop@db:5432/shop db upgrade
    """
    with Workspace.open_unchecked(state.db) as ws:
        applied = ws.schema.upgrade()
        version = ws.schema.status().version
    with after_commit(f"the upgrade to schema version {version}"):
        for migration in applied:
            console.print(f"applied {migration.version}: {migration.name}")
        console.print(f"schema version {version}: up to date")


@db_app.command("publish")
def publish(
    table: Annotated[list[str] | None, typer.Option("--table", help="A table to publish (repeat for more); "
                                                    "default: the imported ones.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Publish the store's tables to the analytics engine (Spark), rewriting only changed partitions.

    Only with [analytics] url (or $RETAINLY_ANALYTICS_URL) set to a Spark URL; run it after imports
    so that the next analysis starts at once. Publishing twice changes nothing.
    Example: RETAINLY_ANALYTICS_URL=spark://local[4] retainly db publish
    """
    with Workspace.open(state.db, create=False) as ws:
        done = [row.to_dict() for row in ws.schema.publish(table or None)]
        engine = ws.settings.analytics.url
    if as_json:
        print_json(done)
        return
    if as_csv:
        print_csv(done, columns=("table", "written", "removed", "kept"))
        return
    if not done:
        console.print(f"the analytics engine is the store itself ([analytics] url = {engine!r}): nothing to publish")
        return
    print_rows("published partitions", done)
