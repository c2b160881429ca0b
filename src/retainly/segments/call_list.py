"""Customers most worth a call: the value that a call can still save, largest first.

A call is worth making to a customer who is drifting away but not gone, and whose coming
back is worth something. So the list takes, as of a date:

* customers whose lifecycle stage says they are drifting: ``at_risk`` or ``lapsed`` (they are
  overdue by their own rhythm of buying, docs/lifecycle.md); ``lost`` customers are gone,
  ``active``, ``new`` and ``won_back`` ones need no rescue;
* whose calibrated chance to order within the window (docs/models.md) is at least
  ``min_chance``: below that, nobody comes back, whatever is said to them;
* and at most ``max_chance``: above that, they will very likely order anyway;

and ranks them by **saveable value** = CLV × (1 − chance to order): the customer's expected
value over the horizon, times the share of it that is at stake because they may not come
back on their own. Ties go to the lower customer id, so the list is stable.
"""

from __future__ import annotations

from datetime import date

from retainly.store.backends import Store

DRIFTING_STAGES = ("at_risk", "lapsed")
MIN_CHANCE = 0.05  # below this chance to order, a customer is as good as gone
MAX_CHANCE = 0.6  # above it, the customer will very likely order without a call


def call_list(store: Store, as_of: date, limit: int, stages: tuple[str, ...] = DRIFTING_STAGES,
              min_chance: float = MIN_CHANCE, max_chance: float = MAX_CHANCE) -> list[dict]:
    """The customers of the module docstring's rule, largest saveable value first (rows as dicts).

    Needs the lifecycle stages, predictions and RFM scores of ``as_of`` stored.
    """
    stages_table = store.table("lifecycle_stages")
    drifting = stages_table.filter((stages_table.as_of == as_of) & stages_table.stage.isin(stages)).select(
        "customer_id", "stage", "vip")
    scores = store.table("customer_scores")
    scores = scores.filter((scores.as_of == as_of) & scores.order_chance.between(min_chance, max_chance)).select(
        "customer_id", "p_alive", "order_chance", "clv")
    rfm = store.table("rfm_scores")
    rfm = rfm.filter(rfm.as_of == as_of).select(
        "customer_id", "segment", "recency_days", "frequency", rfm.monetary.cast("float64").name("monetary"))
    customers = store.table("customers").select("customer_id", "external_id", "name", "email", "phone")
    joined = drifting.join(scores, "customer_id").join(rfm, "customer_id").join(customers, "customer_id")
    joined = joined.mutate(saveable_value=joined.clv.fill_null(0) * (1 - joined.order_chance))
    joined = joined.filter(joined.saveable_value > 0)
    return joined.order_by([joined.saveable_value.desc(), joined.customer_id]).limit(limit).select(
        "customer_id", "external_id", "name", "email", "phone", "stage", "vip", "segment", "recency_days",
        "frequency", "monetary", "p_alive", "order_chance", "clv", "saveable_value",
    ).to_pyarrow().to_pylist()
