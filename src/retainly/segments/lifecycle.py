"""Lifecycle stages: where each customer stands as of a date, and why.

Each customer who has bought is in exactly one stage, decided in this order:

1. **new**: the first purchase is less than ``new_days`` old;
2. **won_back**: bought again within the last ``won_back_days`` after a gap long enough to
   have counted as lapsed (by the rhythm they had before that gap);
3. **lost**, 4. **lapsed**, 5. **at_risk**: the time since the last purchase passed
   ``lost_rhythms`` / ``lapsed_rhythms`` / ``at_risk_rhythms`` times the customer's own rhythm
   (mean days between purchase days; the shop's median rhythm for one-time buyers), each with
   a floor in days so that a fast buyer is not "lost" after two quiet weeks (and anyone is
   lost after ``lost_after_days`` without a purchase, whatever their rhythm), or P(alive)
   fell below ``lost_p_alive`` / ``lapsed_p_alive`` / ``at_risk_p_alive`` (when predictions
   exist); the worse of the two wins;
6. **active**: everyone else.

**VIP** is an overlay, not a stage: the top ``vip_share`` of customers by predicted CLV when
predictions exist, else by net spend to date. Every row carries a reason in plain words.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retainly.features.rhythm import customer_rhythm, shop_rhythm
from retainly.segments.wording import day_counts, formatted, joined
from retainly.settings import LifecycleSettings

STAGES = ("new", "active", "at_risk", "lapsed", "lost", "won_back")


def lifecycle_stages(store, as_of: date, predictions: pd.DataFrame | None,
                     settings: LifecycleSettings = LifecycleSettings(),
                     facts: pd.DataFrame | None = None) -> pd.DataFrame:
    """customer_id, stage, vip, rhythm_days, days_since_last, p_alive, value, reason as of ``as_of``.

    ``facts``: ``customer_rhythm(store, as_of)`` when the caller already has it (the warning signs read it too).
    """
    facts = customer_rhythm(store, as_of) if facts is None else facts
    if facts.empty:
        return pd.DataFrame(columns=["customer_id", "stage", "vip", "rhythm_days", "days_since_last", "p_alive",
                                     "value", "reason"])
    if predictions is not None and len(predictions):
        facts = facts.merge(predictions[["customer_id", "p_alive", "clv"]], on="customer_id", how="left")
    else:
        facts = facts.assign(p_alive=np.nan, clv=np.nan)
    return assign_stages(facts, shop_rhythm(facts), settings)


def assign_stages(facts: pd.DataFrame, shop_days: float, settings: LifecycleSettings) -> pd.DataFrame:
    """The stage rules on a frame of ``customer_rhythm`` facts with p_alive and clv columns."""
    s = settings
    rhythm = facts["own_rhythm"].fillna(shop_days).clip(lower=1.0).to_numpy()
    since = facts["days_since_last"].to_numpy(dtype=float)
    p_alive = facts["p_alive"].to_numpy(dtype=float)
    has_p = ~np.isnan(p_alive)
    # (stage, passed by rhythm, passed by P(alive)), worst first
    limits = {
        "lost": (np.maximum(s.lost_rhythms * rhythm, s.lost_floor_days), s.lost_p_alive),
        "lapsed": (np.maximum(s.lapsed_rhythms * rhythm, s.lapsed_floor_days), s.lapsed_p_alive),
        "at_risk": (np.maximum(s.at_risk_rhythms * rhythm, s.at_risk_floor_days), s.at_risk_p_alive),
    }
    prior = facts["prior_rhythm"].fillna(shop_days).clip(lower=1.0).to_numpy()
    last_gap = facts["last_gap_days"].to_numpy(dtype=float)
    returned = (facts["purchase_days"].to_numpy() >= 2) & (since <= s.won_back_days) & (
        last_gap > np.maximum(s.lapsed_rhythms * prior, s.lapsed_floor_days))
    is_new = facts["age_days"].to_numpy() < s.new_days

    stage = np.full(len(facts), "active", dtype=object)
    by_rhythm = np.zeros(len(facts), dtype=bool)
    for name in ("at_risk", "lapsed", "lost"):  # later (worse) stages overwrite earlier ones
        after, floor_p = limits[name]
        overdue = since > after
        if name == "lost":
            overdue |= since > s.lost_after_days
        faded = has_p & (p_alive < floor_p)
        stage[overdue | faded] = name
        by_rhythm[overdue | faded] = overdue[overdue | faded]
    stage[returned] = "won_back"
    stage[is_new] = "new"

    value = facts["clv"].to_numpy(dtype=float)
    if np.isnan(value).all():
        value = facts["net_spend"].to_numpy(dtype=float)
    value = np.nan_to_num(value, nan=0.0)
    vip_count = int(np.ceil(settings.vip_share * len(facts)))
    vip = np.zeros(len(facts), dtype=bool)
    if vip_count:
        top = np.argsort(-value, kind="stable")[:vip_count]
        vip[top[value[top] > 0]] = True

    own_known = facts["own_rhythm"].notna().to_numpy()
    known_prior = facts["prior_rhythm"].notna().to_numpy()
    reasons = _reasons(stage, by_rhythm, rhythm, since, p_alive, own_known, last_gap, prior, known_prior, shop_days, s)
    return pd.DataFrame({
        "customer_id": facts["customer_id"].to_numpy(), "stage": stage, "vip": vip,
        "rhythm_days": np.round(rhythm, 1), "days_since_last": since.astype(int),
        "p_alive": p_alive, "value": value, "reason": reasons.to_pandas(),
    })


def _reasons(stage, by_rhythm, rhythm, since, p_alive, own_known, last_gap, prior, known_prior, shop_days,
             s: LifecycleSettings) -> pa.Array:
    """Each customer's reason in words, built column-wise in Arrow: the customers are grouped by the
    wording that applies to them, each group's numbers formatted and words joined in one pass (day
    counts cast by Arrow, fractions by Python's own formatting once per distinct value), and the
    groups put back in the customers' order."""
    usual = f"the shop's usual gap is {shop_days:.0f} days"

    def habit(at):
        return pc.if_else(pa.array(own_known[at]), joined("usually orders every ", day_counts(rhythm[at]), " days"),
                          f"one purchase so far ({usual})")

    def last(at):
        return joined("last order ", day_counts(since[at]), " days ago")

    def active(at):
        return joined(habit(at), "; ", last(at))

    def by_gap(at):
        return joined(active(at), " (", formatted(since[at] / rhythm[at], ".1f"), "x the usual gap)")

    def by_p(at):
        return joined("P(alive) fell to ", formatted(p_alive[at], ".2f"), "; ", active(at))

    def won_back(at):
        used_to = joined("they used to order every ", day_counts(prior[at]), " days")
        before = pc.if_else(pa.array(known_prior[at]), used_to, usual)
        return joined("came back ", day_counts(since[at]), " days ago after ", day_counts(last_gap[at]), " days away; ",
                       before)

    def new(at):
        return joined(f"first order within the last {s.new_days} days; ", last(at))

    worse = np.isin(stage, ("at_risk", "lapsed", "lost"))
    wordings = (new, won_back, by_gap, by_p, active)
    group = np.select([stage == "new", stage == "won_back", worse & by_rhythm, worse & ~by_rhythm],
                      np.arange(4, dtype=np.int8), np.int8(4))
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(len(wordings) + 1))
    grouped = pa.concat_arrays([words(order[bounds[k]:bounds[k + 1]]) for k, words in enumerate(wordings)])
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    return grouped.take(pa.array(back))
