"""A generated shop that lives on, for testing and demos: ``ws.simulation.run(days)``.

Each day the shop's customers buy by their known purchase process, ``retainly run`` acts with the
enabled playbooks, and the customers respond to what reached them by a known response model
(retainly.synth.simulation and retainly.synth.responses; docs/simulation.md). The measured effects
(``ws.experiments``) can then be set against the truth in ``simulated_responses``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, timedelta

from retainly.errors import InputError
from retainly.experiments.targeting import offer_rate
from retainly.playbooks import saved
from retainly.results.simulation import SimulatedDayResult, Simulation
from retainly.services.base import Service
from retainly.synth.simulation import generated, next_day, simulate_day, true_effects

MAX_DAYS = 3660


class SimulationService(Service):
    """Simulated days of a generated shop."""

    def run(self, days: int, seed: int = 1, progress: Callable[[int], None] | None = None) -> Simulation:
        """Simulate ``days`` more days (from the day after the last simulated one, else after the last
        order); ``progress`` hears each day's number as it ends. Each day is kept as it ends."""
        if not 1 <= days <= MAX_DAYS:
            raise InputError(f"`days` {days}: give a number of days from 1 to {MAX_DAYS}", parameter="days")
        if not generated(self.store):
            raise InputError("this store holds no generated shop: the simulator needs the generator's known truth. "
                             "Run `retainly generate --customers 5000` into a new store first (or `retainly demo`)")
        first = next_day(self.store, self.ws.data.last_order_date() + timedelta(days=1))
        playbooks = saved.all_playbooks(self.store)
        windows = {playbook.name: playbook.goal_days for playbook in playbooks}
        enabled = [playbook.name for playbook in saved.enabled(self.store)]
        cost = self.settings.experiments.offer_cost

        def act(day):
            if enabled:
                self.ws.playbooks.run(as_of=day)

        simulated = []
        for number in range(days):
            day = first + timedelta(days=number)
            found = simulate_day(self.store, day, seed, act, windows, lambda offer: offer_rate(offer, cost))
            simulated.append(SimulatedDayResult(**dataclasses.asdict(found)))
            if progress:
                progress(number + 1)
        return Simulation(first_day=first, last_day=simulated[-1].day, enabled=enabled, days=simulated)

    def true_effects(self, window_days: int, as_of: date | None = None) -> dict[str, float]:
        """Per playbook, the revenue its treated customers (window ended by ``as_of``) truly gained, by
        the simulator's known response model: what `retainly experiments` should find."""
        return true_effects(self.store, window_days, self.as_of(as_of))

