"""A Spark Connect server on this machine for the sc:// tests: `python -m tests.spark.connect_server PORT`.

A plain local Spark session with Spark's Connect plugin serves clients on PORT, as
`start-connect-server.sh` would on a cluster. It says "ready" on stdout once clients may connect.
A process holds either a Connect client or a local session, never both, so the tests reach it
from a retainly command of its own.
"""

from __future__ import annotations

import sys
import time

from pyspark.sql import SparkSession

if __name__ == "__main__":
    session = (SparkSession.builder.master("local[1]")
               .config("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin")
               .config("spark.connect.grpc.binding.address", "127.0.0.1")
               .config("spark.connect.grpc.binding.port", sys.argv[1])
               .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false").getOrCreate())
    session.range(1).count()  # the driver answers before clients are told to come
    print("ready", flush=True)
    while True:
        time.sleep(60)
