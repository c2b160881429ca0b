"""Lifecycle stages and warning signs against the generated shop's hidden truth (5,000 customers, seed 42).

The truth (generator_truth.dropped_out_at) says who had really stopped buying by the end of
2025-12-31. Measured when these tolerances were set: truly alive share by stage
active 0.80, won_back 0.75, new 0.61, at_risk 0.35, lapsed 0.24, lost 0.09; the risk score
ranks the dropped-out above the alive with ROC AUC 0.67. The tolerances below leave a few
points of room under those figures; the ordering of the stages must hold exactly.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from retainly import Workspace
from tests.conftest import generated_copy


@pytest.fixture(scope="module")
def graded(tmp_path_factory, store_templates):
    # A copy of a new DuckDB store into which ws.data.generate(5000, 42) was made (tests/conftest.py).
    folder = tmp_path_factory.mktemp("lifecycle-truth")
    with generated_copy(store_templates, "duckdb", 5000, 42, folder) as (url, _), Workspace.open(url) as ws:
        as_of = ws.lifecycle.ensure()
        rows = pd.DataFrame([row.to_dict() for row in ws.lifecycle.customers(as_of)])
        truth = ws.store.table("generator_truth").to_pandas()
    graded = rows.merge(truth, on="customer_id")
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    graded["alive"] = graded["dropped_out_at"].isna() | (pd.to_datetime(graded["dropped_out_at"]) >= end)
    return graded


def alive_share(graded, stage):
    return graded.loc[graded["stage"] == stage, "alive"].mean()


def test_stages_follow_the_truth(graded):
    assert alive_share(graded, "active") >= 0.75
    assert 1 - alive_share(graded, "lost") >= 0.85
    lapsed_or_lost = graded["stage"].isin(["lapsed", "lost"])
    assert 1 - graded.loc[lapsed_or_lost, "alive"].mean() >= 0.80
    shares = [alive_share(graded, s) for s in ("active", "at_risk", "lapsed", "lost")]
    assert shares == sorted(shares, reverse=True)  # the further down the stages, the fewer still buying


def test_risk_score_points_at_the_leavers(graded):
    assert roc_auc_score(~graded["alive"], graded["risk_score"]) >= 0.62
