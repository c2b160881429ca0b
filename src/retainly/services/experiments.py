"""What each playbook really added, against its randomly held-out customers (docs/experiments.md).

``ws.experiments.effects(as_of)`` compares, for every playbook, the revenue per enrolled customer
of the treated and the held out over a window after entering (the playbook's goal by default),
everyone assigned counted, with intervals, the incremental revenue, a sample-ratio check, and
"not enough customers yet to tell" where the shop is too small to know
(retainly.experiments.measure).
"""

from __future__ import annotations

import dataclasses
from datetime import date

from retainly.errors import InputError
from retainly.experiments.measure import measure
from retainly.playbooks import saved
from retainly.results.experiments import PlaybookEffect
from retainly.services.base import Service

SAMPLE_RATIO_ALARM = 0.001


class ExperimentService(Service):
    """Holdout comparisons per playbook."""

    def effects(self, playbook: str = "all", as_of: date | None = None, window_days: int | None = None,
                target_share: float = 0.1) -> list[PlaybookEffect]:
        """Each playbook's effect (or one's) up to ``as_of`` (default: the last order's day)."""
        if window_days is not None and window_days < 1:
            raise InputError(f"`window_days` {window_days} must be 1 or more", parameter="window_days")
        if not 0 < target_share < 10:
            raise InputError(f"`target_share` {target_share} must be above 0 (0.1: a tenth of the held-out "
                             "customers' revenue)", parameter="target_share")
        day = self.as_of(as_of)
        chosen = saved.all_playbooks(self.store) if playbook == "all" else [saved.get(self.store, playbook)]
        found = []
        for book in chosen:
            effect = measure(self.store, book.name, window_days or book.goal_days, day, target_share)
            values = dataclasses.asdict(effect)
            found.append(PlaybookEffect(**values, as_of=day,
                                        sample_ratio_warning=effect.sample_ratio_p < SAMPLE_RATIO_ALARM))
        return found
