"""Stored lifecycle stages, warning signs and transitions, and the flow between two dates.

Stages are snapshots: one row per customer and date (``lifecycle_stages``). A flow from D1 to
D2 takes snapshots at D1, every month end in between and D2; each change of stage between two
consecutive snapshots is a transition, stored with both dates (``lifecycle_transitions``), so
"how many went from active to at risk in March" is one query.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pyarrow as pa

from retainly.segments.lifecycle import STAGES
from retainly.store.backends import Store, repeated

NOT_A_CUSTOMER = "(not a customer yet)"


def store_stages(store: Store, as_of: date, stages: pd.DataFrame, signs: pd.DataFrame | None = None) -> None:
    """Replace the stages (and, when given, the warning signs) stored for ``as_of``, in one transaction."""
    now = datetime.now()
    rows = pa.table({
        "as_of": repeated(as_of, pa.date32(), len(stages)),
        "customer_id": pa.array(stages["customer_id"], pa.int64()),
        "stage": pa.array(stages["stage"].astype(str), pa.string()),
        "vip": pa.array(stages["vip"].astype(bool), pa.bool_()),
        "rhythm_days": pa.array(stages["rhythm_days"], pa.float64()),
        "days_since_last": pa.array(stages["days_since_last"], pa.int64()),
        "p_alive": pa.array(stages["p_alive"], pa.float64(), from_pandas=True),
        "value": pa.array(stages["value"], pa.float64()),
        "reason": pa.array(stages["reason"], pa.string()),
        "computed_at": repeated(now, pa.timestamp("us"), len(stages)),
    })
    with store.transaction():
        store.replace_rows("lifecycle_stages", rows, as_of=as_of)
        if signs is not None:
            store.replace_rows("churn_signals", pa.table({
                "as_of": repeated(as_of, pa.date32(), len(signs)),
                "customer_id": pa.array(signs["customer_id"], pa.int64()),
                "risk_score": pa.array(signs["risk_score"], pa.float64()),
                "sign_count": pa.array(signs["sign_count"], pa.int64()),
                "signs": pa.array(signs["signs"], pa.string()),
                "computed_at": repeated(now, pa.timestamp("us"), len(signs)),
            }), as_of=as_of)


def snapshot_dates(first: date, last: date) -> list[date]:
    """``first``, every month end strictly between, and ``last``."""
    dates = [first]
    month_end = _month_end(first)
    while month_end < last:
        if month_end > first:
            dates.append(month_end)
        month_end = _month_end(month_end + timedelta(days=1))
    if last > first:
        dates.append(last)
    return dates


def _month_end(day: date) -> date:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def store_transitions(store: Store, dates: list[date]) -> None:
    """Write the stage changes between consecutive snapshot dates (replacing those date pairs)."""
    with store.transaction():
        for earlier, later in zip(dates, dates[1:]):
            store.execute("DELETE FROM lifecycle_transitions WHERE from_date = ? AND to_date = ?", (earlier, later))
            store.execute(
                "INSERT INTO lifecycle_transitions (customer_id, from_date, to_date, from_stage, to_stage) "
                f"SELECT b.customer_id, ?, ?, COALESCE(a.stage, '{NOT_A_CUSTOMER}'), b.stage "
                "FROM lifecycle_stages b LEFT JOIN lifecycle_stages a ON a.customer_id = b.customer_id AND a.as_of = ? "
                "WHERE b.as_of = ? AND (a.stage IS NULL OR a.stage <> b.stage)",
                (earlier, later, earlier, later))


def stage_counts(store: Store, as_of: date) -> list[dict]:
    rows = store.fetchall("SELECT stage, COUNT(*), SUM(CASE WHEN vip THEN 1 ELSE 0 END) FROM lifecycle_stages "
                          "WHERE as_of = ? GROUP BY stage", (as_of,))
    # GROUP BY has no order; list stages in the lifecycle's own order so output is stable.
    rows = sorted(rows, key=lambda row: STAGES.index(row[0]) if row[0] in STAGES else len(STAGES))
    return [{"stage": stage, "customers": int(count), "vip": int(vip or 0)} for stage, count, vip in rows]


def flow_matrix(store: Store, first: date, last: date) -> list[dict]:
    """Customers per (stage at ``first``, stage at ``last``), new customers from NOT_A_CUSTOMER."""
    rows = store.fetchall(
        f"SELECT COALESCE(a.stage, '{NOT_A_CUSTOMER}'), b.stage, COUNT(*) FROM lifecycle_stages b "
        "LEFT JOIN lifecycle_stages a ON a.customer_id = b.customer_id AND a.as_of = ? "
        "WHERE b.as_of = ? GROUP BY 1, 2 ORDER BY 1, 2", (first, last))
    return [{"from_stage": a, "to_stage": b, "customers": int(n)} for a, b, n in rows]


def transition_trend(store: Store, dates: list[date]) -> list[dict]:
    """Per snapshot interval: how many customers made each change of stage."""
    rows = store.fetchall(
        "SELECT from_date, to_date, from_stage, to_stage, COUNT(*) FROM lifecycle_transitions "
        "WHERE from_date >= ? AND to_date <= ? GROUP BY 1, 2, 3, 4 ORDER BY 1, 3, 4", (dates[0], dates[-1]))
    wanted = set(zip(dates, dates[1:]))
    return [{"from_date": a, "to_date": b, "from_stage": f, "to_stage": t, "customers": int(n)}
            for a, b, f, t, n in rows if (a, b) in wanted]


CUSTOMER_STAGE_COLUMNS = ("external_id", "customer_id", "stage", "vip", "reason", "p_alive", "risk_score", "signs")


def customer_stages(store: Store, as_of: date) -> list[dict]:
    """Every customer's stage, VIP flag, reason, P(alive), risk score and warning signs (JSON) as of a date."""
    rows = store.fetchall(
        "SELECT c.external_id, s.customer_id, s.stage, s.vip, s.reason, s.p_alive, w.risk_score, w.signs "
        "FROM lifecycle_stages s JOIN customers c ON c.customer_id = s.customer_id "
        "LEFT JOIN churn_signals w ON w.customer_id = s.customer_id AND w.as_of = s.as_of "
        "WHERE s.as_of = ? ORDER BY s.customer_id", (as_of,))
    return [dict(zip(CUSTOMER_STAGE_COLUMNS, row)) for row in rows]
