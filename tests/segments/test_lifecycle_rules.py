"""Every lifecycle stage rule and every warning sign, on hand-made customer facts.

The facts are what ``customer_rhythm`` returns; each customer below is built to sit just on
one side of one rule, and the expected stage and text follow from the defaults of
``LifecycleSettings`` / ``WarningSettings`` by hand (worked out in the comments).
"""

from __future__ import annotations

import json
from datetime import date
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from retainly.segments.lifecycle import STAGES, _reasons, assign_stages
from retainly.segments.warning_signs import WEIGHTS, _json_objects, sign_texts, signs_table
from retainly.settings import LifecycleSettings, WarningSettings

SHOP_RHYTHM = 40.0  # days: one-time buyers are judged by this gap


def facts(**customers) -> pd.DataFrame:
    """One row per customer:
    (purchase_days, age_days, days_since_last, span_days, last_gap_days, p_alive, clv, spend)."""
    rows = []
    for number, (name, (n, age, since, span, last_gap, p_alive, clv, spend)) in enumerate(customers.items()):
        rows.append({
            "customer_id": number, "name": name, "purchase_days": n, "age_days": age, "days_since_last": since,
            "span_days": span, "last_gap_days": np.nan if last_gap is None else last_gap,
            "own_rhythm": span / (n - 1) if n >= 2 else np.nan,
            "prior_rhythm": (span - last_gap) / (n - 2) if n >= 3 else np.nan,
            "p_alive": np.nan if p_alive is None else p_alive, "clv": np.nan if clv is None else clv,
            "net_spend": spend,
        })
    return pd.DataFrame(rows)


def stages(frame: pd.DataFrame, settings=LifecycleSettings()) -> dict:
    result = assign_stages(frame, SHOP_RHYTHM, settings)
    return dict(zip(frame["name"], zip(result["stage"], result["vip"], result["reason"])))


def test_each_stage_rule_by_hand():
    got = stages(facts(
        # first purchase 59 days ago (< new_days 60): new, even with a second order since
        fresh=(2, 59, 5, 54, 54, None, None, 100.0),
        # 61 days old, one purchase: not new; 61 > max(1.5 x 40, 30) = 60 -> at risk
        one_timer=(1, 61, 61, 0, None, None, None, 50.0),
        # rhythm 30 days (span 120 over 4 gaps); 45 days since = 1.5 x 30, not more -> active
        steady=(5, 400, 45, 120, 30, None, None, 500.0),
        # same rhythm, 46 days since > 45 -> at risk; lapsed needs > max(90, 90) = 90
        slipping=(5, 400, 46, 120, 30, None, None, 500.0),
        # rhythm 30: 91 days > max(3 x 30, 90) = 90 -> lapsed; lost needs > max(180, 180)
        quiet=(5, 400, 91, 120, 30, None, None, 500.0),
        # rhythm 30: 181 days > max(6 x 30, 180) = 180 -> lost
        gone=(5, 600, 181, 120, 30, None, None, 500.0),
        # slow rhythm 200 days: 731 days > lost_after_days 730 -> lost whatever the rhythm
        very_slow=(3, 2000, 731, 400, 200, None, None, 500.0),
        # came back 90 days ago (<= won_back_days) after 200 days away; before that every 20 days
        # (span 240 - 200 = 40 over 2 gaps); 200 > max(3 x 20, 90) -> won back
        returner=(4, 500, 90, 240, 200, None, None, 300.0),
        # came back after only 80 days: 80 <= max(3 x 20, 90) = 90 -> not won back; 10 days since -> active
        short_break=(4, 500, 10, 120, 80, None, None, 300.0),
    ))
    assert {name: stage for name, (stage, _, _) in got.items()} == {
        "fresh": "new", "one_timer": "at_risk", "steady": "active", "slipping": "at_risk", "quiet": "lapsed",
        "gone": "lost", "very_slow": "lost", "returner": "won_back", "short_break": "active"}
    assert got["slipping"][2] == "usually orders every 30 days; last order 46 days ago (1.5x the usual gap)"
    assert got["one_timer"][2] == ("one purchase so far (the shop's usual gap is 40 days); last order 61 days ago "
                                   "(1.5x the usual gap)")
    assert got["returner"][2] == "came back 90 days ago after 200 days away; they used to order every 20 days"
    assert got["fresh"][2] == "first order within the last 60 days; last order 5 days ago"


def test_p_alive_moves_a_customer_down_and_says_so():
    # Rhythm 30, 20 days since: active by rhythm. P(alive) 0.55 < 0.6 -> at risk; 0.29 < 0.3 -> lapsed;
    # 0.09 < 0.1 -> lost; 0.6 is not below 0.6 -> active.
    got = stages(facts(
        a=(5, 400, 20, 120, 30, 0.55, None, 1.0), b=(5, 400, 20, 120, 30, 0.29, None, 1.0),
        c=(5, 400, 20, 120, 30, 0.09, None, 1.0), d=(5, 400, 20, 120, 30, 0.6, None, 1.0)))
    assert [got[k][0] for k in "abcd"] == ["at_risk", "lapsed", "lost", "active"]
    assert got["a"][2] == "P(alive) fell to 0.55; usually orders every 30 days; last order 20 days ago"


def test_vip_is_the_top_share_by_clv_else_by_spend():
    # 40 customers, vip_share 0.05 -> ceil(2.0) = 2 VIPs: the two highest values.
    spend_only = facts(**{f"c{i}": (3, 400, 10, 60, 30, None, None, float(i)) for i in range(40)})
    vips = [name for name, (_, vip, _) in stages(spend_only).items() if vip]
    assert vips == ["c38", "c39"]
    by_clv = facts(**{f"c{i}": (3, 400, 10, 60, 30, 0.9, float(40 - i), float(i)) for i in range(40)})
    assert [name for name, (_, vip, _) in stages(by_clv).items() if vip] == ["c0", "c1"]


def test_settings_change_the_thresholds():
    # With at_risk_rhythms 2.0 the 'slipping' customer (46 days, rhythm 30) is active again.
    frame = facts(slipping=(5, 400, 46, 120, 30, None, None, 1.0))
    assert stages(frame, LifecycleSettings(at_risk_rhythms=2.0))["slipping"][0] == "active"


def _row_by_row_reason(stage, rhythm, since, p_alive, own_known, last_gap, prior, by_rhythm, shop_days,
                       s: LifecycleSettings) -> str:
    """The independent reference: one customer's reason with Python's own formatting (the form
    ``_reasons`` had before it was built column-wise)."""
    habit = (f"usually orders every {rhythm:.0f} days" if own_known
             else f"one purchase so far (the shop's usual gap is {shop_days:.0f} days)")
    last = f"last order {since:.0f} days ago"
    if stage == "new":
        return f"first order within the last {s.new_days} days; {last}"
    if stage == "won_back":
        before = (f"they used to order every {prior:.0f} days" if prior is not None
                  else f"the shop's usual gap is {shop_days:.0f} days")
        return f"came back {since:.0f} days ago after {last_gap:.0f} days away; {before}"
    if stage == "active":
        return f"{habit}; {last}"
    if by_rhythm:
        return f"{habit}; {last} ({since / rhythm:.1f}x the usual gap)"
    return f"P(alive) fell to {p_alive:.2f}; {habit}; {last}"


def test_column_wise_reasons_match_the_row_by_row_reference():
    # 20,000 random customers in every stage, with halves to round (rhythm 2.5, 0.125 P(alive), ratios
    # like 1.25) and unknown rhythms: each reason must equal the one-customer-at-a-time reference's.
    rng = np.random.default_rng(5)
    size, s, shop_days = 20_000, LifecycleSettings(), 37.5
    stage = rng.choice(STAGES, size).astype(object)
    by_rhythm = rng.random(size) < 0.5
    rhythm = rng.choice([1.0, 2.5, 3.5, 30.0, 33.333333, 37.5, 120.0], size)
    since = rng.integers(0, 900, size).astype(float)
    p_alive = rng.choice([0.005, 0.125, 0.135, 0.29, 0.5, 0.999], size)
    own_known, known_prior = rng.random(size) < 0.7, rng.random(size) < 0.6
    last_gap = np.where(rng.random(size) < 0.1, np.nan, rng.choice([0.5, 90.0, 200.0, 212.5], size))
    prior = rng.choice([1.0, 20.0, 22.5, 37.5], size)
    got = _reasons(stage, by_rhythm, rhythm, since, p_alive, own_known, last_gap, prior, known_prior, shop_days, s)
    expected = [_row_by_row_reason(st, r, d, p, own, g, pr if kp else None, by, shop_days, s)
                for st, r, d, p, own, g, pr, kp, by in zip(stage, rhythm, since, p_alive, own_known, last_gap, prior,
                                                           known_prior, by_rhythm)]
    assert got.to_pylist() == expected
    assert {text.split(" ")[0] for text in expected} >= {"first", "came", "usually", "one", "P(alive)"}


def sign_row(**values) -> SimpleNamespace:
    base = dict(purchase_days=5, days_since_last=10, own_rhythm=30.0, prior_rhythm=30.0, last_gap_days=30.0,
                net_spend=500.0, recent_spend=200.0, returns=0.0, returned=0.0, bad_contacts=0.0,
                last_bad_contact=pd.NaT, last_visit=pd.NaT, p_now=np.nan, p_before=np.nan)
    return SimpleNamespace(**{**base, **values})


AS_OF = date(2025, 6, 30)


def _signs(row: SimpleNamespace, as_of: date, s: WarningSettings) -> list[tuple[str, str]]:
    """The (sign, text) pairs ``sign_texts`` finds for one customer's row, in ``WEIGHTS``' order."""
    found = sign_texts(pd.DataFrame([vars(row)]), as_of, s)
    return [(name, found[name][1][0].as_py()) for name in WEIGHTS if len(found[name][0])]


def names(row) -> list[str]:
    return [name for name, _ in _signs(row, AS_OF, WarningSettings())]


def test_no_sign_for_a_steady_customer():
    # 10 days since (rhythm 30), last gap = prior rhythm, last two average 100 = earlier 300 / 3
    assert _signs(sign_row(), AS_OF, WarningSettings()) == []


def test_each_sign_by_hand():
    s = WarningSettings()
    assert _signs(sign_row(days_since_last=46), AS_OF, s) == [
        ("overdue", "usually orders every 30 days; last order 46 days ago")]  # 46 > 1.5 x 30
    assert names(sign_row(days_since_last=45)) == []  # not more than 45
    assert names(sign_row(purchase_days=2, own_rhythm=5.0, days_since_last=14)) == []  # the 14-day floor
    assert _signs(sign_row(last_gap_days=61), AS_OF, s) == [
        ("slowing_down", "the last gap between orders was 61 days, against 30 before")]  # 61 > 2 x 30
    # last two average 100 / 2 = 50, earlier (500 - 100) / 3 = 133.33; 50 < 0.6 x 133.33 = 80
    assert _signs(sign_row(recent_spend=100.0), AS_OF, s) == [
        ("spending_less", "the last two orders averaged 50.00, against 133.33 before")]
    assert _signs(sign_row(returns=2.0, returned=35.5), AS_OF, s) == [
        ("recent_returns", "returned 2 item line(s) worth 35.50 in the last 90 days")]
    assert _signs(sign_row(bad_contacts=1.0, last_bad_contact=pd.Timestamp("2025-05-02 10:00")), AS_OF, s) == [
        ("complaints", "1 complaint(s) or negative contact(s) in the last 180 days, the latest on 2025-05-02")]
    assert _signs(sign_row(last_visit=pd.Timestamp("2025-04-30 09:00")), AS_OF, s) == [
        ("no_visits", "no site visit for 61 days")]  # April 30 to June 30: 61 > 60
    assert names(sign_row(last_visit=pd.Timestamp("2025-05-01 09:00"))) == []  # 60 days: not more than 60
    assert _signs(sign_row(p_now=0.5, p_before=0.7), AS_OF, s) == [
        ("fading", "P(alive) fell from 0.70 to 0.50 in the last 90 days")]  # a drop of 0.2
    assert names(sign_row(p_now=0.51, p_before=0.7)) == []


def test_signs_need_enough_history():
    # slowing_down and spending_less need 4+ purchase days; overdue needs 2+
    row = sign_row(purchase_days=3, last_gap_days=100.0, recent_spend=10.0)
    assert "slowing_down" not in names(row) and "spending_less" not in names(row)
    assert names(sign_row(purchase_days=1, own_rhythm=np.nan, days_since_last=400)) == []


def test_risk_score_combines_the_weights():
    # Weights as documented; two signs give 1 - (1 - 0.35)(1 - 0.25) = 0.5125.
    assert WEIGHTS["overdue"] == 0.35 and WEIGHTS["complaints"] == 0.25
    assert 1 - (1 - WEIGHTS["overdue"]) * (1 - WEIGHTS["complaints"]) == pytest.approx(0.5125)


def _row_by_row_signs(row, as_of: date, s: WarningSettings) -> list[tuple[str, str]]:
    """The independent reference: the signs worked out one customer at a time with Python's own
    arithmetic (the form ``sign_texts`` had before it was vectorized)."""
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
        found.append(("recent_returns", f"returned {row.returns:.0f} item line(s) worth {row.returned:,.2f} in "
                                        f"the last {s.returns_days} days"))
    if row.bad_contacts > 0:
        found.append(("complaints", f"{row.bad_contacts:.0f} complaint(s) or negative contact(s) in the last "
                                    f"{s.contacts_days} days, the latest on "
                                    f"{pd.Timestamp(row.last_bad_contact).date()}"))
    if not pd.isna(row.last_visit):
        quiet = (as_of - pd.Timestamp(row.last_visit).date()).days
        if quiet > s.visits_days:
            found.append(("no_visits", f"no site visit for {quiet} days"))
    if not np.isnan(row.p_now) and not np.isnan(row.p_before) and row.p_before - row.p_now >= s.fading_drop - 1e-9:
        found.append(("fading", f"P(alive) fell from {row.p_before:.2f} to {row.p_now:.2f} in the last "
                                f"{s.fading_days} days"))
    return found


def test_column_wise_signs_match_the_row_by_row_reference():
    # 5,000 random customers, thresholds hit exactly and missing values included; every sign, text,
    # risk and count must equal what the one-customer-at-a-time reference gives.
    rng = np.random.default_rng(18)
    size, s = 5_000, WarningSettings()

    def some_missing(values, share=0.2):
        return np.where(rng.random(size) < share, np.nan, values)

    def timestamps(days_back, share, tz=None):
        stamps = pd.Timestamp(AS_OF, tz=tz) - pd.to_timedelta(days_back, unit="D") + pd.Timedelta(hours=9)
        return pd.Series(stamps).mask(rng.random(size) < share)

    rhythm = rng.choice([5.0, 20.0, 30.0, 45.5, np.nan], size)
    frame = pd.DataFrame({
        "customer_id": np.arange(size) + 1, "purchase_days": rng.integers(1, 7, size),
        "days_since_last": rng.choice([14, 15, 45, 46, 68, 69, 200], size), "own_rhythm": rhythm,
        "prior_rhythm": some_missing(rng.choice([10.0, 30.0, 30.5], size)),
        "last_gap_days": some_missing(rng.choice([20.0, 60.0, 61.0, 61.2], size)),
        "net_spend": rng.choice([0.0, 100.0, 500.0, 1234.56], size),
        "recent_spend": rng.choice([0.0, 100.0, 200.0], size),
        "returns": rng.choice([0.0, 0.0, 1.0, 2.0], size), "returned": rng.choice([0.0, 35.5, 1999.99], size),
        "bad_contacts": rng.choice([0.0, 0.0, 1.0, 3.0], size),
        "last_bad_contact": timestamps(rng.integers(0, 180, size), 0.5),
        "last_visit": timestamps(rng.choice([59, 60, 61, 61, 400], size), 0.3, tz="Europe/Berlin"),
        "p_now": some_missing(rng.choice([0.5, 0.51, 0.1], size)),
        "p_before": some_missing(rng.choice([0.7, 0.71, 0.3], size)),
    })
    got = signs_table(frame["customer_id"].to_numpy(), sign_texts(frame, AS_OF, s))

    expected = [_row_by_row_signs(row, AS_OF, s) for row in frame.itertuples(index=False)]
    assert got["signs"].tolist() == [json.dumps([{"sign": k, "text": t} for k, t in signs]) for signs in expected]
    assert got["sign_count"].tolist() == [len(signs) for signs in expected]
    assert got["risk_score"].tolist() == [
        round(1.0 - float(np.prod([1.0 - WEIGHTS[k] for k, _ in signs])), 4) if signs else 0.0 for signs in expected]
    assert got["customer_id"].tolist() == frame["customer_id"].tolist()
    assert {k for signs in expected for k, _ in signs} == set(WEIGHTS)  # every sign is exercised


def test_sign_texts_that_json_escapes_are_dumped_by_json():
    # The fast path writes a text into JSON as it is; a quote, a backslash, a control or a non-ASCII
    # character must come out exactly as json.dumps writes it (the reference).
    texts = ["plain words 1,234.50", 'a "quoted" word', "back\\slash", "tab\there", "café", ""]
    got = _json_objects("overdue", pa.array(texts, pa.string())).to_pylist()
    assert got == [json.dumps({"sign": "overdue", "text": text}) for text in texts]
    assert _json_objects("fading", pa.array([], pa.string())).to_pylist() == []
