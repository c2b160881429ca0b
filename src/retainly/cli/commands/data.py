"""`retainly import`, `retainly summary`, `retainly imports`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.output import console, phases, print_csv, print_json, print_record, print_rows
from retainly.services.data import IMPORT_KINDS

_PRESET_HELP = "Known layout: online-retail-ii, cdnow, shopify, woocommerce, retainly. Default: detected from the header."


@app.command("import")
def import_command(
    kind: Annotated[str, typer.Argument(help=f"What the files hold: {', '.join(IMPORT_KINDS)}.", metavar="KIND")],
    files: Annotated[list[Path], typer.Argument(help="CSV (.csv, .csv.gz), Parquet or XLSX files.", metavar="FILE...")],
    preset: Annotated[Optional[str], typer.Option("--preset", help=_PRESET_HELP)] = None,
    mapping: Annotated[Optional[Path], typer.Option("--map", help="A mapping.toml naming your columns and values.")] = None,
    encoding: Annotated[Optional[str], typer.Option("--encoding", help="Force the CSV encoding, e.g. cp1252.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Reject the whole file at the first bad row.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Import again a file already imported.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Import export files into the store; bad rows go to a rejects file beside the input.

    Each file is one transaction: it completes, or the store stays as it was. Importing the
    same file again, or a later export that overlaps it, adds nothing twice.

    Example: retainly import orders online_retail_II.csv.gz --preset online-retail-ii
    """
    results = []
    with open_workspace() as ws:
        for path in files:
            with phases(f"importing {path.name}", ("reading", "checking", "loading"), quiet=as_json) as step:
                result = ws.data.import_file(kind, path, preset=preset, mapping=mapping, encoding=encoding,
                                        strict=strict, force=force, progress=step)
            results.append(result)
            if not as_json:
                _report(result)
    if as_json:
        print_json([r.as_dict() for r in results])


def _report(result) -> None:
    if result.skipped_as_duplicate_of is not None:
        console.print(f"{result.source}: already imported as import #{result.skipped_as_duplicate_of}; "
                      "nothing to do (use --force to import it again)")
        return
    console.print(f"{result.source}: {result.rows_accepted:,} of {result.rows_read:,} rows imported "
                  f"as {result.kind} with preset {result.preset} (import #{result.import_id})")
    if result.rows_rejected:
        for example in result.reject_examples:
            console.print(f"  rejected {example}", highlight=False)
        more = result.rows_rejected - len(result.reject_examples)
        tail = f" ({more:,} more)" if more > 0 else ""
        console.print(f"  {result.rows_rejected:,} rows rejected{tail}: see {result.rejects_file}")
    for note in result.notes:
        console.print(f"  note: {note}")


@app.command()
def summary(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """What the store knows: customers, purchase orders, lines, revenue, guests, returns.

    Example: retainly summary --json
    """
    with open_workspace() as ws:
        figures = ws.data.summary()
    if as_json:
        print_json(figures)
    elif as_csv:
        print_csv([figures])
    else:
        print_record("retainly summary", figures)


@app.command()
def imports(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The imports ledger: every import, its source, rows and status.

    Example: retainly imports
    """
    with open_workspace() as ws:
        rows = ws.data.imports()
    print_json(rows) if as_json else print_rows("imports", rows)
