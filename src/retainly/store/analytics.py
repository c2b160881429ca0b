"""The analytics engine: where the heavy analytic queries run, chosen by URL.

By default it is the store of record itself (DuckDB or PostgreSQL). With a Spark URL
(``spark://local[N]``, ``sc://host:port``) the analytic services get a ``SparkAnalytics``
store: the same feature code, run on Spark, its results kept in the store of record.
"""

from __future__ import annotations

from pathlib import Path

from retainly.errors import InputError
from retainly.settings import AnalyticsSettings
from retainly.store.backends import Store
from retainly.store.spark.session import parse_analytics_url, spark_session


# Where Debian's libpostgresql-jdbc-java puts PostgreSQL's JDBC driver (give another in spark.jars).
DEBIAN_JDBC_DRIVER = Path("/usr/share/java/postgresql.jar")


def open_analytics(record: Store, settings: AnalyticsSettings) -> Store:
    """The store the analytic services use for ``record`` under ``settings`` ([analytics])."""
    url = parse_analytics_url(settings.url)
    if url.kind == "store":
        return record
    from retainly.store.spark.split import SparkAnalytics  # imports PySpark's Ibis backend: only when chosen

    conf = dict(settings.spark)
    jdbc = settings.source == "jdbc"
    if jdbc and record.url.backend != "postgres":
        raise InputError("[analytics] source = \"jdbc\" reads a PostgreSQL store; this store is "
                         f"{record.url.display()}: use source = \"publish\"", parameter="source")
    # Whatever the source: a process has one Spark session, made with the settings of the first
    # workspace that needs it, so a later workspace reading over JDBC finds the driver there too.
    if "spark.jars" not in conf and DEBIAN_JDBC_DRIVER.exists():
        conf["spark.jars"] = str(DEBIAN_JDBC_DRIVER)
    # Absolute, because a Spark Connect server resolves a relative path against its own folder.
    return SparkAnalytics(record, lambda: spark_session(url, conf), Path(settings.warehouse).absolute(),
                          settings.mapping or None, jdbc=jdbc)
