"""`retainly audiences ...`: customer fields, rules over them, previews and saved audiences."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.commands.measure import day
from retainly.cli.output import console, print_csv, print_json, print_rows
from retainly.errors import InputError

audiences_app = typer.Typer(help="Audiences: who, by rule (docs/audiences.md).", no_args_is_help=True)
app.add_typer(audiences_app, name="audiences")

AsOf = Annotated[Optional[str], typer.Option("--as-of", help="As of this day (default: the last order).",
                                             metavar="YYYY-MM-DD")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Csv = Annotated[bool, typer.Option("--csv", help="Print CSV.")]
RuleText = Annotated[str, typer.Argument(help="A rule, e.g. 'days_since_last_order > 60 and email_consent'.")]


def _show(rows, title: str, as_json: bool, as_csv: bool, columns: list[str] | None = None) -> None:
    if as_json:
        print_json(rows)
    elif as_csv:
        print_csv(rows, columns=columns or [])
    else:
        print_rows(title, rows)


@audiences_app.command("fields")
def fields(as_json: Json = False, as_csv: Csv = False) -> None:
    """The customer fields a rule may use, with their types and arguments.

    Example: retainly audiences fields
    """
    with open_workspace(read_only=True) as ws:
        rows = ws.audiences.fields()
    _show(rows, "customer fields for audience rules", as_json, as_csv)


@audiences_app.command("preview")
def preview(rule: RuleText, as_of: AsOf = None,
            sample: Annotated[int, typer.Option("--sample", help="How many customers to list.", min=0)] = 10,
            as_json: Json = False, as_csv: Csv = False) -> None:
    """How many customers a rule selects now, a sample, and their stages and RFM segments.

    Example: retainly audiences preview 'stage in [at_risk, lapsed] and email_consent'
    """
    with open_workspace() as ws:
        result = ws.audiences.preview(rule, day(as_of, "--as-of"), sample)
    if as_json:
        print_json(result)
        return
    if as_csv:
        print_csv(result.sample, columns=["customer", "name", "stage", "segment"])
        return
    console.print(f"{result.customers} customers as of {result.as_of}: {result.rule}")
    print_rows("sample", result.sample)
    print_rows("by lifecycle stage", result.by_stage)
    print_rows("by RFM segment", result.by_segment)


@audiences_app.command("save")
def save(name: Annotated[Optional[str], typer.Argument(help="The audience's name (letters, digits, - and _).")] = None,
         rule: Annotated[Optional[str], typer.Argument(help="Its rule, e.g. 'days_since_last_order > 60'.")] = None,
         description: Annotated[Optional[str], typer.Option("--description", help="A line saying what it is for.")] = None,
         file: Annotated[Optional[str], typer.Option("--file", help="Save every audience of a TOML or YAML file "
                                                     "(docs/audiences.md) instead.")] = None,
         as_json: Json = False) -> None:
    """Save an audience (or replace its rule), or every audience of a file, and evaluate it as of the last order.

    Example: retainly audiences save win-back 'days_since_last_order > 180 and email_consent'
    """
    if (file is None) == (name is None or rule is None):
        raise InputError("give a NAME and a RULE, or --file with audiences (not both)")
    with open_workspace() as ws:
        names = [a.name for a in ws.audiences.save_file(file)] if file else [ws.audiences.save(name, rule,
                                                                                                description).name]
        done = [(ws.audiences.evaluate(n), ws.audiences.show(n)) for n in names]
    if as_json:
        print_json([{"audience": saved, "evaluation": evaluation} for evaluation, saved in done])
        return
    for evaluation, saved in done:
        console.print(f"saved {saved.name}: {saved.rule}")
        console.print(f"  as of {evaluation.as_of}: {evaluation.members} members ({evaluation.entered} entered, "
                      f"{evaluation.left} left)")


@audiences_app.command("list")
def list_audiences(as_json: Json = False, as_csv: Csv = False) -> None:
    """The saved audiences, with their members at the last evaluation.

    Example: retainly audiences list
    """
    with open_workspace(read_only=True) as ws:
        rows = ws.audiences.list()
    _show(rows, "saved audiences", as_json, as_csv, ["name", "rule", "description", "members", "last_evaluated"])


@audiences_app.command("show")
def show(name: Annotated[str, typer.Argument(help="The audience's name.")],
         as_of: AsOf = None, as_json: Json = False) -> None:
    """Evaluate a saved audience as of a day (who entered, who left) and show it.

    Example: retainly audiences show win-back --as-of 2024-06-30
    """
    with open_workspace() as ws:
        evaluation = ws.audiences.evaluate(name, day(as_of, "--as-of"))
        found = ws.audiences.show(name)
    if as_json:
        print_json({"audience": found, "evaluation": evaluation})
        return
    console.print(f"{found.name}: {found.rule}" + (f"  ({found.description})" if found.description else ""))
    console.print(f"as of {evaluation.as_of}: {evaluation.members} members ({evaluation.entered} entered, "
                  f"{evaluation.left} left)")


@audiences_app.command("members")
def members(name: Annotated[str, typer.Argument(help="The audience's name.")],
            history: Annotated[bool, typer.Option("--history", help="Every stay, with when it ended.")] = False,
            limit: Annotated[int, typer.Option("--limit", help="How many to list.", min=1)] = 100,
            as_json: Json = False, as_csv: Csv = False) -> None:
    """Who is in a saved audience (as of its last evaluation), newest entries first.

    Example: retainly audiences members win-back --csv > win-back.csv
    """
    with open_workspace(read_only=True) as ws:
        rows = ws.audiences.members(name, limit, history)
    _show(rows, f"members of {name}", as_json, as_csv, ["customer", "name", "entered_on", "left_on"])


@audiences_app.command("delete")
def delete(name: Annotated[str, typer.Argument(help="The audience's name.")]) -> None:
    """Delete a saved audience and its membership history.

    Example: retainly audiences delete win-back
    """
    with open_workspace() as ws:
        ws.audiences.delete(name)
    console.print(f"deleted {name}")
