"""Every lifecycle stage rule and every warning sign, on hand-made customer facts.

The facts are what ``customer_rhythm`` returns; each customer below is built to sit just on
one side of one rule, and the expected stage and text follow from the defaults of
``LifecycleSettings`` / ``WarningSettings`` by hand (worked out in the comments).
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from retainly.segments.lifecycle import assign_stages
from retainly.segments.warning_signs import WEIGHTS, _signs
from retainly.settings import LifecycleSettings, WarningSettings

SHOP_RHYTHM = 40.0  # days: one-time buyers are judged by this gap


def facts(**customers) -> pd.DataFrame:
    """One row per customer: (purchase_days, age_days, days_since_last, span_days, last_gap_days, p_alive, clv, spend)."""
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


def sign_row(**values) -> SimpleNamespace:
    base = dict(purchase_days=5, days_since_last=10, own_rhythm=30.0, prior_rhythm=30.0, last_gap_days=30.0,
                net_spend=500.0, recent_spend=200.0, returns=0.0, returned=0.0, bad_contacts=0.0,
                last_bad_contact=pd.NaT, last_visit=pd.NaT, p_now=np.nan, p_before=np.nan)
    return SimpleNamespace(**{**base, **values})


AS_OF = date(2025, 6, 30)


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
