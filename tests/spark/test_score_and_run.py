"""`retainly score` and `retainly run` with Spark as the analytics engine and PostgreSQL as the store
of record store what PostgreSQL alone stores.

Two copies of one generated shop on PostgreSQL: one scored and run as usual, the other with
``[analytics] url = "spark://local[2]"`` in its settings file. Every stored result and action is
compared, less the columns that record when something was written and the random secrets in
message payloads.
"""

from __future__ import annotations

import re

import pytest

from retainly import Workspace
from tests.conftest import generated_copy
from tests.spark.conftest import assert_same

# What is written at a time of its own, or carries a secret made at random per store.
UNCOMPARED = {"computed_at", "fitted_at", "evaluated_at", "created_at", "updated_at", "claimed_at", "claimed_by",
              "finished_at", "started_at", "payload", "response", "assigned_at", "fit_id", "seconds"}
KEYS = {
    "rfm_scores": "as_of, customer_id", "customer_scores": "as_of, customer_id", "model_fits": "as_of",
    "lifecycle_stages": "as_of, customer_id", "churn_signals": "as_of, customer_id",
    "buyer_types": "as_of, customer_id", "product_intervals": "as_of, sku", "reorders_due": "as_of, customer_id, sku",
    "next_products": "as_of, customer_id, sku", "audience_members": "audience, customer_id, entered_on",
    "audience_evaluations": "audience, as_of", "enrolments": "playbook, customer_id, occurrence",
    "outbox": "key", "tasks": "source_key", "runs": "run_id",
}


def stored(ws: Workspace, table: str) -> tuple[list[dict], list]:
    """The table's rows in key order (less UNCOMPARED and due_at), and their due times apart.

    A message or task put off (by a cap, quiet hours) is due a while after the run's own clock,
    which runs a little later with Spark: such a due time is given as minutes after the run began."""
    columns = [c for c in ws.store.table(table).columns if c not in UNCOMPARED]
    rows = ws.store.fetchall(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {KEYS[table]}")
    found = [dict(zip(columns, row)) for row in rows]
    if "due_at" not in columns:
        return found, []
    started = ws.store.fetchone("SELECT MIN(started_at) FROM runs")[0]
    due = [row.pop("due_at") for row in found]
    for row, when in zip(found, due):
        if when > started and row.get("reason"):  # "capped until <that time>"
            row["reason"] = re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "<after the run>", row["reason"])
    return found, [when if when <= started else (when - started).total_seconds() / 60 for when in due]


def score_and_run(url: str, settings) -> Workspace:
    ws = Workspace.open(url, settings=settings)
    ws.predictions.fit()  # retainly score
    ws.playbooks.enable(["all"])
    ws.playbooks.run()  # retainly run: audiences, conditions and the results they need, then delivery
    return ws


@pytest.fixture(scope="module")
def both(store_templates, tmp_path_factory):
    folder = tmp_path_factory.mktemp("spark-run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RETAINLY_OUTBOX_DIR", str(folder / "outbox"))
        patch.delenv("RETAINLY_SETTINGS", raising=False)
        patch.delenv("RETAINLY_ANALYTICS_URL", raising=False)
        plain, with_spark = folder / "plain.toml", folder / "spark.toml"
        plain.write_text("")
        with_spark.write_text(f'[analytics]\nurl = "spark://local[2]"\nwarehouse = "{folder / "warehouse"}"\n')
        with generated_copy(store_templates, "postgres", 1500, 11, folder) as (url_a, _), \
                generated_copy(store_templates, "postgres", 1500, 11, folder) as (url_b, _):
            alone = score_and_run(url_a, plain)
            spark = score_and_run(url_b, with_spark)
            try:
                yield alone, spark
            finally:
                alone.close()
                spark.close()


def test_the_analytics_ran_on_spark(both):
    _, spark = both
    assert type(spark.analytics).__name__ == "SparkAnalytics"
    assert spark.analytics.publisher.folder("purchases").is_dir()  # the run read the orders on Spark


@pytest.mark.parametrize("table", sorted(KEYS))
def test_the_same_rows_are_stored(both, table):
    alone, spark = both
    expected, expected_due = stored(alone, table)
    if table not in ("tasks", "next_products", "reorders_due", "product_intervals"):
        assert expected, f"{table} is empty: the comparison would prove nothing"
    found, found_due = stored(spark, table)
    assert_same(found, expected, table)
    assert len(found_due) == len(expected_due)
    for index, (a, b) in enumerate(zip(found_due, expected_due)):
        if isinstance(b, float):  # minutes after the run began: the runs' own lengths apart at most
            assert isinstance(a, float) and abs(a - b) <= 5, (table, index, a, b)
        else:
            assert a == b, (table, index, a, b)
