"""What `retainly simulate` answers: the days it simulated (docs/simulation.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from retainly.results.base import Result


@dataclass(frozen=True, kw_only=True)
class SimulatedDayResult(Result):
    """One simulated day: the orders that arrived, then what retainly delivered and its known true effect."""

    day: date
    orders: int
    response_orders: int  # of the orders, those a message or call brought
    new_customers: int
    delivered: int  # messages and tasks delivered that day
    true_effect: float  # the revenue they are expected to add in their windows (the simulator's truth)


@dataclass(frozen=True, kw_only=True)
class Simulation(Result):
    """A run of simulated days; ``enabled``: the playbooks that acted."""

    first_day: date
    last_day: date
    enabled: list[str]
    days: list[SimulatedDayResult]
