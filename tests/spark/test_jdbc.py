"""Spark reading a PostgreSQL store over JDBC gives what PostgreSQL gives, and copies nothing."""

from __future__ import annotations

import pytest

from retainly import Workspace
from retainly.audiences.compile import fields_table, matching
from retainly.audiences.fields import SIMPLE
from retainly.errors import InputError
from retainly.features.cohorts import cohort_matrix
from retainly.features.kpis import BY_CHOICES, shop_kpis
from retainly.features.model_summary import model_summary
from retainly.playbooks import saved
from retainly.settings import AnalyticsSettings
from retainly.store.analytics import open_analytics
from tests.conftest import generated_copy
from tests.spark.conftest import assert_same, on_spark
from tests.spark.test_feature_queries import ordered


@pytest.fixture(scope="module")
def shop(store_templates, tmp_path_factory, spark):
    folder = tmp_path_factory.mktemp("spark-jdbc")
    with generated_copy(store_templates, "postgres", 1500, 11, folder) as (url, _):
        ws = Workspace.open(url)
        try:
            as_of = ws.data.as_of(None)
            for name in ("rfm", "predictions", "lifecycle", "insights"):
                ws.derived.ensure(name, as_of)
            ws.playbooks.enable(["all"])
            yield ws.store, on_spark(ws.store, spark, folder / "warehouse", jdbc=True), as_of
        finally:
            ws.close()


@pytest.mark.parametrize("by", (None, *BY_CHOICES))
def test_kpis(shop, by):
    store, spark, _ = shop
    assert_same(shop_kpis(spark, by=by), shop_kpis(store, by=by))


def test_cohorts_and_model_summary(shop):
    store, spark, as_of = shop
    assert_same(cohort_matrix(spark, "quarter", "revenue"), cohort_matrix(store, "quarter", "revenue"))
    assert_same(ordered(model_summary(spark, as_of, "week")), ordered(model_summary(store, as_of, "week")))


def test_audience_fields_and_rules(shop):
    store, spark, as_of = shop
    names = sorted(SIMPLE)
    assert_same(ordered(fields_table(spark, names, as_of).to_pandas()),
                ordered(fields_table(store, names, as_of).to_pandas()))
    for playbook in saved.enabled(store):
        for rule in (getattr(playbook.trigger, "rule", None), playbook.condition):
            if rule is not None:
                expected = sorted(matching(store, rule, as_of).to_pyarrow()["customer_id"].to_pylist())
                assert sorted(matching(spark, rule, as_of).to_pyarrow()["customer_id"].to_pylist()) == expected


def test_nothing_is_copied(shop):
    _, spark, _ = shop
    assert not spark.publisher.warehouse.exists() or not any(spark.publisher.warehouse.iterdir())


def test_jdbc_needs_a_postgresql_store(tmp_path):
    with Workspace.open(tmp_path / "s.duckdb") as ws:
        with pytest.raises(InputError, match=r'source = "jdbc" reads a PostgreSQL store; this store is duckdb:'):
            open_analytics(ws.store, AnalyticsSettings(url="spark://local[2]", source="jdbc"))
