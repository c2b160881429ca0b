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
import pyarrow as pa
import pyarrow.compute as pc

from retainly.features.model_summary import end_of
from retainly.messaging.feedback import DETRACTOR_MAX, SCORE
from retainly.segments.wording import day_counts, formatted, joined
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

    return signs_table(frame["customer_id"].to_numpy(), sign_texts(frame.reset_index(drop=True), as_of, s))


def sign_texts(frame: pd.DataFrame, as_of: date, s: WarningSettings) -> dict[str, tuple[np.ndarray, pa.Array]]:
    """Per sign (in ``WEIGHTS``' order): the positions of the rows of ``frame`` it applies to, and its text
    for each of them. Conditions are column-wise; only the rows a sign applies to are worded, by Arrow."""
    found: dict[str, tuple[np.ndarray, pa.Array]] = {}

    def add(name: str, applies, words, *columns) -> None:
        at = np.flatnonzero(np.asarray(applies, dtype=bool))
        found[name] = (at, words(*(np.asarray(column)[at] for column in columns)))

    n, since, own = frame["purchase_days"], frame["days_since_last"], frame["own_rhythm"]
    add("overdue", (n >= 2) & (since > np.maximum(s.overdue_rhythms * own, s.overdue_floor_days)),
        lambda o, d: joined("usually orders every ", day_counts(o), " days; last order ", formatted(d, ""),
                            " days ago"), own, since)
    gap, prior = frame["last_gap_days"], frame["prior_rhythm"]
    add("slowing_down", (n >= 4) & (gap > s.slowing_factor * prior),
        lambda g, p: joined("the last gap between orders was ", day_counts(g), " days, against ", day_counts(p),
                            " before"), gap, prior)
    recent = frame["recent_spend"] / 2
    earlier = (frame["net_spend"] - frame["recent_spend"]) / (n - 2).where(n >= 4)
    add("spending_less", (n >= 4) & (earlier > 0) & (recent < s.spending_factor * earlier),
        lambda r, e: joined("the last two orders averaged ", formatted(r, ",.2f"), ", against ",
                            formatted(e, ",.2f"), " before"), recent, earlier)
    returns = frame["returns"]
    add("recent_returns", returns > 0,
        lambda k, v: joined("returned ", day_counts(k), " item line(s) worth ", formatted(v, ",.2f"),
                            f" in the last {s.returns_days} days"), returns, frame["returned"])
    bad = frame["bad_contacts"]
    add("complaints", bad > 0,
        lambda k, t: joined(day_counts(k), f" complaint(s) or negative contact(s) in the last {s.contacts_days} "
                            "days, the latest on ", _days_of(t)), bad, frame["last_bad_contact"])
    visited = pd.to_datetime(frame["last_visit"])
    if visited.dt.tz is not None:  # the visit's own calendar day, as a date (no daylight-saving hours)
        visited = visited.dt.tz_localize(None)
    quiet = (pd.Timestamp(as_of) - visited.dt.normalize()).dt.days
    add("no_visits", visited.notna() & (quiet > s.visits_days),
        lambda q: joined("no site visit for ", day_counts(q), " days"), quiet)
    # (a hair of tolerance: 0.7 - 0.5 is 0.19999999999999996 in floating point)
    before, now = frame["p_before"], frame["p_now"]
    add("fading", (before - now) >= s.fading_drop - 1e-9,
        lambda b, w: joined("P(alive) fell from ", formatted(b, ".2f"), " to ", formatted(w, ".2f"),
                            f" in the last {s.fading_days} days"), before, now)
    return found


def signs_table(customer_ids: np.ndarray, found: dict[str, tuple[np.ndarray, pa.Array]]) -> pd.DataFrame:
    """customer_id, risk_score, signs (JSON list of {sign, text}, in ``WEIGHTS``' order), sign_count."""
    code = np.zeros(len(customer_ids), dtype=np.int64)
    for bit, name in enumerate(WEIGHTS):
        code[found[name][0]] |= 1 << bit
    # Every sign's JSON pieces in one column, put in customer order (stably: the signs' own order is kept
    # within a customer), and joined per customer as lists.
    at = np.concatenate([found[name][0] for name in WEIGHTS])
    pieces = pa.concat_arrays([_json_objects(name, found[name][1]) for name in WEIGHTS])
    order = np.argsort(at, kind="stable")
    ends = np.cumsum(np.bincount(at, minlength=len(customer_ids)))
    lists = pa.ListArray.from_arrays(pa.array(np.concatenate([[0], ends]), pa.int32()), pieces.take(pa.array(order)))
    # One risk per combination of signs, worked out as one customer's (rounding included).
    risks = np.array([_risk([name for bit, name in enumerate(WEIGHTS) if combination >> bit & 1])
                      for combination in range(1 << len(WEIGHTS))])
    return pd.DataFrame({"customer_id": customer_ids, "risk_score": risks[code],
                         "signs": joined("[", pc.binary_join(lists, ", "), "]").to_pandas(),
                         "sign_count": sum((code >> bit) & 1 for bit in range(len(WEIGHTS)))})


def _json_objects(name: str, texts: pa.Array) -> pa.Array:
    """``json.dumps({"sign": name, "text": text})`` of each text. The texts are fixed words and formatted
    numbers, which JSON takes as they are; any text it would escape is dumped by ``json`` itself."""
    plain = joined(f'{{"sign": {json.dumps(name)}, "text": "', texts, '"}')
    escaped = pc.match_substring_regex(texts, r'["\\\x00-\x1f\x{80}-\x{10ffff}]')
    if not pc.any(escaped).as_py():
        return plain
    dumped = pa.array([json.dumps({"sign": name, "text": text}) for text in texts.to_pylist()], pa.string())
    return pc.if_else(escaped, dumped, plain)


def _days_of(moments: np.ndarray) -> pa.Array:
    """The calendar day of each moment (in its own time zone), as ISO text ("NaT" for none, as Python says)."""
    stamps = pd.to_datetime(pd.Series(moments))
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_localize(None)
    days = pa.array(stamps.dt.normalize().to_numpy().astype("datetime64[D]")).cast(pa.string())
    return pc.fill_null(days, "NaT")


def _risk(signs: list[str]) -> float:
    """1 - Π(1 - weight) over ``signs``, to 4 decimals; 0 with none."""
    return round(1.0 - float(np.prod([1.0 - WEIGHTS[sign] for sign in signs])), 4) if signs else 0.0


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
    frame = mine.group_by("customer_id").aggregate(returns=mine.count(),
                                                   returned=mine.amount.sum().cast("float64")).to_pandas()
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
    visits = events.filter(events.customer_id.notnull() & (events.kind == "visit")
                           & (events.occurred_at < end_of(as_of)))
    return visits.group_by("customer_id").aggregate(last_visit=visits.occurred_at.max()).to_pandas()
