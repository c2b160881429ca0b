"""A playbook's measured effect on a hand-made store, on both engines.

120 customers enter the playbook "p" on 2024-03-01, 60 in each arm (written straight into the
enrolments, as a run would). Each spent an amount in the year before (the covariate) and bought
again within the 30-day window: the treated customer i spends 2 + (i mod 7) + pre_i / 10, the
held-out one (i mod 7) + pre_i / 10, so the true difference is 2.00 and the covariate explains
most of the spread. One held-out customer returns 5.00 in the window. An order after the window
and an enrolment whose window has not ended by the day measured count for nothing.

Expected figures are computed again in the test from the same amounts (NumPy, SciPy's Welch).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest
from scipy import stats as scipy_stats

from retainly import Workspace
from retainly.experiments.measure import measure
from retainly.experiments.stats import cuped

ENTERED = date(2024, 3, 1)


def shop(ws: Workspace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(arm is treatment, revenue in the window, revenue in the year before) per customer."""
    treated, window, before = [], [], []
    rows, orders = [], []
    for i in range(120):
        is_treated = i % 2 == 0
        pre = 10.0 * (i % 13)
        spend = (2.0 if is_treated else 0.0) + (i % 7) + pre / 10
        ws.store.execute("INSERT INTO customers (customer_id, external_id) VALUES (?, ?)", (i + 1, f"K{i}"))
        rows.append((i + 1, "treatment" if is_treated else "holdout"))
        if pre:
            orders.append((f"B{i}", i + 1, datetime(2023, 9, 1, 12), pre))
        orders.append((f"W{i}", i + 1, datetime(2024, 3, 10, 12), spend))
        treated.append(is_treated)
        window.append(spend)
        before.append(pre)
    orders.append(("LATE", 2, datetime(2024, 4, 15, 12), 500.0))  # after the window: not counted
    for customer_id, arm in rows:
        ws.store.execute("INSERT INTO enrolments (playbook, customer_id, occurrence, enrolled_on, arm, holdout_share, "
                         "goal_days, run_id, created_at) VALUES ('p', ?, 'o', ?, ?, 0.5, 30, 1, ?)",
                         (customer_id, ENTERED, arm, datetime(2024, 3, 1)))
    ws.store.execute("INSERT INTO enrolments (playbook, customer_id, occurrence, enrolled_on, arm, holdout_share, "
                     "goal_days, run_id, created_at) VALUES ('p', 1, 'later', ?, 'treatment', 0.5, 30, 2, ?)",
                     (date(2024, 3, 20), datetime(2024, 3, 20)))  # its window ends 2024-04-19: not yet
    for order_id, customer_id, placed, amount in orders:
        ws.store.execute("INSERT INTO purchases (order_id, customer_id, placed_at, channel, revenue) "
                         "VALUES (?, ?, ?, 'online', ?)", (order_id, customer_id, placed, amount))
    ws.store.execute("INSERT INTO returns (return_id, line_no, customer_id, returned_at, amount) "
                     "VALUES ('R1', 1, 2, ?, 5.0)", (datetime(2024, 3, 12),))
    window[1] -= 5.0  # customer 2 (held out) returned 5.00 in the window
    return np.array(treated), np.array(window), np.array(before)


def test_the_effect_is_the_cuped_welch_difference_of_everyone_assigned(workspace):
    treated, window, before = shop(workspace)
    effect = measure(workspace.store, "p", 30, ENTERED + timedelta(days=40))
    assert (effect.treated, effect.held_out, effect.holdout_share) == (60, 60, 0.5)
    assert effect.sample_ratio_p == pytest.approx(1.0)
    assert effect.treated_revenue == pytest.approx(window[treated].mean(), abs=1e-4)
    assert effect.held_out_revenue == pytest.approx(window[~treated].mean(), abs=1e-4)
    adjusted, _, removed = cuped(window, before)
    interval = scipy_stats.ttest_ind(adjusted[treated], adjusted[~treated], equal_var=False).confidence_interval()
    assert effect.difference == pytest.approx(adjusted[treated].mean() - adjusted[~treated].mean(), abs=1e-4)
    assert (effect.low, effect.high) == (pytest.approx(interval.low, abs=1e-4), pytest.approx(interval.high, abs=1e-4))
    assert effect.low < 2.0 < effect.high and effect.low > 0 and effect.verdict == "added"
    assert effect.incremental_revenue == pytest.approx(effect.difference * 60, abs=0.01)
    assert effect.variance_removed == pytest.approx(removed, abs=1e-4) and removed > 0.3
    assert effect.orders_difference == 0.0  # one order each in the window
    assert (effect.treated_repeat_rate, effect.held_out_repeat_rate) == (1.0, 1.0)


def test_too_few_customers_say_so_instead_of_a_number(workspace):
    shop(workspace)
    early = measure(workspace.store, "p", 30, ENTERED + timedelta(days=29))  # no window has ended yet
    assert (early.treated, early.held_out, early.verdict, early.difference) == (
        0, 0, "not enough customers yet to tell", None)
