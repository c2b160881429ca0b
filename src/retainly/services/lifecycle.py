"""Lifecycle: where each customer stands (new, active, at risk, lapsed, lost, won back; VIP),
why, their churn warning signs, and how customers move between stages (docs/lifecycle.md)."""

from __future__ import annotations

from datetime import date, timedelta

from retainly.errors import InputError
from retainly.features.orders import check_day
from retainly.features.rhythm import customer_rhythm
from retainly.results import CallListEntry, CustomerStage, FlowCell, LifecycleFlow, StageCount, StageTally, Transition
from retainly.results.base import rows
from retainly.scores.stored import predictions_at
from retainly.segments import call_list, lifecycle_store
from retainly.segments.lifecycle import STAGES, lifecycle_stages
from retainly.segments.lifecycle_store import NOT_A_CUSTOMER
from retainly.segments.warning_signs import warning_signs
from retainly.services.base import Service

__all__ = ["LifecycleService", "NOT_A_CUSTOMER", "STAGES"]


class LifecycleService(Service):
    """Stages and warning signs stored per date; counts, customers and flows read from them."""

    def compute(self, as_of: date | None = None) -> date:
        """Compute and store every customer's stage and churn warning signs as of a date."""
        as_of = self.ws.predictions.ensure(as_of)
        settings = self.settings
        facts = customer_rhythm(self.analytics, as_of)
        now = predictions_at(self.analytics, as_of)
        stages = lifecycle_stages(self.analytics, as_of, now, settings.lifecycle, facts=facts)
        before = predictions_at(self.analytics, as_of - timedelta(days=settings.warning_signs.fading_days))
        signs = warning_signs(self.analytics, as_of, facts, now, before, settings.warning_signs)
        lifecycle_store.store_stages(self.analytics, as_of, stages, signs)
        return as_of

    def ensure(self, as_of: date | None = None) -> date:
        """Stages and signs for ``as_of``, computed when missing or older than the last import."""
        return self.ensure_derived("lifecycle", as_of)

    def counts(self, as_of: date | None = None) -> list[StageCount]:
        """Customers (and VIPs among them) per stage, in the order of the stages."""
        counted = {row["stage"]: row for row in lifecycle_store.stage_counts(self.store, self.ensure(as_of))}
        total = sum(row["customers"] for row in counted.values()) or 1
        return [StageCount(**counted[stage], share=round(counted[stage]["customers"] / total, 4))
                for stage in STAGES if stage in counted]

    def customers(self, as_of: date | None = None) -> list[CustomerStage]:
        """Every customer's stage, VIP flag, reason, risk score and warning signs as of a date."""
        return rows(CustomerStage, lifecycle_store.customer_stages(self.store, self.ensure(as_of)))

    def call_list(self, as_of: date | None = None, limit: int = 25) -> list[CallListEntry]:
        """Customers most worth a call: drifting away but not gone, largest saveable value first
        (the rule: retainly.segments.call_list, docs/lifecycle.md)."""
        as_of = self.ensure(as_of)
        self.ws.rfm.ensure(as_of)
        return rows(CallListEntry, call_list.call_list(self.store, as_of, limit))

    def flow(self, first: date, last: date | None = None, trend: bool = True) -> LifecycleFlow:
        """Stages at ``first`` and ``last`` (default: the last order), the flow between them, and
        the monthly trend of stage changes (snapshots at every month end in between; with
        ``trend`` False, no trend and only the two snapshots the flow needs)."""
        check_day(first, "first")
        last = self.as_of(last, "last")
        self.ensure(last)
        if first >= last:
            raise InputError(f"`first` {first} must be before `last` {last}", parameter="first")
        dates = lifecycle_store.snapshot_dates(first, last) if trend else [first, last]
        done = self.store.fresh_dates("lifecycle_stages")
        for day in dates:
            if day not in done:
                self.ws.progress(f"computing lifecycle stages as of {day} (for the flow since {first})")
                stages = lifecycle_stages(self.analytics, day, predictions_at(self.analytics, day),
                                          self.settings.lifecycle)
                lifecycle_store.store_stages(self.analytics, day, stages)
        if trend:
            lifecycle_store.store_transitions(self.store, dates)
        return LifecycleFlow(
            first=first, last=last,
            stages_from=rows(StageTally, lifecycle_store.stage_counts(self.store, first)),
            stages_to=rows(StageTally, lifecycle_store.stage_counts(self.store, last)),
            flow=rows(FlowCell, lifecycle_store.flow_matrix(self.store, first, last)),
            trend=rows(Transition, lifecycle_store.transition_trend(self.store, dates)) if trend else [])
