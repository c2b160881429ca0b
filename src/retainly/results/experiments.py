"""What the experiments service answers: each playbook's effect against its holdout (docs/experiments.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from retainly.results.base import Result


@dataclass(frozen=True, kw_only=True)
class PlaybookEffect(Result):
    """Treated against held out, everyone assigned counted, over a fixed window after entering.
    Money is revenue net of returns per enrolled customer; the interval is Welch's on the
    CUPED-adjusted outcomes (the bootstrap's beside it); ``verdict`` says what can be told."""

    playbook: str
    as_of: date
    window_days: int
    treated: int
    held_out: int
    holdout_share: float | None
    sample_ratio_p: float  # under 0.001: the split does not match its share (a warning)
    sample_ratio_warning: bool
    treated_revenue: float | None
    held_out_revenue: float | None
    difference: float | None
    low: float | None
    high: float | None
    bootstrap_low: float | None
    bootstrap_high: float | None
    incremental_revenue: float | None  # the difference times the treated customers
    incremental_low: float | None
    incremental_high: float | None
    orders_difference: float | None
    variance_removed: float
    detectable_effect: float | None
    verdict: str  # added, lost, no clear effect, not enough customers yet to tell
    customers_needed: int | None
    weeks_needed: float | None
