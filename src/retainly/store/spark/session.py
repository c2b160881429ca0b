"""Analytics URLs and the Spark session they open.

``spark://local[N]`` starts Spark inside this process on N cores (``local[*]``: every core);
``sc://host:port`` reaches a Spark Connect server, which runs the queries on its cluster.
One session serves the whole process: Spark allows one local session per JVM, and starting
it (a JVM) takes seconds, so opening a second workspace reuses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retainly.errors import InputError, StoreError

_HOW = "use store (the default), spark://local[N] for Spark on this machine, or sc://host:port for Spark Connect"
_LOCAL = re.compile(r"^spark://local\[(\d+|\*)\]$")
_CONNECT = re.compile(r"^sc://[^/\s:]+(:\d+)?(/.*)?$")
# Spark's defaults for one machine, before the shop's own [analytics.spark] settings:
# UTC like the store (timestamps without zone), no web UI, few shuffle partitions (Spark's
# 200 would make thousands of tiny tasks on a laptop's data), and results handed to Python as
# Arrow (Ibis reads them through toPandas, which otherwise pickles row by row: 10 s for a million
# rows of four columns), without Spark's 1 GB cap on them: a result taken back to the store holds a
# row per customer (RFM at 20 M customers: 1.1 GB), and the driver's memory bounds it instead.
DEFAULT_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.maxResultSize": "0",
}
INSTALL = "Spark is an optional part of retainly: install it with `pip install retainly[spark]`"


@dataclass(frozen=True)
class AnalyticsURL:
    """Where the analytic queries run: ``store`` (the store of record itself) or a Spark master."""

    kind: str  # "store", "local" or "connect"
    master: str = ""  # local[N] for a local session, the sc:// URL for Spark Connect

    def display(self) -> str:
        return {"store": "store", "local": f"spark://{self.master}"}.get(self.kind, self.master)


def parse_analytics_url(text: str) -> AnalyticsURL:
    """Parse an analytics URL; an empty text is the store itself."""
    url = (text or "store").strip()
    if url == "store":
        return AnalyticsURL("store")
    if _LOCAL.match(url):
        return AnalyticsURL("local", url[len("spark://"):])
    if _CONNECT.match(url):
        return AnalyticsURL("connect", url)
    raise InputError(f"analytics URL {url!r} is not supported; {_HOW}", parameter="analytics")


def spark_session(url: AnalyticsURL, conf: dict[str, str] | None = None) -> Any:
    """The process's Spark session for ``url``, started on first use with ``conf`` over the defaults."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise StoreError(INSTALL) from None
    settings = {**DEFAULT_CONF, **_quiet_log(), **(conf or {})}
    builder = SparkSession.builder.appName("retainly")
    builder = builder.remote(url.master) if url.kind == "connect" else builder.master(url.master)
    for key, value in settings.items():
        if url.kind == "connect" and not key.startswith("spark.sql."):
            continue  # a Connect client may set only SQL settings; the server keeps its own
        builder = builder.config(key, str(value))
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - Java not found, server unreachable: one clear message
        raise StoreError(f"cannot start Spark at {url.display()}: {_first_line(exc)}; check Java 17+ is "
                         "installed (local) or the server is running (sc://)") from None
    if url.kind == "local":
        session.sparkContext.setLogLevel("ERROR")
    return session


def _quiet_log() -> dict[str, str]:
    """Spark's log at errors only (a shop's own extraJavaOptions replace this)."""
    properties = Path(__file__).with_name("log4j2.properties")
    return {"spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{properties}"}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
