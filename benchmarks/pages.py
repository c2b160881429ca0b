"""Web app page times: the Overview and customer pages, and their JSON twins, on a kept store.

    PYTHONPATH=src python benchmarks/pages.py --db duckdb:///shop.duckdb [--customers 5] [--runs 5]

The store is one an earlier benchmark kept (``benchmarks/actions.py --customers 1000000 --out
shop.duckdb --keep``), with its derived results. A user (disabled at the end) and an analyst API
key (revoked at the end) are added to it; the app is served as `retainly serve` serves it
(uvicorn, in a thread of this process, on a free localhost port), a real HTTP client logs in
through the login form and asks for each page: the first answer (which may compute and store
a derived result for its date) and the median of ``--runs`` more. Results go in
benchmarks/RESULTS.md ("Web app pages").
"""

from __future__ import annotations

import argparse
import re
import secrets
import socket
import statistics
import threading
import time
from datetime import timedelta

import httpx
import uvicorn

from retainly import Workspace
from retainly.web.app import create_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def serve(app) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def timed(client: httpx.Client, path: str, runs: int, **headers) -> tuple[float, float, int]:
    """(first answer s, median of ``runs`` more s, status)."""
    seconds = []
    status = 0
    for _ in range(runs + 1):
        start = time.perf_counter()
        answer = client.get(path, headers=headers)
        seconds.append(time.perf_counter() - start)
        status = answer.status_code
        if status != 200:
            raise SystemExit(f"GET {path}: HTTP {status}: {answer.text[:300]}")
    return seconds[0], statistics.median(seconds[1:]), status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the store's URL (a kept benchmark store)")
    parser.add_argument("--customers", type=int, default=5, help="customer pages to time")
    parser.add_argument("--runs", type=int, default=5, help="timed runs after the first")
    args = parser.parse_args()
    email, password = f"bench-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)
    with Workspace.open(args.db, create=False) as ws:
        ws.users.add(email, "analyst", password, "page benchmark")
        key_id, token = ws.keys.create("analyst", "page benchmark")
        shop_ids = [row[0] for row in ws.store.fetchall(
            "SELECT external_id FROM customers WHERE customer_id IN (SELECT customer_id FROM purchases "
            "WHERE customer_id IS NOT NULL GROUP BY customer_id HAVING COUNT(*) >= 3) ORDER BY customer_id LIMIT ?",
            (args.customers,))]
        customers = ws.store.fetchone("SELECT COUNT(*) FROM customers")[0]
        last = ws.data.last_order_date()
        first = last - timedelta(days=29)  # the Overview's default period
    server, thread, base = serve(create_app(args.db))
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            token_field = CSRF.search(client.get("/login").text).group(1)
            answer = client.post("/login", data={"email": email, "password": password, "next": "/",
                                                 "csrf_token": token_field})
            if answer.status_code not in (200, 303):
                raise SystemExit(f"logging in: HTTP {answer.status_code}")
            print(f"{customers:,} customers; first answer, then the median of {args.runs} more (seconds)")
            api = {"Authorization": f"Bearer {token}"}
            rows = [("Overview (30 days, previous period, chart)", timed(client, "/overview", args.runs)),
                    ("  its twin GET /api/v1/kpis?first&last (one of its three calls)",
                     timed(client, f"/api/v1/kpis?first={first}&last={last}", args.runs, **api)),
                    ("Customers search 'smith'", timed(client, "/customers?q=smith", args.runs))]
            for shop_id in shop_ids:
                rows.append((f"customer page {shop_id}", timed(client, f"/customers/{shop_id}", args.runs)))
                rows.append(("  its twin GET /api/v1/customers/{id}",
                             timed(client, f"/api/v1/customers/{shop_id}", args.runs, **api)))
            for label, (first, median, _) in rows:
                print(f"  {label:60s} {first:7.3f} {median:7.3f}")
    finally:
        server.should_exit = True
        thread.join(30)
        with Workspace.open(args.db, create=False) as ws:
            ws.users.disable(email)
            ws.keys.revoke(key_id)


if __name__ == "__main__":
    main()
