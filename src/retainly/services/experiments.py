"""What each playbook really added, against its randomly held-out customers (docs/experiments.md).

``ws.experiments.effects(as_of)`` compares, for every playbook, the revenue per enrolled customer
of the treated and the held out over a window after entering (the playbook's goal by default),
everyone assigned counted, with intervals, the incremental revenue, a sample-ratio check, and
"not enough customers yet to tell" where the shop is too small to know
(retainly.experiments.measure). ``ws.experiments.programme(as_of)`` compares, the same way, the
existing customers outside the global control group with those in it (retainly.experiments.control).
``ws.experiments.offers(as_of)`` sums the targeted offers' decisions (retainly.experiments.offers).
"""

from __future__ import annotations

import dataclasses
from datetime import date

from retainly.errors import InputError
from retainly.experiments.control import GlobalControl, programme
from retainly.experiments import offers as offer_targeting
from retainly.experiments.measure import measure
from retainly.experiments.targeting import offer_rate
from retainly.playbooks import saved
from retainly.results.experiments import PlaybookEffect, PlaybookOffers, ProgrammeEffect
from retainly.services.base import Service

SAMPLE_RATIO_ALARM = 0.001


class ExperimentService(Service):
    """Holdout comparisons per playbook, and the whole programme's against the global control group."""

    def _check_target(self, target_share: float) -> None:
        if not 0 < target_share < 10:
            raise InputError(f"`target_share` {target_share} must be above 0 (0.1: a tenth of the held-out "
                             "customers' revenue)", parameter="target_share")

    def effects(self, playbook: str = "all", as_of: date | None = None, window_days: int | None = None,
                target_share: float = 0.1) -> list[PlaybookEffect]:
        """Each playbook's effect (or one's) up to ``as_of`` (default: the last order's day)."""
        if window_days is not None and window_days < 1:
            raise InputError(f"`window_days` {window_days} must be 1 or more", parameter="window_days")
        self._check_target(target_share)
        day = self.as_of(as_of)
        chosen = saved.all_playbooks(self.store) if playbook == "all" else [saved.get(self.store, playbook)]
        found = []
        for book in chosen:
            effect = measure(self.store, book.name, window_days or book.goal_days, day, target_share)
            values = dataclasses.asdict(effect)
            found.append(PlaybookEffect(**values, as_of=day,
                                        sample_ratio_warning=effect.sample_ratio_p < SAMPLE_RATIO_ALARM))
        return found

    def programme(self, as_of: date | None = None, target_share: float = 0.1) -> ProgrammeEffect | None:
        """The whole programme's effect against the global control group from its first day up to
        ``as_of`` (default: the last order's day); None when ``[experiments] global_control_share``
        is 0 (no group)."""
        self._check_target(target_share)
        control = GlobalControl.of(self.settings.experiments)
        if control is None:
            return None
        day = self.as_of(as_of)
        figures = programme(self.store, control, day, target_share)
        warning = figures["sample_ratio_p"] < SAMPLE_RATIO_ALARM
        return ProgrammeEffect(**figures, as_of=day, sample_ratio_warning=warning)

    def offers(self, playbook: str = "all", as_of: date | None = None) -> list[PlaybookOffers]:
        """The offer decisions of each playbook with an offer (or one's) up to ``as_of`` (default: the
        last order's day), and their expected saving against offering to everyone decided
        (retainly.experiments.offers)."""
        day = self.as_of(as_of)
        settings = self.settings.experiments
        found = offer_targeting.totals(self.store, day)
        chosen = saved.all_playbooks(self.store) if playbook == "all" else [saved.get(self.store, playbook)]
        if playbook == "all":
            chosen = [book for book in chosen if any(step.offer for step in book.steps) or book.name in found]
        answers = []
        for book in chosen:
            sums = found.get(book.name, {})
            offer = next((step.offer for step in book.steps if step.offer), None)
            by_model = int(sums.get("by_model") or 0)
            money = {name: round(float(sums.get(name) or 0.0), 2) if by_model else None
                     for name in ("expected_gain", "expected_gain_everyone", "expected_cost", "expected_cost_everyone")}
            saving = None if not by_model else round(money["expected_gain"] - money["expected_gain_everyone"], 2)
            decisions, offered = int(sums.get("decisions") or 0), int(sums.get("offered") or 0)
            answers.append(PlaybookOffers(
                playbook=book.name, as_of=day, targeted=offer_targeting.targeted(book, settings), offer=offer,
                offer_rate=offer_rate(offer, settings.offer_cost), decisions=decisions, offered=offered,
                withheld=decisions - offered, by_model=by_model, model=sums.get("model"),
                last_decided_on=sums.get("last_decided_on"), saving=saving, **money))
        return answers
