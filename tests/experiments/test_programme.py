"""The whole programme's effect against the global control group, on a hand-made store, on both
engines, worked out by hand below.

The group is 20 % from SINCE = 2025-01-01, measured as of AS_OF = 2025-06-30 (181 days, both
counted). 200 existing customers are picked by the group's hash: the first 40 ids in the group
and the first 160 outside it. The j-th customer of each side has the pattern p = j mod 8, so
each pattern is 5 times in the group and 20 times outside, and:

* an order of 20.00 on 2023-06-15 (before the year before SINCE: it only makes them existing);
* revenue 50 (p mod 4) in the year before SINCE (the covariate X; one order, none when 0);
* revenue p + X / 10 from SINCE to AS_OF, 3.00 more outside the group (one order).

Per pattern the group spends 0, 6, 12, 18, 4, 10, 16, 22: 11.00 on average; outside, 3.00
more, less a return of 1.00 by each of the first 16 customers outside (16 / 160 = 0.10): 13.90
(sixteen small returns, not one large one, keep the outcomes near symmetric: one outlier would
make the comparison need more customers per arm than the 40 in the group). Both sides
hold the patterns in the same proportions, so X has the same mean on each and CUPED moves
neither mean: the difference is 2.90 exactly, and the programme added 2.90 x 160 = 464.00.
The split is exactly 20 %: the sample-ratio p is 1. Welch's interval is recomputed with SciPy.

Nothing else counts: a customer whose first order is after SINCE (not existing), an order the
day after AS_OF, a return before SINCE. The group's last customer's order is at 23:00 on
AS_OF itself (counted: both days count).
"""

from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
import pytest
from scipy import stats as scipy_stats

from retainly import Workspace
from retainly.experiments.control import in_control
from retainly.experiments.stats import cuped

SINCE, AS_OF = date(2025, 1, 1), date(2025, 6, 30)
SETTINGS = "[experiments]\nglobal_control_share = 0.2\nglobal_control_since = 2025-01-01\n"


def ids() -> tuple[list[int], list[int]]:
    """(the first 40 ids in the group, the first 160 outside it)."""
    group, outside, c = [], [], 0
    while len(group) < 40 or len(outside) < 160:
        c += 1
        side = group if in_control(c, 0.2) else outside
        if len(side) < (40 if side is group else 160):
            side.append(c)
    return group, outside


def shop(ws: Workspace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Write the shop; (outside the group, outcome, covariate) per customer, as worked out above."""
    group, outside = ids()
    orders, outside_mask, outcome, covariate = [], [], [], []
    for side, lift in ((group, 0.0), (outside, 3.0)):
        for j, customer in enumerate(side):
            p = j % 8
            pre, spend = 50.0 * (p % 4), lift + p + 5.0 * (p % 4)
            ws.store.execute("INSERT INTO customers (customer_id, external_id) VALUES (?, ?)",
                             (customer, f"K{customer}"))
            orders.append((f"O{customer}", customer, datetime(2023, 6, 15, 12), 20.0))
            if pre:
                orders.append((f"B{customer}", customer, datetime(2024, 7, 1, 12), pre))
            last = side is group and j == len(group) - 1  # on AS_OF itself, late: counted
            if spend:
                placed = datetime(2025, 6, 30, 23) if last else datetime(2025, 3, 1, 12)
                orders.append((f"W{customer}", customer, placed, spend))
            outside_mask.append(lift > 0)
            outcome.append(spend)
            covariate.append(pre)
    for k in range(40, 56):  # the first 16 customers outside return 1.00 each in the period
        outcome[k] -= 1.0
    ws.store.execute("INSERT INTO customers (customer_id, external_id) VALUES (?, ?)", (9_999, "NEW"))
    orders.append(("NEW1", 9_999, datetime(2025, 2, 1, 12), 1_000.0))  # not an existing customer
    orders.append(("LATE", group[0], datetime(2025, 7, 1, 12), 1_000.0))  # the day after AS_OF
    for order_id, customer, placed, amount in orders:
        ws.store.execute("INSERT INTO purchases (order_id, customer_id, placed_at, channel, revenue) "
                         "VALUES (?, ?, ?, 'online', ?)", (order_id, customer, placed, amount))
    returns = [(f"R{k}", outside[k], datetime(2025, 4, 1), 1.0) for k in range(16)]
    returns.append(("EARLY", outside[16], datetime(2024, 12, 1), 50.0))  # before SINCE: not counted
    for return_id, customer, returned, amount in returns:
        ws.store.execute("INSERT INTO returns (return_id, line_no, customer_id, returned_at, amount) "
                         "VALUES (?, 1, ?, ?, ?)", (return_id, customer, returned, amount))
    return np.array(outside_mask), np.array(outcome), np.array(covariate)


@pytest.fixture
def programme_ws(store_url, tmp_path):
    (tmp_path / "retainly.toml").write_text(SETTINGS, encoding="utf-8")
    with Workspace.open(store_url, settings=tmp_path / "retainly.toml") as ws:
        yield ws


def test_the_programme_added_what_the_hand_worked_figures_say(programme_ws):
    outside, outcome, covariate = shop(programme_ws)
    effect = programme_ws.experiments.programme(AS_OF)
    assert (effect.since, effect.as_of, effect.days, effect.control_share) == (SINCE, AS_OF, 181, 0.2)
    assert (effect.treated, effect.held_out) == (160, 40)
    assert effect.sample_ratio_p == pytest.approx(1.0) and not effect.sample_ratio_warning
    assert (effect.treated_revenue, effect.held_out_revenue) == (pytest.approx(13.9), pytest.approx(11.0))
    assert effect.difference == pytest.approx(2.9, abs=1e-4)
    assert effect.incremental_revenue == pytest.approx(464.0, abs=0.01)
    adjusted, _, removed = cuped(outcome, covariate)
    interval = scipy_stats.ttest_ind(adjusted[outside], adjusted[~outside], equal_var=False).confidence_interval()
    assert (effect.low, effect.high) == (pytest.approx(interval.low, abs=1e-4), pytest.approx(interval.high, abs=1e-4))
    assert effect.low > 0 and effect.verdict == "added"
    assert effect.incremental_low == pytest.approx(effect.low * 160, abs=0.01)
    assert effect.variance_removed == pytest.approx(removed, abs=1e-4) and removed > 0.5


def test_before_the_group_began_nothing_is_measured_and_without_a_group_there_is_no_figure(programme_ws, store_url,
                                                                                         tmp_path):
    shop(programme_ws)
    early = programme_ws.experiments.programme(date(2024, 12, 31))
    assert (early.days, early.treated, early.held_out, early.difference, early.verdict) == (
        0, 0, 0, None, "not enough customers yet to tell")
    (tmp_path / "off.toml").write_text("", encoding="utf-8")
    with Workspace.open(store_url, settings=tmp_path / "off.toml") as ws:
        assert ws.experiments.programme(AS_OF) is None


def test_cli_prints_the_programme_after_the_playbooks(tmp_path, monkeypatch):
    from tests.cli.running import captured

    path = tmp_path / "cli.duckdb"
    monkeypatch.setenv("RETAINLY_SETTINGS", str(tmp_path / "on.toml"))
    (tmp_path / "on.toml").write_text(SETTINGS, encoding="utf-8")
    with Workspace.open(f"duckdb:///{path}") as ws:
        shop(ws)
    code, out, err = captured(["--db", str(path), "experiments", "--as-of", AS_OF.isoformat()])
    assert code == 0, err
    assert out.index("Playbooks against their holdouts") < out.index("The whole programme against the global "
                                                                    "control group (20%)")
    assert "464" in out and "added" in out
    code, out, err = captured(["--db", str(path), "experiments", "--as-of", AS_OF.isoformat(), "--json"])
    assert code == 0, err
    found = json.loads(out)
    assert set(found) == {"playbooks", "programme"} and found["programme"]["incremental_revenue"] == 464.0
    (tmp_path / "on.toml").write_text("", encoding="utf-8")  # the group off: the list alone, as before
    code, out, err = captured(["--db", str(path), "experiments", "--as-of", AS_OF.isoformat(), "--json"])
    assert code == 0 and isinstance(json.loads(out), list)
    code, out, err = captured(["--db", str(path), "experiments", "--as-of", AS_OF.isoformat()])
    assert "programme" not in out
