"""Churn warning signs: what suggests a customer is leaving, each in words a manager can read.

The signs, as of a date D (windows and thresholds in ``WarningSettings``):

* ``overdue``: a repeat buyer whose time since the last order passed ``overdue_rhythms`` times
  their own rhythm ("usually orders every 34 days; last order 81 days ago");
* ``slowing_down``: with 4+ purchase days, the last gap is over ``slowing_factor`` times the
  mean gap before it;
* ``spending_less``: with 4+ purchase days, the last two average under ``spending_factor``
  of the ones before;
* ``recent_returns``: returned something within ``returns_days``;
* ``complaints``: a complaint, or negative or unresolved contact (a feedback score of 0-6
  included), within ``contacts_days``;
* ``no_visits``: visited the site before, but not within ``visits_days``;
* ``fading``: P(alive) fell by ``fading_drop`` or more over the last ``fading_days``.

The risk score combines them: 1 - Π(1 - weight) over the signs that apply, each sign's
weight in ``WEIGHTS``: 0 with no sign, never 1, and more signs always mean more risk.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import ibis
import numpy as np
import pandas as pd

from retainly.features.model_summary import end_of
from retainly.messaging.feedback import DETRACTOR_MAX, SCORE
from retainly.settings import WarningSettings
from retainly.store.backends import Store

WEIGHTS = {"overdue": 0.35, "slowing_down": 0.15, "spending_less": 0.15, "recent_returns": 0.10,
           "complaints": 0.25, "no_visits": 0.10, "fading": 0.30}
NEGATIVE_OUTCOMES = ("negative", "unresolved", "complaint", "angry", "escalated")


def warning_signs(store: Store, as_of: date, facts: pd.DataFrame, p_now: pd.DataFrame | None,
                  p_before: pd.DataFrame | None, settings: WarningSettings = WarningSettings()) -> pd.DataFrame:
    """customer_id, risk_score, signs (JSON list of {sign, text}), sign_count for every customer in ``facts``.

    ``facts`` is ``customer_rhythm(store, as_of)``; ``p_now``/``p_before`` are predictions (customer_id,
    p_alive) at ``as_of`` and ``fading_days`` earlier, or None without predictions.
    """
    s = settings
    frame = facts[["customer_id", "purchase_days", "days_since_last", "own_rhythm", "prior_rhythm", "last_gap_days",
                   "net_spend", "recent_spend"]].copy()
    frame = _merge(frame, _recent_returns(store, as_of, s.returns_days))
    frame = _merge(frame, _bad_contacts(store, as_of, s.contacts_days))
    frame = _merge(frame, _last_visits(store, as_of))
    for name, source in (("p_now", p_now), ("p_before", p_before)):
        if source is not None and len(source):
            frame = frame.merge(source[["customer_id", "p_alive"]].rename(columns={"p_alive": name}),
                                on="customer_id", how="left")
        else:
            frame[name] = np.nan

    rows = []
    for row in frame.itertuples(index=False):
        signs = _signs(row, as_of, s)
        risk = 1.0 - float(np.prod([1.0 - WEIGHTS[sign] for sign, _ in signs])) if signs else 0.0
        rows.append((row.customer_id, round(risk, 4), json.dumps([{"sign": k, "text": t} for k, t in signs]),
                     len(signs)))
    return pd.DataFrame(rows, columns=["customer_id", "risk_score", "signs", "sign_count"])


def _signs(row, as_of: date, s: WarningSettings) -> list[tuple[str, str]]:
    found = []
    n, since, own = row.purchase_days, row.days_since_last, row.own_rhythm
    if n >= 2 and since > max(s.overdue_rhythms * own, s.overdue_floor_days):
        found.append(("overdue", f"usually orders every {own:.0f} days; last order {since} days ago"))
    if n >= 4 and row.last_gap_days > s.slowing_factor * row.prior_rhythm:
        found.append(("slowing_down", f"the last gap between orders was {row.last_gap_days:.0f} days, "
                                      f"against {row.prior_rhythm:.0f} before"))
    if n >= 4:
        recent, earlier = row.recent_spend / 2, (row.net_spend - row.recent_spend) / (n - 2)
        if earlier > 0 and recent < s.spending_factor * earlier:
            found.append(("spending_less", f"the last two orders averaged {recent:,.2f}, against {earlier:,.2f} "
                                           "before"))
    if row.returns > 0:
        found.append(("recent_returns", f"returned {row.returns:.0f} item line(s) worth {row.returned:,.2f} in the "
                                        f"last {s.returns_days} days"))
    if row.bad_contacts > 0:
        found.append(("complaints", f"{row.bad_contacts:.0f} complaint(s) or negative contact(s) in the last "
                                    f"{s.contacts_days} days, the latest on {pd.Timestamp(row.last_bad_contact).date()}"))
    if not pd.isna(row.last_visit):
        quiet = (as_of - pd.Timestamp(row.last_visit).date()).days
        if quiet > s.visits_days:
            found.append(("no_visits", f"no site visit for {quiet} days"))
    # (a hair of tolerance: 0.7 - 0.5 is 0.19999999999999996 in floating point)
    if not np.isnan(row.p_now) and not np.isnan(row.p_before) and row.p_before - row.p_now >= s.fading_drop - 1e-9:
        found.append(("fading", f"P(alive) fell from {row.p_before:.2f} to {row.p_now:.2f} in the last "
                                f"{s.fading_days} days"))
    return found


def _merge(frame: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    merged = frame.merge(extra, on="customer_id", how="left")
    for column in extra.columns:
        if column != "customer_id" and merged[column].dtype.kind in "fi":
            merged[column] = merged[column].fillna(0)
    return merged


def _recent_returns(store: Store, as_of: date, days: int) -> pd.DataFrame:
    returns = store.table("returns")
    mine = returns.filter(returns.customer_id.notnull() & (returns.returned_at < end_of(as_of))
                          & (returns.returned_at >= end_of(as_of - timedelta(days=days))))
    frame = mine.group_by("customer_id").aggregate(returns=mine.count(), returned=mine.amount.sum().cast("float64")).to_pandas()
    return frame.astype({"returns": float, "returned": float})


def _bad_contacts(store: Store, as_of: date, days: int) -> pd.DataFrame:
    contacts = store.table("interactions")
    # A feedback score of 0-6 (an NPS detractor, retainly.messaging.feedback) is a negative contact too.
    score = contacts.outcome.re_search(SCORE).ifelse(contacts.outcome.strip().cast("int64"), ibis.null("int64"))
    low_score = (contacts.kind.lower() == "feedback") & (score <= DETRACTOR_MAX).fill_null(False)
    bad = contacts.filter((contacts.occurred_at < end_of(as_of))
                          & (contacts.occurred_at >= end_of(as_of - timedelta(days=days)))
                          & ((contacts.kind.lower() == "complaint") | contacts.outcome.lower().isin(NEGATIVE_OUTCOMES)
                             | low_score))
    frame = bad.group_by("customer_id").aggregate(bad_contacts=bad.count(),
                                                  last_bad_contact=bad.occurred_at.max()).to_pandas()
    return frame.astype({"bad_contacts": float})


def _last_visits(store: Store, as_of: date) -> pd.DataFrame:
    events = store.table("site_events")
    visits = events.filter(events.customer_id.notnull() & (events.kind == "visit") & (events.occurred_at < end_of(as_of)))
    return visits.group_by("customer_id").aggregate(last_visit=visits.occurred_at.max()).to_pandas()
