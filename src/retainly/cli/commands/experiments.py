"""`retainly experiments`: what each playbook really added, against its held-out customers, and the
whole programme against the global control group when there is one; `retainly experiments offers`:
the targeted offers' decisions and what they saved (docs/experiments.md)."""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from retainly.cli.app import app, open_workspace
from retainly.cli.commands.audiences import AsOf, Csv, Json
from retainly.cli.commands.measure import day
from retainly.cli.output import console, print_csv, print_json, print_rows
from retainly.results.experiments import PlaybookEffect, PlaybookOffers, ProgrammeEffect

_SHOWN = ("playbook", "treated", "held_out", "treated_revenue", "held_out_revenue", "difference", "low", "high",
          "incremental_revenue", "verdict")


class _EffectsByDefault(TyperGroup):
    """`retainly experiments [PLAYBOOK] [OPTIONS]` is `retainly experiments effects ...`: anything but a
    subcommand's name (or --help) goes to `effects`."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["effects", *args]
        return super().parse_args(ctx, args)

    def get_command(self, ctx, name):
        # parse_args has put a subcommand first; a playbook's name found here (as retainly.cli.flags
        # looks for the command an error came from) is `effects`' argument.
        return super().get_command(ctx, name) or super().get_command(ctx, "effects")


experiments_app = typer.Typer(cls=_EffectsByDefault, help="What each playbook really added; the offers it targeted.")
app.add_typer(experiments_app, name="experiments")


@experiments_app.command("effects")
def experiments(
    playbook: Annotated[str, typer.Argument(help="A playbook's name, or `all`.")] = "all",
    as_of: AsOf = None,
    window_days: Annotated[Optional[int], typer.Option("--window-days", help="Days after entering that count "
                                                       "(default: each playbook's goal).")] = None,
    as_json: Json = False, as_csv: Csv = False,
) -> None:
    """Each playbook's treated customers against its held-out ones: revenue per customer in the
    window, the difference with its 95 % interval, the revenue it added, or "not enough customers
    yet to tell". With a global control group (global_control_share in the settings) and every
    playbook, the whole programme's line follows (in --json: {"playbooks": ..., "programme": ...}).

    Example: retainly experiments win-back-180 --as-of 2026-03-31
    """
    with open_workspace(read_only=True) as ws:
        found = ws.experiments.effects(playbook, day(as_of, "--as-of"), window_days)
        whole = ws.experiments.programme(day(as_of, "--as-of")) if playbook == "all" else None
    if as_json:
        print_json(found if whole is None else {"playbooks": found, "programme": whole})
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
    if whole is not None:
        _programme(whole)


def _programme(whole: ProgrammeEffect) -> None:
    """The whole programme's line: existing customers outside the global control group against those in it."""
    print_rows(f"The whole programme against the global control group ({whole.control_share:.0%}), existing "
               f"customers, {whole.since} to {whole.as_of}",
               [{"outside_control": whole.treated, "in_control": whole.held_out,
                 "outside_revenue": whole.treated_revenue, "control_revenue": whole.held_out_revenue,
                 "difference": whole.difference, "low": whole.low, "high": whole.high,
                 "incremental_revenue": whole.incremental_revenue, "verdict": whole.verdict}])
    if whole.verdict == "not enough customers yet to tell" and whole.customers_needed is not None:
        console.print(f"{whole.verdict}: a tenth of the control group's revenue needs about {whole.customers_needed:,} "
                      f"existing customers at this share; the shop has {whole.treated + whole.held_out:,}")
    if whole.sample_ratio_warning:
        console.print(f"warning: the global control group ({whole.held_out} of {whole.treated + whole.held_out} "
                      f"existing customers) does not match its share {whole.control_share:.0%} "
                      f"(p = {whole.sample_ratio_p:.2g}): check how customers were assigned before trusting its "
                      "figures")


_OFFERS_SHOWN = ("playbook", "targeted", "offer", "decisions", "offered", "withheld", "expected_gain",
                 "expected_gain_everyone", "saving")


@experiments_app.command("offers")
def offers(
    playbook: Annotated[str, typer.Argument(help="A playbook's name, or `all`.")] = "all",
    as_of: AsOf = None, as_json: Json = False, as_csv: Csv = False,
) -> None:
    """The offers decided for each playbook with one (target_offers in the settings): how many got
    the offer, how many went without, and the gain the model expects against offering it to
    everyone decided (the saving); the model that decided last, or the default and why.

    Example: retainly experiments offers win-back-180 --as-of 2026-03-31
    """
    with open_workspace(read_only=True) as ws:
        found = ws.experiments.offers(playbook, day(as_of, "--as-of"))
    if as_json:
        print_json(found)
        return
    if as_csv:
        print_csv(found, columns=[f.name for f in fields(PlaybookOffers)])
        return
    print_rows(f"Offers decided, as of {found[0].as_of}" if found else "Offers",
               [{name: getattr(offer, name) for name in _OFFERS_SHOWN} for offer in found])
    for offer in found:
        if offer.model:
            console.print(f"{offer.playbook} ({offer.last_decided_on}): {offer.model}")
