"""Build a very large retainly DuckDB store fast, in DuckDB SQL, for timing analytics queries.

    PYTHONPATH=src python benchmarks/bigshop.py --customers 1000000 --orders 10000000 --out /tmp/bench-10m.duckdb
    PYTHONPATH=src python benchmarks/bigshop.py --customers 20000000 --orders 100000000 --out /tmp/bench-100m.duckdb

Prints the build time, row counts, file size and peak memory. ``--reuse`` keeps an existing
file that already holds the requested customers and orders. Every order has one line;
about 3 % are cancelled and 2 % have a return. The schema is retainly's own (``schema.upgrade``)
with all its keys, and ``purchases`` and ``customer_months`` are derived by retainly's own
rebuilds, as an import derives them.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from retainly.store import connect, customer_months, purchases, schema
from retainly.store.migrations import MIGRATIONS

START, END = "2023-01-01", "2026-01-01"  # orders fall in [START, END)
SPAN = 1096 * 86400  # seconds from START to END
TABLES = ("customers", "orders", "order_lines", "returns", "marketing_spend", "purchases", "customer_months")
COUNTRIES = "['DE','DE','DE','FR','FR','NL','AT','BE','ES','IT']"  # drawn uniformly: DE 30 %


def _customers_sql(customers: int, orders: int) -> str:
    """One row per customer with its first order number and order count; ``orders`` in total exactly.

    Each customer buys once, plus extras in proportion to a weight: ~0 for 30 % (one-time
    buyers), else a gamma(1/2) draw (z^2), the heterogeneity of the classic NBD purchase
    model. Integer weights sum exactly, and upto / w_all rises monotonically to exactly 1.0, so
    the floors split the extras exactly.
    """
    extra = orders - customers
    return f"""
    CREATE TEMP TABLE gen_customers AS
    WITH drawn AS (
        SELECT range + 1 AS id,
            CASE WHEN u(range, 1) < 0.3 THEN 1 ELSE CAST(1e6 * pow(
                sqrt(-2 * ln(1 - u(range, 2))) * cos(2 * pi() * u(range, 3)), 2) AS BIGINT) END AS w,
            -- ids in sign-up order, as a shop numbers them; uniform sign-ups, no sort needed,
            -- ending an hour before END so that every first order (within the hour) is before it
            floor((range + u(range, 4)) * {(SPAN - 3600) / customers})::BIGINT AS first_s,
            -- an active life of about 400 days on average, cut at END: recency varies
            CAST(-ln(1 - u(range, 5)) * 400 * 86400 AS BIGINT) AS life_s
        FROM range({customers})
    ), cum AS (SELECT *, sum(w) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) AS upto, sum(w) OVER () AS w_all
               FROM drawn)
    SELECT id, first_s, least(life_s, {SPAN} - 1 - first_s) AS life_s,
        id - 1 + floor({extra} * ((upto - w) / w_all))::BIGINT AS first_order,
        1 + floor({extra} * (upto / w_all))::BIGINT - floor({extra} * ((upto - w) / w_all))::BIGINT AS n_orders
    FROM cum"""


def _orders_view(width: int) -> str:
    """Every order with its single line, numbered n = 0.. customer by customer (hash draws per n).

    A customer's first order comes within the hour of sign-up, the others uniformly over an
    active life, so the table is laid out by customer (in sign-up order), not by time.
    """
    return f"""
    CREATE TEMP VIEW gen_orders AS
    WITH expanded AS (
        SELECT id AS customer_id, first_s, life_s, first_order + k AS n, k
        FROM (SELECT *, unnest(range(n_orders)) AS k FROM gen_customers)
    ), drawn AS (
        SELECT *, 1 + floor(5 * pow(u(n, 10), 2))::INTEGER AS quantity,
            floor(1000 * pow(u(n, 11), 2))::INTEGER AS product
        FROM expanded
    )
    SELECT n, customer_id, quantity, product,
        'O' || lpad((n + 1)::VARCHAR, {width}, '0') AS order_id,
        TIMESTAMP '{START}' + to_seconds(first_s + CAST(CASE WHEN k = 0 THEN 60 + 3540 * u(n, 12)
            ELSE u(n, 12) * life_s END AS BIGINT)) AS placed_at,
        CASE WHEN u(n, 13) < 0.03 THEN 'cancelled' ELSE 'completed' END AS status,
        CASE WHEN u(n, 14) < 0.8 THEN 'online' WHEN u(n, 14) < 0.95 THEN 'offline' ELSE 'phone' END AS channel,
        'SKU' || lpad(product::VARCHAR, 4, '0') AS sku,
        price(product) AS unit_price, (quantity * price(product))::DECIMAL(18,4) AS amount
    FROM drawn"""


def build_store(path: str | Path, customers: int, orders: int, seed: int = 1, progress=print) -> dict:
    """Create a fresh store at ``path`` with the real schema, filled in DuckDB SQL; return counts and seconds."""
    if not 0 < customers <= orders:
        raise ValueError("need 0 < customers <= orders: every customer buys at least once")
    path = Path(path)
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    began = time.perf_counter()
    store = connect(f"duckdb:///{path}")
    schema.upgrade(store)
    con = store.ibis.con
    # Inserts run on both cores without keeping row order; the view already yields rows close to
    # key order, and an ORDER BY only added a spilling sort (orders 150 s slower at 100 M).
    con.execute("SET threads = 2; SET memory_limit = '16GB'; SET preserve_insertion_order = false")
    # hash() is deterministic for a seed, unlike random(), whatever the thread schedule; its top
    # 53 bits give a uniform double in [0, 1) that never rounds up to 1.
    con.execute(f"CREATE TEMP MACRO u(i, s) AS (hash(i, s, {seed}) >> 11) / 9007199254740992.0")
    con.execute("CREATE TEMP MACRO draw(i, s, k) AS floor(k * u(i, s))::BIGINT")  # 0 .. k-1; CAST rounds
    con.execute("CREATE TEMP MACRO price(p) AS round(2.5 + 147.5 * pow(u(p, 99), 2), 2)::DECIMAL(18,4)")
    width = max(8, len(str(orders)))

    def step(name: str, sql) -> None:
        at = time.perf_counter()
        sql() if callable(sql) else con.execute(sql)
        progress(f"  {name:<16}{time.perf_counter() - at:8.1f} s")

    step("plan", _customers_sql(customers, orders))
    con.execute(_orders_view(width))
    step("customers", f"""INSERT INTO customers (customer_id, external_id, country, acquisition_channel, first_seen_at)
        SELECT id, 'C' || lpad(id::VARCHAR, {max(7, len(str(customers)))}, '0'), {COUNTRIES}[1 + draw(id, 6, 10)],
            ['search','search','search','social','social','email','email','referral','referral','offline'][1 + draw(id, 7, 10)],
            TIMESTAMP '{START}' + to_seconds(first_s)
        FROM gen_customers""")
    step("products", """INSERT INTO products (sku, name, category, price)
        SELECT 'SKU' || lpad(range::VARCHAR, 4, '0'), 'Product ' || range, ['home','fashion','beauty','garden'][1 + range % 4], price(range)
        FROM range(1000)""")
    # The secondary index is cheaper built once after the load (20-30 s at 100 M) than kept up
    # row by row (65 s); the migration's own statement recreates it, so the schema is unchanged.
    by_customer = next(s for m in MIGRATIONS for s in m.statements if "INDEX orders_by_customer" in s)
    con.execute("DROP INDEX orders_by_customer")
    step("orders", f"""INSERT INTO orders (order_id, customer_id, placed_at, status, currency, gross, discount,
            shipping, tax, net, channel, country)
        SELECT order_id, customer_id, placed_at, status, 'EUR', amount, 0, 0, 0, amount, channel,
            {COUNTRIES}[1 + draw(customer_id, 6, 10)]
        FROM gen_orders""")
    step("orders index", by_customer)
    step("order_lines", """INSERT INTO order_lines (order_id, line_no, sku, description, quantity, unit_price, discount, amount, kind)
        SELECT order_id, 1, sku, 'Product ' || product, quantity, unit_price, 0, amount, 'merchandise'
        FROM gen_orders""")
    # About 2 % of orders: a purchase, returned 2..30 days later unless that falls after END.
    step("returns", f"""INSERT INTO returns (return_id, line_no, customer_id, order_id, order_line_no, returned_at,
            sku, quantity, amount, reason)
        SELECT 'R' || lpad((n + 1)::VARCHAR, {width}, '0'), 1, customer_id, order_id, 1, returned_at, sku, q, q * unit_price,
            ['too small','too large','damaged','not as described','changed mind','wrong item'][1 + draw(n, 21, 6)]
        FROM (SELECT *, placed_at + to_seconds(CAST((2 + 28 * u(n, 22)) * 86400 AS BIGINT)) AS returned_at,
                1 + draw(n, 23, quantity)::INTEGER AS q
              FROM gen_orders WHERE u(n, 20) < 0.02 / 0.97 AND status = 'completed')
        WHERE returned_at < TIMESTAMP '{END}'""")
    # Paid channels' monthly spend: customers acquired that month x a cost per acquisition x noise.
    step("marketing_spend", """INSERT INTO marketing_spend (spend_date, channel, campaign, amount, currency)
        SELECT month, channel, channel || '-' || strftime(month, '%Y-%m'),
            round(count(*) * any_value(cac) * (0.85 + 0.3 * u(hash(month, channel), 30)), 2), 'EUR'
        FROM (SELECT date_trunc('month', first_seen_at)::DATE AS month, acquisition_channel AS channel,
                CASE acquisition_channel WHEN 'search' THEN 38 WHEN 'social' THEN 26 WHEN 'email' THEN 6 ELSE 20 END AS cac
              FROM customers WHERE acquisition_channel <> 'referral')
        GROUP BY month, channel""")
    # The derived tables, as an import leaves them: the project's own rebuilds, one transaction each
    # (the month facts timed apart from purchases).
    step("purchases", lambda: _in_transaction(store, lambda s: purchases.rebuild(s, months=False)))
    step("customer_months", lambda: _in_transaction(store, customer_months.rebuild))
    step("checkpoint", "CHECKPOINT")
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    store.close()
    return {"seconds": time.perf_counter() - began, "counts": counts, "bytes": path.stat().st_size}


def _in_transaction(store, work) -> None:
    with store.transaction():
        work(store)


def _finished(path: Path, customers: int, orders: int) -> bool:
    """Whether ``path`` is a finished build of this size: the month facts, the last table filled, are there."""
    import duckdb

    try:
        with duckdb.connect(str(path), read_only=True) as con:
            found = con.execute("SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders), "
                                "(SELECT count(*) FROM order_lines), "
                                "(SELECT count(*) > 0 FROM customer_months)").fetchone()
    except (duckdb.Error, OSError):
        return False
    return found == (customers, orders, orders, True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-10m.duckdb"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="keep --out if it already has these counts")
    args = parser.parse_args(argv)
    if args.reuse and _finished(args.out, args.customers, args.orders):
        print(f"reusing {args.out}: {args.customers:,} customers, {args.orders:,} orders")
        return
    print(f"building {args.out}: {args.customers:,} customers, {args.orders:,} orders", flush=True)
    result = build_store(args.out, args.customers, args.orders, seed=args.seed,
                         progress=lambda line: print(line, flush=True))
    for table, rows in result["counts"].items():
        print(f"  rows {table:<16}{rows:>13,}")
    print(f"  build time      {result['seconds']:8.1f} s")
    print(f"  file size       {result['bytes'] / 2**30:8.2f} GiB")
    print(f"  peak RSS        {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:8.2f} GiB")


if __name__ == "__main__":
    main()
