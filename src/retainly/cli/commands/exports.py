"""`retainly exports ...`: audiences sent to files, email services and ad platforms (docs/exports.md)."""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.commands.audiences import AsOf, Csv, Json, _show
from retainly.cli.commands.measure import day
from retainly.cli.output import console, print_json, print_rows
from retainly.errors import InputError, RetainlyError
from retainly.results.exports import ExportRunResult, ExportSummary, ExportTarget

exports_app = typer.Typer(help="Audience exports: files, email services and ad platforms (docs/exports.md).",
                          no_args_is_help=True)
app.add_typer(exports_app, name="exports")

Name = Annotated[str, typer.Argument(help="The export's name.")]
PROBLEMS_SHOWN = 20


def _options(pairs: list[str] | None) -> dict:
    """``KEY=VALUE`` pairs as options (lists stay comma-separated text: the core splits them)."""
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--option {pair!r}: write KEY=VALUE, e.g. --option tags=vip,winback")
        options[key.strip()] = value.strip()
    return options


@exports_app.command("add")
def add(
    name: Name,
    target: Annotated[str, typer.Option("--target", help="mailchimp_csv, mailchimp_api, unisender_csv, "
                                        "unisender_api, google_csv, meta_csv, meta_api, vk_csv, csv or parquet.")],
    source: Annotated[str, typer.Option("--source", help="audience:NAME (a saved audience) or playbook:NAME (the "
                                        "customers its export step hands to this export).")],
    options: Annotated[Optional[list[str]], typer.Option("--option", help="A target's option, KEY=VALUE (repeat it): "
                                                        "folder, fields, consent, tags, list_id, list_ids, "
                                                        "audience_id, identifier, default_country, ...")] = None,
    full: Annotated[bool, typer.Option("--full", help="Send everyone each run (default: only who joined and who "
                                       "left since the last run).")] = False,
    scheduled: Annotated[bool, typer.Option("--scheduled", help="Run it at the end of each `retainly run`.")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Change an export saved under this name (who its "
                                          "target holds is kept).")] = False,
    as_json: Json = False,
) -> None:
    """Save an export: a source, a target and the target's options.

    Example: retainly exports add lapsed-ads --target google_csv --source audience:lapsed --option default_country=US
    """
    with open_workspace() as ws:
        detail = ws.exports.add(name, target, source, _options(options), incremental=not full, scheduled=scheduled,
                                replace=replace)
    if as_json:
        print_json(detail)
        return
    summary = detail.export
    console.print(f"saved {summary.name}: {summary.source} -> {summary.target} "
                  f"({'incremental' if summary.incremental else 'full'}{', scheduled' if summary.scheduled else ''}; "
                  f"customers need {detail.consent} consent)")


@exports_app.command("list")
def list_exports(as_json: Json = False, as_csv: Csv = False) -> None:
    """The saved exports: source, target, who the target holds, the last run.

    Example: retainly exports list
    """
    with open_workspace(read_only=True) as ws:
        rows = ws.exports.list()
    _show(rows, "exports", as_json, as_csv, [f.name for f in fields(ExportSummary)])


@exports_app.command("targets")
def targets(as_json: Json = False, as_csv: Csv = False) -> None:
    """What retainly exports to: each target's consent, options and the environment variable of its key.

    Example: retainly exports targets
    """
    with open_workspace(read_only=True) as ws:
        rows = ws.exports.targets()
    _show(rows, "export targets", as_json, as_csv, [f.name for f in fields(ExportTarget)])


@exports_app.command("show")
def show(name: Name, as_json: Json = False) -> None:
    """One export: its options and its latest runs (what each sent, match keys, failures).

    Example: retainly exports show lapsed-ads
    """
    with open_workspace(read_only=True) as ws:
        detail = ws.exports.show(name)
    if as_json:
        print_json(detail)
        return
    summary = detail.export
    console.print(f"{summary.name}: {summary.source} -> {summary.target}, "
                  f"{'incremental' if summary.incremental else 'full'}{', scheduled' if summary.scheduled else ''}; "
                  f"customers need {detail.consent} consent; the target holds {summary.members}")
    if detail.options:
        console.print("options: " + ", ".join(f"{key}={','.join(map(str, value)) if isinstance(value, list) else value}"
                                              for key, value in detail.options.items()))
    print_rows("runs, latest first", [{**run.to_dict(), "match_keys": _keys(run.match_keys)} for run in detail.runs])


def _keys(keys: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in keys.items())


@exports_app.command("run")
def run(name: Name, as_of: AsOf = None, as_json: Json = False) -> None:
    """Run an export now: send who joined and who left (or everyone), with the consent its target needs.

    Exits with 1 when the platform refused (the run is recorded failed with its answer).
    Example: retainly exports run lapsed-ads
    """
    with open_workspace() as ws:
        result = ws.exports.run(name, day(as_of, "--as-of"))
    if as_json:
        print_json(result)
    else:
        print_outcome(result)
    if result.status != "completed":  # recorded failed; the shell's one error line says why
        raise RetainlyError(f"export {result.export} failed: {result.message}")


def print_outcome(result: ExportRunResult) -> None:
    """One run's outcome in a few lines (also what `retainly run` prints of its scheduled exports)."""
    if result.status == "refused":
        console.print(f"export {result.export}: not run: {result.message}")
        return
    console.print(f"export {result.export} run {result.run_id} as of {result.as_of}: {result.status}; "
                  f"{result.added} added, {result.removed} removed, {result.kept} kept"
                  + (f"; {result.destination}" if result.destination else ""))
    if result.match_keys:
        console.print(f"  match keys: {_keys(result.match_keys)}")
    if result.status == "completed" and result.message:
        console.print(f"  {result.message}")
    if result.phone_problems:
        print_rows("phones left out (the customers were exported without them)",
                   result.phone_problems[:PROBLEMS_SHOWN])


@exports_app.command("remove")
def remove(name: Name) -> None:
    """Remove an export, its runs and who its target holds (the platform keeps them: remove them there).

    Example: retainly exports remove lapsed-ads
    """
    with open_workspace() as ws:
        held = ws.exports.remove(name)
    console.print(f"removed {name}" + (f"; its target still holds {held} customers, which retainly no longer "
                                       "removes there" if held else ""))
