"""What a primary key costs DuckDB when a date's rows are replaced, as ``Store.replace_rows`` does.

    python benchmarks/keyless.py /tmp/keyless.duckdb 20000000

A table shaped like ``customer_scores`` (date, customer, numbers, a label), with and without its key
on (as_of, customer_id): the first INSERT of N rows, then the replacement of that date's N rows
(DELETE and INSERT in one transaction). The reason for migration 22 (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb


def main(path: str, rows: int) -> None:
    Path(path).unlink(missing_ok=True)
    con = duckdb.connect(path)
    source = (f"SELECT DATE '2026-01-01' AS as_of, i AS customer_id, random() AS p_alive, random() AS clv, "
              f"'model' AS confidence FROM range({rows}) r(i)")
    for keyed in (True, False):
        key = ", PRIMARY KEY (as_of, customer_id)" if keyed else ""
        con.execute("DROP TABLE IF EXISTS scores")
        con.execute(f"CREATE TABLE scores (as_of DATE NOT NULL, customer_id BIGINT NOT NULL, p_alive DOUBLE, "
                    f"clv DOUBLE, confidence TEXT{key})")
        start = time.perf_counter()
        con.execute(f"INSERT INTO scores {source}")
        inserted = time.perf_counter() - start
        start = time.perf_counter()
        con.execute("BEGIN")
        con.execute("DELETE FROM scores WHERE as_of = DATE '2026-01-01'")
        con.execute(f"INSERT INTO scores {source}")
        con.execute("COMMIT")
        replaced = time.perf_counter() - start
        print(f"{'with' if keyed else 'without'} the key: insert {inserted:.1f} s, replace {replaced:.1f} s "
              f"({rows:,} rows)", flush=True)
    con.close()
    Path(path).unlink(missing_ok=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20_000_000)
