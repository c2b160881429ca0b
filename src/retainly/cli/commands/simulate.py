"""`retainly simulate`: a generated shop lives on for N days while retainly acts (docs/simulation.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from retainly.cli.app import app, open_workspace, state
from retainly.cli.commands.audiences import Json
from retainly.cli.output import after_commit, console, phases, print_json, print_rows

_SHOWN = ("day", "orders", "response_orders", "new_customers", "delivered", "true_effect")


@app.command("simulate")
def simulate(
    days: Annotated[int, typer.Option("--days", help="How many days to simulate.", min=1)] = 30,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same days.")] = 1,
    as_json: Json = False,
) -> None:
    """Advance a generated shop day by day: its customers buy, `retainly run` acts with the enabled
    playbooks, and customers respond by a known model, whose true effects are kept beside the
    measured ones (`retainly experiments`).

    Example: retainly generate --customers 5000 && retainly playbooks enable all && retainly simulate --days 60
    """
    names = [f"day {n} of {days}" for n in range(1, days + 1)]
    with open_workspace() as ws, phases(f"simulating {days} days", names) as step:
        found = ws.simulation.run(days, seed, progress=lambda done: done < days and step(names[done]))
    if as_json:
        print_json(found)
        return
    with after_commit(f"{days} simulated days"):
        print_rows(f"simulated {found.first_day} to {found.last_day}",
                   [{name: getattr(day, name) for name in _SHOWN} for day in found.days])
        total = sum(day.true_effect for day in found.days)
        console.print(f"{sum(d.delivered for d in found.days):,} messages and tasks delivered; their true effect "
                      f"(the simulator's known truth) is {total:,.2f} in revenue")
        if not found.enabled:
            console.print("no playbook is enabled, so the shop lived on untouched: `retainly playbooks enable all`")
        db = f" --db {state.db}" if state.db else ""
        console.print(f"what the playbooks added, as measured: retainly{db} experiments")
