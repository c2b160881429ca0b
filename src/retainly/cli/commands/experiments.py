"""`retainly experiments`: what each playbook really added, against its held-out customers (docs/experiments.md)."""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.commands.audiences import AsOf, Csv, Json
from retainly.cli.commands.measure import day
from retainly.cli.output import console, print_csv, print_json, print_rows
from retainly.results.experiments import PlaybookEffect

_SHOWN = ("playbook", "treated", "held_out", "treated_revenue", "held_out_revenue", "difference", "low", "high",
          "incremental_revenue", "verdict")


@app.command("experiments")
def experiments(
    playbook: Annotated[str, typer.Argument(help="A playbook's name, or `all`.")] = "all",
    as_of: AsOf = None,
    window_days: Annotated[Optional[int], typer.Option("--window-days", help="Days after entering that count "
                                                       "(default: each playbook's goal).")] = None,
    as_json: Json = False, as_csv: Csv = False,
) -> None:
    """Each playbook's treated customers against its held-out ones: revenue per customer in the
    window, the difference with its 95 % interval, the revenue it added, or "not enough customers
    yet to tell".

    Example: retainly experiments win-back-180 --as-of 2026-03-31
    """
    with open_workspace(read_only=True) as ws:
        found = ws.experiments.effects(playbook, day(as_of, "--as-of"), window_days)
    if as_json:
        print_json(found)
        return
    if as_csv:
        print_csv(found, columns=[f.name for f in fields(PlaybookEffect)])
        return
    print_rows(f"Playbooks against their holdouts, as of {found[0].as_of}" if found else "Playbooks",
               [{name: getattr(effect, name) for name in _SHOWN} for effect in found])
    for effect in found:
        if effect.sample_ratio_warning:
            console.print(f"warning: {effect.playbook}'s split ({effect.treated} treated, {effect.held_out} held "
                          f"out) does not match its holdout share {effect.holdout_share:.0%} "
                          f"(p = {effect.sample_ratio_p:.2g}): check how customers were assigned before trusting "
                          "its figures")
