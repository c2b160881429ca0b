"""What the experiments service answers: each playbook's effect against its holdout, and the whole
programme's against the global control group (docs/experiments.md)."""

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
    treated_repeat_rate: float | None  # the share of enrolled customers who ordered in the window
    held_out_repeat_rate: float | None
    variance_removed: float
    detectable_effect: float | None
    verdict: str  # added, lost, no clear effect, not enough customers yet to tell
    customers_needed: int | None
    weeks_needed: float | None


@dataclass(frozen=True, kw_only=True)
class ProgrammeEffect(Result):
    """The whole programme against the global control group (``[experiments]``): existing customers
    (an order before ``since``) outside the group (``treated``: the playbooks may reach them)
    against those in it (``held_out``: no playbook at all), revenue net of returns per customer
    from ``since`` to ``as_of``, both days counted; figures and verdict as in ``PlaybookEffect``,
    the covariate being revenue in the 365 days before ``since``."""

    as_of: date
    since: date
    days: int  # from since to as of, both counted (0: the group begins after as of)
    control_share: float
    treated: int
    held_out: int
    sample_ratio_p: float  # under 0.001: the split does not match the control share (a warning)
    sample_ratio_warning: bool
    treated_revenue: float | None
    held_out_revenue: float | None
    difference: float | None
    low: float | None
    high: float | None
    bootstrap_low: float | None
    bootstrap_high: float | None
    incremental_revenue: float | None  # the difference times the customers outside the group
    incremental_low: float | None
    incremental_high: float | None
    variance_removed: float
    detectable_effect: float | None
    verdict: str  # added, lost, no clear effect, not enough customers yet to tell
    customers_needed: int | None  # existing customers in all, for the target effect at this share


@dataclass(frozen=True, kw_only=True)
class PlaybookOffers(Result):
    """A playbook's offer decisions up to ``as_of`` (``[experiments] target_offers``): how many got
    the offer and how many went without it, and what the model expected in the goal window. Gains
    and costs sum the model's decisions (``by_model``; the default's have none): ``expected_gain``
    of the offers given, ``expected_gain_everyone`` had every decided customer got one, ``saving``
    the first less the second (what not discounting everyone is expected to earn)."""

    playbook: str
    as_of: date
    targeted: bool  # named in target_offers now
    offer: str | None  # its first step's offer
    offer_rate: float  # the share that offer gives away
    decisions: int
    offered: int
    withheld: int
    by_model: int  # decided by the fitted learner; the rest by the default (too little data)
    model: str | None  # what made the latest decisions
    last_decided_on: date | None
    expected_gain: float | None
    expected_gain_everyone: float | None
    saving: float | None
    expected_cost: float | None  # the discounts of the offers given
    expected_cost_everyone: float | None
