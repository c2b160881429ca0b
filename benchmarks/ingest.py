"""Event ingestion over the REST API: throughput and latency with concurrent clients, and no loss.

    PYTHONPATH=src python benchmarks/ingest.py [--postgres URL] [--workers 2] [--clients 4] [--seconds 20]
        [--batch 100] [--keep]

A fresh store (a DuckDB file in a temporary folder, or a new database on the PostgreSQL server
of ``--postgres``, dropped at the end unless ``--keep``) gets one ``ingest`` key. The API is served
as `retainly serve` serves it (``retainly.web.app:create_app`` under uvicorn), in its own
processes: ``--workers`` uvicorn worker processes on PostgreSQL (one on DuckDB, whose file takes
one writer). ``--clients`` threads, each with its own HTTP connection, post batches of
``--batch`` orders (1 to 3 lines each, customers drawn from 20,000 ids so that some are new and
some known) to ``POST /api/v1/events/orders`` for ``--seconds`` seconds after a short warm-up.

It prints the orders accepted per second over the measured period (sustained: every request
of the period, start to last answer), the latency per request (p50, p99), and the loss check:
the store's orders, order lines and idempotency keys counted afterwards must equal what was
accepted (every order was sent once, each with its own key; any 5xx or connection error is
counted and reported). A last pass sends the first batch again: every item must come back as
a duplicate, and the counts must not move. Beside them: the CPU seconds per second of the server
processes, the database's backends (from /proc: the database must run on this machine) and the
clients, and how busy the whole machine was (other work on it slows the figures). Results go in
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

from retainly import Workspace

ROOT = Path(__file__).resolve().parents[1]
WARM_UP_SECONDS = 3


def order_batch(client: int, number: int, size: int, rng: random.Random) -> list[dict]:
    items = []
    for n in range(size):
        key = f"c{client}-b{number}-{n}"
        items.append({"idempotency_key": key, "order_id": key, "customer_id": f"C{rng.randrange(20_000)}",
                      "placed_at": f"2024-03-{rng.randint(1, 28):02d}T{rng.randint(8, 20):02d}:15:00",
                      "channel": rng.choice(("online", "offline", "phone")),
                      "lines": [{"sku": f"S{rng.randrange(500)}", "quantity": rng.randint(1, 3),
                                 "unit_price": round(rng.uniform(1, 80), 2)} for _ in range(rng.randint(1, 3))]})
    return items


class Tally:
    """What the clients saw, shared by their threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.accepted = self.lines = self.failures = 0
        self.first_sent = self.last_answer = None
        self.first_batch: list[dict] | None = None

    def add(self, started: float, ended: float, batch: list[dict], answer: httpx.Response | None) -> None:
        with self.lock:
            if answer is None or answer.status_code != 200:
                self.failures += 1
                if self.failures <= 3:
                    print("  failed:", None if answer is None else (answer.status_code, answer.text[:300]))
                return
            body = answer.json()
            self.accepted += body["accepted"]
            self.lines += sum(len(item["lines"]) for item, out in zip(batch, body["items"])
                              if out["status"] == "accepted")
            self.latencies.append(ended - started)
            self.first_sent = started if self.first_sent is None else min(self.first_sent, started)
            self.last_answer = ended if self.last_answer is None else max(self.last_answer, ended)
            self.first_batch = self.first_batch or batch


def client_loop(number: int, base: str, token: str, size: int, warm_until: float, stop_at: float,
                warm: Tally, measured: Tally) -> None:
    rng = random.Random(number)
    headers = {"X-API-Key": token}
    with httpx.Client(base_url=base, timeout=120) as client:
        sent = 0
        while True:
            started = time.perf_counter()
            if started >= stop_at:
                return
            batch = order_batch(number, sent, size, rng)
            sent += 1
            try:
                answer = client.post("/api/v1/events/orders", json={"items": batch}, headers=headers)
            except httpx.HTTPError as exc:
                print("  error:", exc)
                answer = None
            (warm if started < warm_until else measured).add(started, time.perf_counter(), batch, answer)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(url: str, settings: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "RETAINLY_DATABASE_URL": url, "RETAINLY_SETTINGS": str(settings),
           "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "retainly.web.app:create_app", "--factory",
                               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                               "--log-level", "warning"], env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/openapi.json", timeout=5)
            return server, base
        except httpx.HTTPError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.2)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all threads (Linux /proc); 0 once it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def processes(server: int, database: str | None) -> dict[str, list[int]]:
    """The server's processes (uvicorn and its workers) and the database's backends (on this machine)."""
    found: dict[str, list[int]] = {"server": [server], "database": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if parent == server:
            found["server"].append(int(entry.name))
        elif database and command.startswith("postgres: ") and f" {database} " in command:
            found["database"].append(int(entry.name))
    return found


def machine_busy() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(values) / os.sysconf("SC_CLK_TCK")
    return total - (values[3] + values[4]) / os.sysconf("SC_CLK_TCK"), total


def cpu_snapshot(server: int, database: str | None) -> dict[str, float]:
    found = processes(server, database)
    busy, total = machine_busy()
    return {"server": sum(map(cpu_seconds, found["server"])), "database": sum(map(cpu_seconds, found["database"])),
            "clients": time.process_time(), "machine": busy, "machine total": total}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def run(url: str, folder: Path, args) -> None:
    settings = folder / "retainly.toml"
    settings.write_text("", encoding="utf-8")
    with Workspace.open(url, settings=settings) as ws:
        token = ws.keys.create("ingest", "benchmark")[1]
    workers = args.workers if url.startswith("postgres") else 1
    server, base = serve(url, settings, workers)
    try:
        warm, measured = Tally(), Tally()
        now = time.perf_counter()
        warm_until, stop_at = now + WARM_UP_SECONDS, now + WARM_UP_SECONDS + args.seconds
        threads = [threading.Thread(target=client_loop, args=(n, base, token, args.batch, warm_until, stop_at, warm,
                                                              measured)) for n in range(args.clients)]
        for thread in threads:
            thread.start()
        time.sleep(max(0.0, warm_until - time.perf_counter()))
        database = url.rsplit("/", 1)[1] if url.startswith("postgres") else None
        before = cpu_snapshot(server.pid, database)
        for thread in threads:
            thread.join()
        after = cpu_snapshot(server.pid, database)
        with httpx.Client(base_url=base, timeout=120) as client:
            again = client.post("/api/v1/events/orders", json={"items": measured.first_batch},
                                headers={"X-API-Key": token}).json()
    finally:
        server.terminate()
        server.wait(30)
    with Workspace.open(url, settings=settings) as ws:
        counts = {table: int(ws.store.fetchone(f"SELECT COUNT(*) FROM {table}")[0])
                  for table in ("orders", "order_lines", "event_keys", "imports")}
    accepted, lines = warm.accepted + measured.accepted, warm.lines + measured.lines
    elapsed = measured.last_answer - measured.first_sent
    engine = "PostgreSQL" if url.startswith("postgres") else "DuckDB"
    print(f"{engine}, {workers} server process(es), {args.clients} clients, batches of {args.batch} orders, "
          f"{args.seconds} s measured ({platform.machine()}, {os.cpu_count()} cores)")
    print(f"  measured: {measured.accepted:,} orders in {len(measured.latencies):,} requests over {elapsed:.1f} s = "
          f"{measured.accepted / elapsed:,.0f} orders/s ({measured.lines / elapsed:,.0f} lines/s)")
    print(f"  latency per request: p50 {percentile(measured.latencies, 0.5) * 1000:,.0f} ms, "
          f"p99 {percentile(measured.latencies, 0.99) * 1000:,.0f} ms, "
          f"mean {statistics.mean(measured.latencies) * 1000:,.0f} ms")
    used = {name: after[name] - before[name] for name in after}
    print(f"  CPU seconds a second while measured: server {used['server'] / elapsed:.2f}, database "
          f"{used['database'] / elapsed:.2f}, clients {used['clients'] / elapsed:.2f}; the whole machine "
          f"{used['machine'] / used['machine total'] * os.cpu_count():.2f} of {os.cpu_count()}")
    print(f"  server CPU per order: {used['server'] / max(measured.accepted, 1) * 1000:.2f} ms")
    print(f"  requests {len(warm.latencies) + len(measured.latencies) + 1:,}, written in {counts.pop('imports'):,} "
          "transactions (requests waiting together are written together)")
    print(f"  failures (non-200 or no answer): {warm.failures + measured.failures}")
    lost = {"orders": accepted - counts["orders"], "order_lines": lines - counts["order_lines"],
            "event_keys": accepted - counts["event_keys"]}
    print(f"  store afterwards: {counts}; accepted {accepted:,} orders with {lines:,} lines (warm-up included); "
          f"difference {lost}")
    print(f"  the first measured batch sent again: {again['duplicates']} of {len(again['items'])} duplicates, "
          f"{again['accepted']} accepted")
    if any(lost.values()) or again["accepted"] or warm.failures + measured.failures:
        raise SystemExit("LOSS OR FAILURE: see above")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="a PostgreSQL server URL on which a new database may be made")
    parser.add_argument("--workers", type=int, default=2, help="server processes on PostgreSQL")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--batch", type=int, default=100, help="orders per request (at most 1,000)")
    parser.add_argument("--keep", action="store_true", help="keep the store (DuckDB file or PostgreSQL database)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="retainly-ingest-") as folder:
        if not args.postgres:
            run(f"duckdb:///{folder}/store.duckdb", Path(folder), args)
            if args.keep:
                print("(--keep: a DuckDB store lives in a temporary folder; it is gone now)")
            return
        import psycopg

        name = f"ingest_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            run(f"{args.postgres.rsplit('/', 1)[0]}/{name}", Path(folder), args)
        finally:
            if args.keep:
                print(f"kept the database {name}")
            else:
                with psycopg.connect(args.postgres, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
