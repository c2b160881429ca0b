"""What each playbook really added: its treated customers against its held-out ones.

The unit is an enrolment (a customer's entry into a playbook, with the arm the salted hash gave
it before consent, caps or suppression: retainly.playbooks.enrol). Its outcome is what the
customer spent in a fixed window after entering (``window_days``, the playbook's goal by
default): the purchases' revenue less the returns in the window, and the orders. Only
enrolments whose window has ended by the day measured count, so every unit is measured over the
same length of time. Everyone assigned counts (intention to treat): comparing only the customers
a message reached with the held-out ones would compare the reachable with everyone.

The covariate for CUPED is what the customer spent in the 365 days before entering.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from retainly.experiments import stats
from retainly.store.backends import Store

PRE_DAYS = 365
MIN_PER_ARM = 30  # fewer than this in an arm: nothing can be said, whatever the figures
NOT_ENOUGH = "not enough customers yet to tell"
# What ``compare`` leaves empty when an arm is too small to tell anything.
_FIGURES = ("treated_revenue", "held_out_revenue", "difference", "low", "high", "bootstrap_low", "bootstrap_high",
            "incremental_revenue", "incremental_low", "incremental_high", "detectable_effect")

_UNITS = """
WITH units AS (
    SELECT e.customer_id, e.enrolled_on, e.arm, e.holdout_share,
           CAST(e.enrolled_on AS TIMESTAMP) AS starts, CAST(e.enrolled_on AS TIMESTAMP) + {window} AS ends,
           CAST(e.enrolled_on AS TIMESTAMP) - {pre} AS pre_starts
    FROM enrolments AS e WHERE e.playbook = ? AND e.enrolled_on + {days} <= ?
), bought AS (
    SELECT u.customer_id, u.enrolled_on,
           SUM(CASE WHEN p.placed_at >= u.starts AND p.placed_at < u.ends THEN p.revenue ELSE 0 END) AS revenue,
           SUM(CASE WHEN p.placed_at >= u.starts AND p.placed_at < u.ends THEN 1 ELSE 0 END) AS orders,
           SUM(CASE WHEN p.placed_at >= u.pre_starts AND p.placed_at < u.starts THEN p.revenue ELSE 0 END) AS before
    FROM units AS u JOIN purchases AS p ON p.customer_id = u.customer_id
        AND p.placed_at >= u.pre_starts AND p.placed_at < u.ends
    GROUP BY u.customer_id, u.enrolled_on
), returned AS (
    SELECT u.customer_id, u.enrolled_on, SUM(r.amount) AS amount
    FROM units AS u JOIN returns AS r ON r.customer_id = u.customer_id
        AND r.returned_at >= u.starts AND r.returned_at < u.ends
    GROUP BY u.customer_id, u.enrolled_on
)
SELECT u.arm, u.holdout_share, u.enrolled_on,
       CAST(COALESCE(b.revenue, 0) - COALESCE(r.amount, 0) AS DOUBLE PRECISION) AS revenue,
       CAST(COALESCE(b.orders, 0) AS DOUBLE PRECISION) AS orders,
       CAST(COALESCE(b.before, 0) AS DOUBLE PRECISION) AS before
FROM units AS u
LEFT JOIN bought AS b ON b.customer_id = u.customer_id AND b.enrolled_on = u.enrolled_on
LEFT JOIN returned AS r ON r.customer_id = u.customer_id AND r.enrolled_on = u.enrolled_on
"""


def units(store: Store, playbook: str, window_days: int, as_of: date) -> pa.Table:
    """One row per enrolment of ``playbook`` whose window ended by ``as_of``: arm, holdout share,
    day of entry, revenue (net of returns) and orders in the window, revenue in the year before."""
    interval = f"INTERVAL '{int(window_days)} days'"
    sql = _UNITS.format(window=interval, pre=f"INTERVAL '{PRE_DAYS} days'", days=int(window_days))
    return store.fetch_arrow(sql, (playbook, as_of))


@dataclass(frozen=True)
class Effect:
    """One playbook's comparison (see ``measure``)."""

    playbook: str
    window_days: int
    treated: int
    held_out: int
    holdout_share: float | None
    sample_ratio_p: float
    treated_revenue: float | None  # per enrolled customer, in the window
    held_out_revenue: float | None
    difference: float | None  # CUPED-adjusted, Welch
    low: float | None
    high: float | None
    bootstrap_low: float | None
    bootstrap_high: float | None
    incremental_revenue: float | None  # difference x treated customers
    incremental_low: float | None
    incremental_high: float | None
    orders_difference: float | None  # orders per enrolled customer
    treated_repeat_rate: float | None  # the share of enrolled customers who ordered in the window
    held_out_repeat_rate: float | None
    variance_removed: float  # by CUPED
    detectable_effect: float | None  # the smallest difference this size finds, 80 % of the time
    verdict: str
    customers_needed: int | None  # in all, for the target effect
    weeks_needed: float | None  # at the pace of the last 8 weeks' enrolments


def measure(store: Store, playbook: str, window_days: int, as_of: date, target_share: float = 0.1) -> Effect:
    """The difference in revenue per enrolled customer, treated less held out, over the window.

    ``verdict``: ``added`` or ``lost`` when the interval excludes zero; ``no clear effect`` when
    it does not but the test could have found the target effect (``target_share`` of the
    held-out mean); ``not enough customers yet to tell`` otherwise, with the customers (and
    weeks) the target effect needs."""
    found = units(store, playbook, window_days, as_of)
    treated_mask = np.array(found["arm"].to_pylist(), object) == "treatment"
    revenue = found["revenue"].to_numpy(zero_copy_only=False)
    orders = found["orders"].to_numpy(zero_copy_only=False)
    shares = found["holdout_share"].to_numpy(zero_copy_only=False)
    share = float(np.median(shares)) if len(shares) else None
    figures = compare(revenue, found["before"].to_numpy(zero_copy_only=False), treated_mask, share, target_share)
    measured = figures["difference"] is not None
    ordered = orders > 0
    return Effect(
        playbook=playbook, window_days=window_days, holdout_share=share, **figures,
        orders_difference=round(float(orders[treated_mask].mean() - orders[~treated_mask].mean()), 4)
        if measured else None,
        treated_repeat_rate=round(float(ordered[treated_mask].mean()), 4) if measured else None,
        held_out_repeat_rate=round(float(ordered[~treated_mask].mean()), 4) if measured else None,
        weeks_needed=_weeks(found, figures["customers_needed"], as_of) if measured else None)


def compare(revenue: np.ndarray, before: np.ndarray, treated_mask: np.ndarray, share: float | None,
            target_share: float = 0.1) -> dict:
    """The figures of treated against held out (``treated_mask``), everyone assigned counted, as
    keywords of ``Effect`` (and of the programme's result, retainly.experiments.control): arm
    sizes, sample-ratio p against the held-out ``share``, revenue per customer in each arm, the
    CUPED-adjusted difference with Welch's and the bootstrap's intervals, incremental revenue
    (difference x treated), variance removed, detectable effect, verdict and customers needed
    (see ``measure``)."""
    n1, n0 = int(treated_mask.sum()), int((~treated_mask).sum())
    srm = stats.sample_ratio(n1, n0, share) if share else 1.0
    if n1 < MIN_PER_ARM or n0 < MIN_PER_ARM:
        return dict(treated=n1, held_out=n0, sample_ratio_p=srm, variance_removed=0.0, verdict=NOT_ENOUGH,
                    customers_needed=None, **dict.fromkeys(_FIGURES))
    adjusted, _, removed = stats.cuped(revenue, before)
    welch = stats.welch(adjusted[treated_mask], adjusted[~treated_mask])
    boot = stats.bootstrap(adjusted[treated_mask], adjusted[~treated_mask])
    sd = float(np.sqrt((adjusted[treated_mask].var(ddof=1) * (n1 - 1) + adjusted[~treated_mask].var(ddof=1)
                        * (n0 - 1)) / (n1 + n0 - 2)))
    mde = stats.detectable_effect(sd, n1, n0)
    held_mean = float(revenue[~treated_mask].mean())
    target = target_share * held_mean
    needed = stats.customers_needed(target, sd, share) if share and target > 0 else None
    if share and 0 < share < 1 and needed is not None:  # and enough for the interval to hold
        needed = max(needed, stats.customers_for_symmetry(adjusted, share))
    if stats.skewed_difference(adjusted, n1, n0):  # an interval would miss the truth too often
        verdict = NOT_ENOUGH
    elif welch.low > 0:
        verdict = "added"
    elif welch.high < 0:
        verdict = "lost"
    elif target > 0 and mde <= target:
        verdict = "no clear effect"
    else:
        verdict = NOT_ENOUGH
    return dict(
        treated=n1, held_out=n0, sample_ratio_p=srm, treated_revenue=round(float(revenue[treated_mask].mean()), 4),
        held_out_revenue=round(held_mean, 4), difference=round(welch.difference, 4), low=round(welch.low, 4),
        high=round(welch.high, 4), bootstrap_low=round(boot.low, 4), bootstrap_high=round(boot.high, 4),
        incremental_revenue=round(welch.difference * n1, 2), incremental_low=round(welch.low * n1, 2),
        incremental_high=round(welch.high * n1, 2), variance_removed=round(removed, 4),
        detectable_effect=round(mde, 4), verdict=verdict, customers_needed=needed)


def _weeks(found: pa.Table, needed: int | None, as_of: date) -> float | None:
    """Weeks until ``needed`` enrolments have ended their window, at the last 8 weeks' pace."""
    if needed is None:
        return None
    days = found["enrolled_on"].to_pylist()
    recent = sum(1 for day in days if day > as_of - timedelta(weeks=8))
    missing = needed - len(days)
    if missing <= 0:
        return 0.0
    return None if recent == 0 else round(missing / (recent / 8), 1)

