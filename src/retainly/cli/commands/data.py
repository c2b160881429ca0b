"""`retainly import`, `retainly summary`, `retainly imports`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.output import after_commit, console, phases, print_csv, print_json, print_record, print_rows, warn
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
    with open_workspace(create=True) as ws:
        for path in files:
            with phases(f"importing {path.name}", ("reading", "checking", "loading"), quiet=as_json) as step:
                result = ws.data.import_file(kind, path, preset=preset, mapping=mapping, encoding=encoding,
                                        strict=strict, force=force, progress=step)
            results.append(result)
            if not as_json:
                with after_commit(_saved([result])):  # the import stands even if its report cannot be printed
                    _report(result)
    if as_json:
        with after_commit(_saved(results)):
            print_json([r.as_dict() for r in results])


def _saved(results) -> str:
    """What the imports saved, for the warning when their report cannot be printed."""
    done = [f"import #{r.import_id} of {r.source}" for r in results if r.import_id is not None]
    return "; ".join(done) or "nothing new (already imported)"


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
    with open_workspace(read_only=True) as ws:
        figures = ws.data.summary()
        left_out = ws.data.left_out_orders()
    if as_json:
        print_json(figures)
    elif as_csv:
        print_csv([figures])
    else:
        print_record("retainly summary", figures)
    if left_out.count:
        _warn_left_out(left_out)


def _warn_left_out(left_out) -> None:
    # On stderr, so that --json and --csv stay what they were.
    shown = ", ".join(f"{order.order_id} ({order.placed_at})" for order in left_out.first)
    more = f" and {left_out.count - len(left_out.first):,} more" if left_out.count > len(left_out.first) else ""
    ids = " ".join(order.order_id for order in left_out.first)
    plural = "s are" if left_out.count != 1 else " is"
    warn(f"{left_out.count:,} purchase order{plural} dated outside {left_out.analysed_from}..{left_out.analysed_through} "
         f"and left out of this summary and every analysis: {shown}{more}; fix their dates and import them again, "
         f"or remove them with `retainly delete orders {ids}`")


@app.command()
def imports(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """The imports ledger: every import, its source, rows and status.

    Example: retainly imports
    """
    with open_workspace(read_only=True) as ws:
        rows = ws.data.imports()
    if as_json:
        print_json(rows)
    elif as_csv:
        print_csv(rows)
    else:
        print_rows("imports", rows)
