"""One local Spark session for the Spark tests, and the comparison they all make: the same answer
from Spark as from the store's own engine.

The session is the process's (``spark_session`` reuses it), so each test worker starts one JVM.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from retainly.store.analytics import DEBIAN_JDBC_DRIVER
from retainly.store.backends import Store
from retainly.store.spark.session import AnalyticsURL, spark_session
from retainly.store.spark.split import SparkAnalytics

LOCAL = AnalyticsURL("local", "local[2]")
RELATIVE = 1e-9  # sums in another order differ in the last bits of a float, never more


@pytest.fixture(scope="session")
def spark():
    # PostgreSQL's JDBC driver on the class path from the start (scripts/test installs Debian's).
    return spark_session(LOCAL, {"spark.jars": str(DEBIAN_JDBC_DRIVER)})


def on_spark(store: Store, spark, warehouse: Path, mapping: Path | None = None, jdbc: bool = False) -> SparkAnalytics:
    """``store`` with its analytic queries on Spark, publishing into ``warehouse`` (or reading over JDBC),
    and reading the lakehouse tables of ``mapping``."""
    return SparkAnalytics(store, lambda: spark, warehouse, mapping, jdbc=jdbc)


def assert_same(found, expected, where: str = "") -> None:
    """``found`` equals ``expected``: rows, frames and values alike, floats to RELATIVE."""
    if isinstance(expected, pa.Table):
        found, expected = found.to_pandas(), expected.to_pandas()
    if isinstance(expected, pd.DataFrame):
        assert list(found.columns) == list(expected.columns), where
        assert len(found) == len(expected), where
        for column in expected.columns:
            for index, (a, b) in enumerate(zip(found[column].tolist(), expected[column].tolist())):
                assert_same(a, b, f"{where}[{index}].{column}")
        return
    if isinstance(expected, dict):
        assert set(found) == set(expected), where
        for key in expected:
            assert_same(found[key], expected[key], f"{where}.{key}")
        return
    if isinstance(expected, (list, tuple)):
        assert len(found) == len(expected), where
        for index, (a, b) in enumerate(zip(found, expected)):
            assert_same(a, b, f"{where}[{index}]")
        return
    if _missing(expected):
        assert _missing(found), f"{where}: {found!r} where nothing was expected"
        return
    if isinstance(expected, (float, Decimal)) and not isinstance(expected, bool):
        assert isinstance(found, (int, float, Decimal)) and not isinstance(found, bool), f"{where}: {found!r}"
        assert float(found) == pytest.approx(float(expected), rel=RELATIVE, abs=1e-9), where
        return
    if isinstance(expected, (datetime, date, pd.Timestamp)):
        assert pd.Timestamp(found) == pd.Timestamp(expected), where
        return
    assert found == expected, where


def _missing(value) -> bool:
    if value is None or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)
