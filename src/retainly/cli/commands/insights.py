"""`retainly buyer-types` and `retainly reorders`: what kind of buyer each customer is, and what they will run out of."""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.commands.measure import day
from retainly.cli.output import console, print_csv, print_json, print_rows
from retainly.results.insights import DueReorder


@app.command("buyer-types")
def buyer_types(
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="As of this day (default: the last order).", metavar="YYYY-MM-DD")] = None,
    evaluate: Annotated[bool, typer.Option("--evaluate", help="Precision and recall against a generated shop's hidden truth.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV: the types (with --evaluate, precision and recall per type).")] = False,
) -> None:
    """Buyer types (hit-and-run, discount-only, active): rules with reasons, and early predictions for new customers.

    Rules and figures: docs/buyer_types.md. Example: retainly buyer-types --evaluate
    """
    with open_workspace() as ws:
        with console.status("labelling buyers and training the early classifiers..."):
            on = day(as_of, "--as-of")
            result = ws.insights.evaluate_buyer_types(on) if evaluate else ws.insights.buyer_type_mix(on)
    if as_json:
        print_json(result)
        return
    if evaluate:
        sections = [(section, title, getattr(result, section)) for section, title in _EVALUATED]
        if as_csv:
            print_csv([{"classifier": section, **row} for section, _, part in sections for row in _per_type(part)])
            return
        for _, title, part in sections:
            print_rows(f"{title}: against the hidden truth (macro-F1 {part['macro_f1']})", _per_type(part))
        return
    if as_csv:
        print_csv(result.types)
        return
    print_rows(f"buyer types as of {result.as_of}", result.types)
    console.print(result.promotion_note)


_EVALUATED = (("rules", "rule labels"), ("after_1", "early classifier after 1 order"),
              ("after_2", "early classifier after 2 orders"))


def _per_type(part: dict) -> list[dict]:
    return [{"type": name, **{k: part["per_type"][name][k] for k in ("precision", "recall", "support")}}
            for name in part["per_type"]]


@app.command()
def reorders(
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="As of this day (default: the last order).", metavar="YYYY-MM-DD")] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many due reorders to list.", min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV: the reorders due (the consumables are in --json).")] = False,
) -> None:
    """Consumables with their typical re-order interval, and the reorders due now (customers still likely to buy).

    Definitions: docs/replenishment.md. Example: retainly reorders --limit 20
    """
    with open_workspace() as ws:
        with console.status("measuring re-order intervals..."):
            result = ws.insights.reorders(day(as_of, "--as-of"), limit)
    if as_json:
        print_json(result)
        return
    if as_csv:
        print_csv(result.due, columns=[field.name for field in fields(DueReorder)])
        return
    print_rows(f"consumables as of {result.as_of} (days between repeat purchases)", result.consumables)
    print_rows("reorders due (most overdue first)", result.due)
