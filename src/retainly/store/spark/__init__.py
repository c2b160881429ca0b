"""Apache Spark as the analytics engine: the heavy queries run there, the store of record keeps the rest.

``session`` opens a Spark session from an analytics URL, ``publish`` copies the store's tables
to Parquet tables Spark reads, and ``split`` is the store the analytic services use when Spark
is chosen: Ibis reads on Spark, SQL and results on the store of record. PySpark is an optional
extra (``pip install retainly[spark]``); nothing here is imported unless Spark is chosen.
"""
