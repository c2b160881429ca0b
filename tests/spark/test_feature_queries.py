"""Every feature query gives on Spark the answer it gives on DuckDB, on a generated shop.

The DuckDB answer is the reference (each query's own tests check it by hand and against
published values); here Spark runs the very same Ibis expressions over the store's tables
published to Parquet. The shop has every result a query may read (RFM, predictions, stages,
buyer types, offers) stored first, computed on DuckDB.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from retainly import Workspace
from retainly.audiences.compile import fields_table, matching
from retainly.audiences.fields import SIMPLE
from retainly.features.associations import basket_pairs, next_products, sequence_pairs
from retainly.features.cohorts import COHORT_METRICS, COHORT_UNITS, cohort_matrix
from retainly.features.kpis import BY_CHOICES, shop_kpis
from retainly.features.model_summary import holdout_activity, holdout_by_day, model_summary
from retainly.features.nps import GROUPS, nps_by, nps_trend
from retainly.features.replenishment import category_intervals, product_intervals, reorders_due
from retainly.features.rhythm import customer_rhythm
from retainly.features.summary import store_summary
from retainly.playbooks import saved
from retainly.scores.stored import predictions_at
from retainly.segments.buyer_types.features import early_features
from retainly.segments.buyer_types.rules import rule_labels
from retainly.segments.lifecycle import lifecycle_stages
from retainly.segments.rfm import rfm_table
from retainly.segments.warning_signs import warning_signs
from tests.conftest import generated_copy
from tests.segments.test_buyer_type_reasons import check_reasons
from tests.spark.conftest import assert_same, on_spark


@pytest.fixture(scope="module")
def shop(store_templates, tmp_path_factory, spark):
    """(the DuckDB store, the same store with Spark as its analytics engine, the as-of day)."""
    folder = tmp_path_factory.mktemp("spark-features")
    with generated_copy(store_templates, "duckdb", 1500, 11, folder) as (url, _):
        ws = Workspace.open(url)
        try:
            as_of = ws.data.as_of(None)
            for name in ("rfm", "predictions", "lifecycle", "insights", "offers"):
                ws.derived.ensure(name, as_of)
            ws.playbooks.enable(["all"])  # their rules are audience queries too
            yield ws.store, on_spark(ws.store, spark, folder / "warehouse"), as_of
        finally:
            ws.close()


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in one order whatever order an engine returns them in (by their whole and id-like columns)."""
    keys = [c for c in frame.columns if not pd.api.types.is_float_dtype(frame[c])]
    text = frame[keys].apply(lambda column: column.map(str)).agg("|".join, axis=1)
    return frame.iloc[text.argsort(kind="stable")].reset_index(drop=True)


def same_frames(query, store, spark, *args, **kwargs) -> None:
    expected = query(store, *args, **kwargs)
    found = query(spark, *args, **kwargs)
    assert len(expected) > 0, "an empty answer proves nothing: the shop should give this query rows"
    assert_same(ordered(found), ordered(expected), query.__name__)


@pytest.mark.parametrize("by", (None, *BY_CHOICES))
def test_kpis(shop, by):
    store, spark, _ = shop
    assert_same(shop_kpis(spark, by=by), shop_kpis(store, by=by))


@pytest.mark.parametrize("unit", COHORT_UNITS)
@pytest.mark.parametrize("metric", COHORT_METRICS)
def test_cohorts(shop, unit, metric):
    store, spark, _ = shop
    assert_same(cohort_matrix(spark, unit, metric), cohort_matrix(store, unit, metric))


@pytest.mark.parametrize("unit", ("day", "week"))
def test_model_summary(shop, unit):
    store, spark, as_of = shop
    same_frames(model_summary, store, spark, as_of, unit)


def test_holdout_activity_and_days(shop):
    store, spark, as_of = shop
    cut = as_of - timedelta(days=180)
    same_frames(holdout_activity, store, spark, cut, as_of)
    same_frames(holdout_by_day, store, spark, cut, as_of)


def test_rhythm_and_lifecycle(shop):
    store, spark, as_of = shop
    same_frames(customer_rhythm, store, spark, as_of)
    now = predictions_at(store, as_of)
    assert_same(ordered(predictions_at(spark, as_of)), ordered(now))
    before = predictions_at(store, as_of - timedelta(days=90))  # no scores stored then: the model applied
    assert_same(ordered(predictions_at(spark, as_of - timedelta(days=90))), ordered(before))
    same_frames(lifecycle_stages, store, spark, as_of, now)
    facts = customer_rhythm(store, as_of)
    same_frames(warning_signs, store, spark, as_of, facts, now, before)


def test_rfm(shop):
    store, spark, as_of = shop
    from retainly.settings import AnalysisSettings

    settings = AnalysisSettings()
    # computed_at is the time of the query
    expected = rfm_table(store, as_of, settings.rfm_bins, settings.segment_map).drop("computed_at").to_pandas()
    found = rfm_table(spark, as_of, settings.rfm_bins, settings.segment_map).drop("computed_at").to_pandas()
    assert_same(ordered(found), ordered(expected))


def test_replenishment(shop):
    store, spark, as_of = shop
    same_frames(product_intervals, store, spark, as_of, min_repeat_buyers=3)
    same_frames(category_intervals, store, spark, as_of, min_repeat_buyers=3)
    same_frames(reorders_due, store, spark, as_of)


def test_associations(shop):
    store, spark, as_of = shop
    same_frames(basket_pairs, store, spark, as_of, min_orders=2)
    same_frames(sequence_pairs, store, spark, as_of)
    same_frames(next_products, store, spark, as_of)


def test_buyer_types(shop):
    store, spark, as_of = shop
    same_frames(rule_labels, store, spark, as_of)
    for after_orders in (1, 2):
        same_frames(early_features, store, spark, as_of, after_orders)


def test_buyer_type_reasons(shop):
    """Spark words every reason of the grid as Python does (rounding edges included)."""
    _, spark, _ = shop
    assert check_reasons(spark) > 0


@pytest.mark.parametrize("by", ("all", *GROUPS))
def test_nps(shop, by):
    store, spark, as_of = shop
    assert_same(nps_by(spark, as_of, by), nps_by(store, as_of, by))
    assert_same(nps_trend(spark, as_of), nps_trend(store, as_of))


def test_every_simple_audience_field(shop):
    store, spark, as_of = shop
    names = sorted(SIMPLE)
    expected = fields_table(store, names, as_of).to_pandas()
    assert_same(ordered(fields_table(spark, names, as_of).to_pandas()), ordered(expected))


def test_every_built_in_playbook_rule(shop):
    store, spark, as_of = shop
    rules = [rule for playbook in saved.enabled(store)
             for rule in (getattr(playbook.trigger, "rule", None), playbook.condition) if rule is not None]
    assert len(rules) >= 10
    matched = 0
    for rule in rules:
        expected = sorted(matching(store, rule, as_of).to_pyarrow()["customer_id"].to_pylist())
        assert sorted(matching(spark, rule, as_of).to_pyarrow()["customer_id"].to_pylist()) == expected, rule
        matched += bool(expected)
    assert matched >= len(rules) // 2  # most rules select someone on this shop: the comparison has teeth


def test_store_summary(shop):
    store, spark, _ = shop
    assert_same(store_summary(spark), store_summary(store))
