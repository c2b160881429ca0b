"""Each customer's buying rhythm as of a date, counted in the engine.

One row per customer who bought by the end of the date, from their purchase days (all
purchase orders of one calendar day are one purchase, as in ``model_summary``):

* ``purchase_days``, ``first_day``, ``last_day``, ``previous_day`` (the purchase day before
  the last; empty with one purchase day);
* ``days_since_last``, ``age_days`` (since the first purchase day), ``span_days`` (first to
  last), ``last_gap_days`` (previous to last);
* ``net_spend`` (all purchase days, net of returns of those orders made by the date) and
  ``recent_spend`` (the last two purchase days).

``own_rhythm`` is the mean gap between purchase days (span / (days - 1)); ``prior_rhythm`` the
same before the last gap. ``shop_rhythm`` is the median own rhythm of repeat buyers.
"""

from __future__ import annotations

from datetime import date

import ibis
import numpy as np
import pandas as pd

from retainly.features.model_summary import purchase_days
from retainly.store.backends import Store

DEFAULT_SHOP_RHYTHM_DAYS = 90.0  # a shop without repeat buyers yet


def customer_rhythm(store: Store, as_of: date) -> pd.DataFrame:
    """The per-customer facts of the module docstring, plus own and prior rhythm (days)."""
    days = purchase_days(store, as_of)
    ranked = days.mutate(back=ibis.row_number().over(ibis.window(group_by="customer_id", order_by=ibis.desc("day"))))
    per = ranked.group_by("customer_id").aggregate(
        purchase_days=ranked.count(), first_day=ranked.day.min(), last_day=ranked.day.max(),
        previous_day=ranked.day.max(where=ranked.back == 1),
        # Money as float in the engine: a Python Decimal per value would be most of the transfer.
        net_spend=ranked.spend.sum().cast("float64"),
        recent_spend=ranked.spend.sum(where=ranked.back <= 1).cast("float64"),
    )
    moment = ibis.literal(as_of)
    frame = per.mutate(
        days_since_last=moment.delta(per.last_day, unit="day"),
        age_days=moment.delta(per.first_day, unit="day"),
        span_days=per.last_day.delta(per.first_day, unit="day"),
        last_gap_days=per.last_day.delta(per.previous_day, unit="day"),
    ).order_by("customer_id").to_pandas()
    n = frame["purchase_days"].astype("int64")
    span = frame["span_days"].astype(float)
    last_gap = frame["last_gap_days"].astype(float)
    frame["own_rhythm"] = (span / (n - 1)).where(n >= 2)
    frame["prior_rhythm"] = ((span - last_gap) / (n - 2)).where(n >= 3)
    for column in ("net_spend", "recent_spend"):
        frame[column] = frame[column].astype(float)
    for column in ("days_since_last", "age_days", "span_days"):
        frame[column] = frame[column].astype("int64")
    return frame


def shop_rhythm(facts: pd.DataFrame) -> float:
    """The median own rhythm of repeat buyers, in days (90 without any)."""
    rhythms = facts["own_rhythm"].dropna()
    return float(np.median(rhythms)) if len(rhythms) else DEFAULT_SHOP_RHYTHM_DAYS
