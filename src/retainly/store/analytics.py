"""The analytics engine: where the heavy analytic queries run, chosen by URL.

By default it is the store of record itself (DuckDB or PostgreSQL). With a Spark URL
(``spark://local[N]``, ``sc://host:port``) the analytic services get a ``SparkAnalytics``
store: the same feature code, run on Spark, its results kept in the store of record.
"""

from __future__ import annotations

from pathlib import Path

from retainly.settings import AnalyticsSettings
from retainly.store.backends import Store
from retainly.store.spark.session import parse_analytics_url, spark_session


def open_analytics(record: Store, settings: AnalyticsSettings) -> Store:
    """The store the analytic services use for ``record`` under ``settings`` ([analytics])."""
    url = parse_analytics_url(settings.url)
    if url.kind == "store":
        return record
    from retainly.store.spark.split import SparkAnalytics  # imports PySpark's Ibis backend: only when chosen

    return SparkAnalytics(record, lambda: spark_session(url, settings.spark), Path(settings.warehouse),
                          settings.mapping or None)
