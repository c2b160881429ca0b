"""The global control group: a share of all customers who get no playbook at all, and what the
whole programme added against them (docs/experiments.md, "The global control group").

**Membership.** A salted SHA-256 of (salt, customer id), its first eight bytes read as a number
in [0, 1), below ``global_control_share`` means the control group: the construction of a
playbook's arm (retainly.playbooks.enrol.arm), with the salt and the id joined by ``\\x1e``
where an arm joins (salt, playbook, customer) by ``\\x1f``. The two never hash the same text, so
the group is independent of every playbook's arm, and a playbook's holdout share holds among the
customers outside the group. It is deterministic; changing ``global_control_salt`` draws a new
group. ``in_control`` hashes in Python, ``members`` in the engine (a run draws a million).

**The programme's effect.** The unit is an existing customer: one who had bought before
``global_control_since`` (new customers are kept out of the playbooks too, but have no year
before to adjust by, and their number depends on the day measured). The outcome is revenue less
returns in [since, as of], both days counted; the covariate for CUPED is revenue in the 365 days
before since. The comparison, verdict and sizes are those of a playbook's holdout
(retainly.experiments.measure.compare), the control group in the held-out arm.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow.compute as pc

from retainly.errors import InputError
from retainly.experiments.measure import PRE_DAYS, compare
from retainly.playbooks.enrol import hashed_below, holdout_below
from retainly.settings import ExperimentSettings
from retainly.store.backends import Store

DEFAULT_SALT = "global-control"


def _prefix(salt: str) -> str:
    return f"{salt}\x1e"


def in_control(customer_id: int, share: float, salt: str = DEFAULT_SALT) -> bool:
    """Whether ``customer_id`` is in the global control group of ``share`` (see the module doc)."""
    number = int.from_bytes(hashlib.sha256(f"{_prefix(salt)}{customer_id}".encode()).digest()[:8], "big")
    return number / 2**64 < share


def members(store: Store, customer_ids: np.ndarray, share: float, salt: str = DEFAULT_SALT) -> np.ndarray:
    """Whether each of ``customer_ids`` is in the group: ``in_control``, hashed in the engine."""
    return hashed_below(store, _prefix(salt), np.asarray(customer_ids, np.int64), share)


@dataclass(frozen=True)
class GlobalControl:
    """The group the settings ask for: its share of all customers, first day and salt."""

    share: float
    since: date
    salt: str = DEFAULT_SALT

    @classmethod
    def of(cls, settings: ExperimentSettings | None) -> GlobalControl | None:
        """The group ``[experiments]`` sets up; None when ``global_control_share`` is 0 (no group)."""
        if settings is None or not settings.global_control_share:
            return None
        if settings.global_control_since is None:
            raise InputError("[experiments] global_control_share is set: also give global_control_since, the day "
                             "the group began (a date without quotes, e.g. 2026-01-01)",
                             parameter="global_control_since")
        return cls(settings.global_control_share, settings.global_control_since, settings.global_control_salt)

    def keeps_out(self, as_of: date) -> bool:
        """Whether a run as of ``as_of`` keeps the group out: from the day it began on."""
        return as_of >= self.since

    def members(self, store: Store, customer_ids: np.ndarray) -> np.ndarray:
        return members(store, customer_ids, self.share, self.salt)


# Existing customers (an order before since), with their revenue less returns in [since, end) and
# their revenue in the year before since; the group is hashed in the same statement.
_UNITS = """
WITH existing AS (
    SELECT customer_id FROM purchases WHERE customer_id IS NOT NULL AND placed_at < ? GROUP BY customer_id
), bought AS (
    SELECT p.customer_id,
           SUM(CASE WHEN p.placed_at >= ? THEN p.revenue ELSE 0 END) AS revenue,
           SUM(CASE WHEN p.placed_at < ? THEN p.revenue ELSE 0 END) AS before
    FROM purchases AS p JOIN existing AS e ON e.customer_id = p.customer_id
    WHERE p.placed_at >= ? AND p.placed_at < ?
    GROUP BY p.customer_id
), returned AS (
    SELECT r.customer_id, SUM(r.amount) AS amount
    FROM returns AS r JOIN existing AS e ON e.customer_id = r.customer_id
    WHERE r.returned_at >= ? AND r.returned_at < ?
    GROUP BY r.customer_id
)
SELECT {head} < ? AS control,
       CAST(COALESCE(b.revenue, 0) - COALESCE(r.amount, 0) AS DOUBLE PRECISION) AS revenue,
       CAST(COALESCE(b.before, 0) AS DOUBLE PRECISION) AS before
FROM existing AS e
LEFT JOIN bought AS b ON b.customer_id = e.customer_id
LEFT JOIN returned AS r ON r.customer_id = e.customer_id
"""


def programme(store: Store, control: GlobalControl, as_of: date, target_share: float = 0.1) -> dict:
    """The whole programme's effect up to ``as_of``, as keywords of
    retainly.results.experiments.ProgrammeEffect (but ``as_of`` and the sample-ratio warning):
    existing customers outside the group (``treated``: the playbooks may reach them) against
    those in it (``held_out``), revenue less returns per customer from ``since`` to ``as_of``.
    Before ``since`` nothing is measured yet: no customer counts."""
    days = (as_of - control.since).days + 1
    if days < 1:
        empty = np.zeros(0)
        figures = compare(empty, empty, np.zeros(0, bool), control.share, target_share)
        return dict(since=control.since, days=0, control_share=control.share, **figures)
    start = datetime.combine(control.since, datetime.min.time())
    pre, end = start - timedelta(days=PRE_DAYS), start + timedelta(days=days)
    below = holdout_below(control.share)
    head = store.sha256_head("CAST(? AS VARCHAR) || CAST(e.customer_id AS VARCHAR)")
    found = store.fetch_arrow(_UNITS.format(head=head), (start, start, start, pre, end, start, end,
                                                         _prefix(control.salt), f"{below:016x}"))
    in_group = pc.cast(found["control"], "bool").to_numpy(zero_copy_only=False).astype(bool)
    figures = compare(found["revenue"].to_numpy(zero_copy_only=False), found["before"].to_numpy(zero_copy_only=False),
                      ~in_group, control.share, target_share)
    return dict(since=control.since, days=days, control_share=control.share, **figures)
