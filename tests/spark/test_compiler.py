"""What Ibis writes for Spark reads as it does on DuckDB: float literals as doubles, and a
division by zero as a missing value rather than a failed query.

Expected values by hand: 7 / 2 = 3.5, 500859 / 86400.0 in Python's double arithmetic. Without
``try_divide`` Spark 4 (ANSI mode) stops the query with DIVIDE_BY_ZERO; DuckDB answers a float
division by zero with inf or NaN. Feature code guards its divisions; this is the engine's net.
"""

from __future__ import annotations

import math

import ibis
import pyarrow as pa
import pytest

from retainly import Workspace
from tests.spark.conftest import on_spark


@pytest.fixture
def both(tmp_path, spark):
    with Workspace.open(f"duckdb:///{tmp_path}/store.duckdb") as ws:
        yield ws.store, on_spark(ws.store, spark, tmp_path / "warehouse")


def test_a_division_by_zero_is_missing_on_spark_not_an_error(both):
    duckdb, spark = both
    t = ibis.memtable(pa.table({"a": [7, 1, 0], "b": [2, 0, 0]}))
    quotient = (t.a / t.b).name("q")
    on_spark = spark.ibis.execute(quotient).tolist()
    on_duckdb = duckdb.ibis.execute(quotient).tolist()
    assert on_spark[0] == on_duckdb[0] == 3.5
    assert all(math.isnan(q) for q in on_spark[1:])  # NULL, read into pandas as NaN
    assert on_duckdb[1:3] == [math.inf, pytest.approx(math.nan, nan_ok=True)]


def test_a_float_literal_is_a_double_on_spark(both):
    duckdb, spark = both
    t = ibis.memtable(pa.table({"seconds": [500_859]}))
    expression = (t.seconds / 86400.0).name("days")
    expected = 500_859 / 86400.0
    assert duckdb.ibis.execute(expression).tolist() == [expected]
    assert spark.ibis.execute(expression).tolist() == [expected]
