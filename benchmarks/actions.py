"""Time the action layer on a generated shop: audience previews and counts, and `retainly run`.

    PYTHONPATH=src python benchmarks/actions.py [--customers 1000000] [--seed 1] [--postgres URL] [--log FILE]
        [--delivery-budget SECONDS] [--no-run] [--out FILE --keep] [--reuse]

A shop of ``--customers`` generated customers goes into a fresh DuckDB file (a temporary folder,
or ``--out``), or into a new database on the PostgreSQL server of ``--postgres`` (dropped at the
end unless ``--keep``). Then, as of the last order, each in this process:

1. the derived results, once: RFM, predictions, lifecycle stages, buyer types and reorders, the
   products to offer (what the rules and the playbooks read);
2. per representative rule, ``ws.audiences.preview(rule, sample=10)`` (count, sample, stages and
   segments) and the bare count ``matching(...).count().execute()``, each ``--repeat`` times; the
   median is compared with the aim (2 s);
3. every built-in playbook enabled, ``ws.playbooks.run(dry_run=True)``, a real run (file channels
   in a temporary RETAINLY_OUTBOX_DIR) and a second real run, which should find nothing new; the
   real run is compared with the aim (60 s at 1 M customers). ``--no-run`` stops after the audiences.

``--reuse`` measures again on a shop an earlier ``--keep`` run left in ``--out`` (DuckDB): no
generation, the derived results kept, the action tables emptied. ``--delivery-budget SECONDS``
stops each real run's delivery after that long (an exception from the progress hook, between
two batches, so no row is left half-handled; delivery went row by row until December 2026, at
70-150 rows a second, hours at 1 M) and extrapolates from the rate; the rest stays queued for the next run, and
that run's row in ``runs`` says it failed. The counts after a real run are read from the
store (enrolments, outbox rows by status) so that they are there whether or not it was stopped.

Every progress line retainly reports (Workspace.open(url, progress=...)) is timestamped, which
gives the per-phase breakdown printed under each timed call (the delivery's "outbox: ..." lines
are folded into one phase). CPU seconds are this process's (user + system, all
threads: DuckDB's engine included; on PostgreSQL the server's work is not in them), printed beside
wall seconds because a busy machine stretches the wall clock; with ``--postgres`` the CPU seconds
of the database's server backends (read from /proc: the server must run on this machine; its
short-lived parallel workers are missed) are added. Results go in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from retainly import Workspace
from retainly.audiences.compile import matching

AUDIENCE_AIM, RUN_AIM = 2.0, 60.0  # seconds, issue 13 ("Speed"), at 1 M customers
RULES = {
    "profile": "country = DE and email_consent",
    "orders": "days_since_last_order > 60 and orders_count >= 2",
    "predictions + lifecycle": "stage in [at_risk, lapsed] and order_chance between 0.05 and 0.6",
    "bought (category, window)": 'bought(category="Coffee & Tea", within_days=90)',
    "cart abandoned": "cart_abandoned(within_hours=24)",
    "reorder due": "reorder_due",
    "offers + vip": "offered and not vip",
    "wide any (or of 7)": ('rfm_segment = "Champions" or vip or bought(category="Coffee & Tea", within_days=30) '
                           "or reorder_due or days_to_birthday <= 7 or net_spend > 500 or sign_overdue"),
}


class BudgetSpent(Exception):
    """Raised from the progress hook when a real run's delivery has had its ``--delivery-budget``."""


class Clock:
    """Wall and CPU seconds since start, and every progress line with the moment it arrived."""

    def __init__(self, echo: bool = True, log: Path | None = None, delivery_budget: float | None = None):
        self.started = time.perf_counter()
        self.lines: list[tuple[str, float, float]] = []
        self.echo, self.log = echo, log.open("w") if log else None
        self._last_outbox = 0.0
        self.delivery_budget, self._delivering_since = delivery_budget, None
        self.server_pids, self._pids = (lambda: []), []  # PostgreSQL: the pids of the database's backends

    def now(self) -> tuple[float, float]:
        return time.perf_counter() - self.started, time.process_time() + sum(map(cpu_seconds, self._pids))

    def hear(self, line: str) -> None:
        wall, cpu = self.now()
        self.lines.append((line, wall, cpu))
        if self.log:
            print(f"{wall:9.2f} {cpu:9.2f}  {line}", file=self.log, flush=True)
        # Deliveries report as they go: echo one such line in ten seconds, keep them all.
        if self.echo and (not line.startswith("outbox:") or wall - self._last_outbox >= 10):
            self._last_outbox = wall if line.startswith("outbox:") else self._last_outbox
            print(f"      [{wall:8.1f} s] {line}", flush=True)
        if line == "delivering due actions":
            self._delivering_since = wall
        elif not line.startswith("outbox:"):
            self._delivering_since = None
        elif (self.delivery_budget is not None and self._delivering_since is not None
              and wall - self._delivering_since >= self.delivery_budget):
            self._delivering_since = None
            raise BudgetSpent(line)

    def timed(self, label: str, call):
        """(result, wall, CPU, phases) of ``call()``; phases are (line, wall, CPU) from each progress line on.
        A call stopped by the delivery budget gives the ``BudgetSpent`` as its result."""
        self._pids = self.server_pids()
        first = len(self.lines)
        wall0, cpu0 = self.now()
        self.lines.append((f"({label}: before the first progress line)", wall0, cpu0))
        try:
            result = call()
        except BudgetSpent as stopped:
            result = stopped
        wall1, cpu1 = self.now()
        marks = self.lines[first:]
        ends = [(w, c) for _, w, c in marks[1:]] + [(wall1, cpu1)]
        phases = _fold([(line, end - w, end_cpu - c) for (line, w, c), (end, end_cpu) in zip(marks, ends)])
        return result, wall1 - wall0, cpu1 - cpu0, phases


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all threads (Linux /proc); 0 once it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _fold(phases: list[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """Consecutive "outbox: ..." lines as one phase named by the last of them; zero-length lead-ins dropped."""
    folded: list[tuple[str, float, float]] = []
    for line, wall, cpu in phases:
        if line.startswith("(") and wall < 0.05:
            continue
        if folded and line.startswith("outbox:") and folded[-1][0].startswith("outbox:"):
            _, w, c = folded.pop()
            wall, cpu = wall + w, cpu + c
        folded.append((line, wall, cpu))
    return folded


def show_phases(phases, indent: str = "        ") -> None:
    for line, wall, cpu in phases:
        print(f"{indent}{wall:8.2f} s {cpu:8.2f} s CPU  {line}")


def machine() -> str:
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "?"
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.machine()} {model}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.python_implementation()} "
            f"{platform.python_version()}")


def commit() -> str:
    try:
        found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                               cwd=Path(__file__).parent, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=Path(__file__).parent).stdout.strip()
        return found + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


class PostgresDatabase:
    """A new database on the server of ``url``, dropped afterwards unless kept."""

    def __init__(self, url: str, customers: int):
        import psycopg

        self.psycopg, self.server, self.name = psycopg, url, f"retainly_actions_{customers}"

    def _admin(self, statement: str) -> None:
        with self.psycopg.connect(self.server, autocommit=True) as connection:
            connection.execute(statement)

    def create(self) -> str:
        self._admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        self._admin(f"CREATE DATABASE {self.name}")
        return urlunsplit(urlsplit(self.server)._replace(path=f"/{self.name}"))

    def backends(self) -> list[int]:
        with self.psycopg.connect(self.server, autocommit=True) as connection:
            return [pid for (pid,) in connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name,)).fetchall()]

    def drop(self) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def bench_audiences(ws: Workspace, clock: Clock, as_of, repeat: int) -> list[tuple[str, float, float, int]]:
    """Per rule: median preview seconds, median count seconds, matching customers."""
    print(f"  audiences ({repeat} runs each, median; aim {AUDIENCE_AIM:.0f} s each)")
    print(f"    {'rule':<26}{'preview':>9}{'CPU':>8}{'count':>9}{'CPU':>8}{'customers':>11}  ratio to aim (preview)")
    found = []
    for label, text in RULES.items():
        previews, counts, number = [], [], None
        for _ in range(repeat):
            shown, wall, cpu, phases = clock.timed(f"preview {label}", lambda: ws.audiences.preview(text, as_of, sample=10))
            previews.append((wall, cpu))
            if len(phases) > 1:  # a derived result computed on the way: say so, it is not the rule's own time
                show_phases(phases)
            counted, wall, cpu, _ = clock.timed(
                f"count {label}", lambda: matching(ws.store, ws.audiences.rule(text), as_of).count().execute())
            counts.append((wall, cpu))
            number = int(counted)
            if int(shown.customers) != number:
                raise SystemExit(f"{label}: the preview counts {shown.customers}, the bare count {number}")
        pw, pc = (statistics.median(x[i] for x in previews) for i in (0, 1))
        cw, cc = (statistics.median(x[i] for x in counts) for i in (0, 1))
        found.append((label, pw, cw, number))
        print(f"    {label:<26}{pw:8.2f}s{pc:7.2f}s{cw:8.2f}s{cc:7.2f}s{number:>11,}  {pw / AUDIENCE_AIM:.2f}x"
              f"   (preview runs {', '.join(f'{w:.2f}' for w, _ in previews)})", flush=True)
    for label, text in RULES.items():
        print(f"      {label}: {text}")
    return found


def forget_actions(ws: Workspace) -> None:
    """Empty what earlier runs of the playbooks wrote, so that the next run is a first one again."""
    with ws.store.transaction():
        for table in ("outbox", "enrolments", "runs", "audience_members", "audience_evaluations", "tasks",
                      "task_attempts"):
            ws.store.execute(f"DELETE FROM {table}")
    ws.store.execute("CHECKPOINT")


def outbox_counts(ws: Workspace) -> dict[str, int]:
    return {status: int(n) for status, n in ws.store.fetchall("SELECT status, COUNT(*) FROM outbox GROUP BY status")}


def bench_run(ws: Workspace, clock: Clock, outbox_dir: Path) -> dict:
    os.environ["RETAINLY_OUTBOX_DIR"] = str(outbox_dir)
    enabled = ws.playbooks.enable(["all"])
    print(f"  playbooks: {len(enabled)} enabled ({', '.join(p.name for p in enabled)})", flush=True)
    figures = {}
    for label, dry in (("dry run", True), ("real run", False), ("second real run", False)):
        before = outbox_counts(ws)
        summary, wall, cpu, phases = clock.timed(label, lambda: ws.playbooks.run(dry_run=dry))
        stopped = isinstance(summary, BudgetSpent)
        figures[label] = wall
        planning = sum(w for line, w, _ in phases if not line.startswith(("delivering", "outbox:")))
        print(f"  `retainly run`{' --dry-run' if dry else ''} ({label}): {wall:.1f} s wall, {cpu:.1f} s CPU"
              + ("" if dry else f"; aim {RUN_AIM:.0f} s: {wall / RUN_AIM:.2f}x the aim")
              + (f"; STOPPED after the delivery budget ({clock.delivery_budget:.0f} s)" if stopped else ""))
        show_phases(phases)
        if dry:
            entered = sum(p.entered for p in summary.playbooks)
            print(f"      would enter {entered:,}, hold out {sum(p.held_out for p in summary.playbooks):,}, "
                  f"deliver {sum(p.to_deliver for p in summary.playbooks):,} (capped {sum(p.capped for p in summary.playbooks):,}), "
                  f"suppress {sum(p.suppressed for p in summary.playbooks):,}, skip {sum(p.skipped for p in summary.playbooks):,}")
            for p in summary.playbooks:
                print(f"        {p.playbook:<24} entered {p.entered:>8,}  held out {p.held_out:>7,}  to deliver "
                      f"{p.to_deliver:>8,}  suppressed {p.suppressed:>7,}  skipped {p.skipped:>6,}")
            continue
        after = outbox_counts(ws)
        enrolled = ws.store.fetchone("SELECT COUNT(*) FROM enrolments")[0]
        written = {f.name: sum(1 for _ in f.open()) for f in sorted(outbox_dir.glob("*.jsonl"))}
        print(f"      planning {planning:.1f} s; enrolments now {int(enrolled):,}; outbox rows by status "
              f"before {before}, after {after}; file channels now hold {written}")
        if not stopped:
            print(f"      delivered (the run's summary): {dict(summary.delivered)}")
        delivery = wall - planning
        sent = after.get("sent", 0) - before.get("sent", 0)
        if sent and delivery > 0:
            rate = sent / delivery
            left = after.get("queued", 0)
            print(f"      delivery: {sent:,} sent in {delivery:.1f} s = {rate:.0f} rows/s"
                  + (f"; the {left:,} rows still queued would take about {left / rate:,.0f} s more at that rate"
                     if stopped else ""), flush=True)
        figures[f"{label} planning"] = planning
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", help="a PostgreSQL server URL on which a new database may be made")
    parser.add_argument("--out", type=Path, help="the DuckDB file (default: in a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the store (DuckDB file or PostgreSQL database)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per audience measurement")
    parser.add_argument("--log", type=Path, help="write every timestamped progress line here")
    parser.add_argument("--delivery-budget", type=float, help="stop each real run's delivery after this many seconds")
    parser.add_argument("--no-run", action="store_true", help="stop after the audiences")
    parser.add_argument("--reuse", action="store_true",
                        help="DuckDB: measure again on the shop kept in --out (no generation; the action tables emptied)")
    args = parser.parse_args()
    if args.reuse and (args.postgres or not args.out or not args.out.exists()):
        parser.error("--reuse needs --out naming a DuckDB file an earlier --keep run left (and no --postgres)")
    print(f"machine: {machine()}; {load()}; commit {commit()}; {time.strftime('%Y-%m-%d %H:%M')}")
    folder = Path(tempfile.mkdtemp(prefix="retainly-actions-"))
    database = PostgresDatabase(args.postgres, args.customers) if args.postgres else None
    path = args.out or folder / "shop.duckdb"
    if not database and not args.reuse:
        for leftover in (path, Path(f"{path}.wal")):
            leftover.unlink(missing_ok=True)
    url = database.create() if database else f"duckdb:///{path}"
    print(f"{'postgres' if database else 'duckdb'}: {args.customers:,} customers, seed {args.seed}", flush=True)
    clock = Clock(log=args.log, delivery_budget=args.delivery_budget)
    if database:
        clock.server_pids = database.backends
        print("  (CPU seconds: this process and the database's server backends)")
    began = time.perf_counter()
    try:
        with Workspace.open(url, progress=clock.hear, upgrade=args.reuse) as ws:
            if args.reuse:
                forget_actions(ws)
            else:
                _, wall, cpu, phases = clock.timed("generate", lambda: ws.data.generate(args.customers, args.seed,
                                                                                        progress=clock.hear))
                show_phases(phases)
            rows = ws.data.table_rows()
            print(("  reused: " if args.reuse else f"  generate: {wall:.1f} s wall, {cpu:.1f} s CPU; ")
                  + ", ".join(f"{t} {rows[t]:,}" for t in ("customers", "orders", "order_lines", "events") if t in rows))
            as_of = ws.data.last_order_date()
            print(f"  derived results as of {as_of}, once:")
            derived = 0.0
            for label, call in (("rfm", ws.rfm.ensure), ("predictions", ws.predictions.ensure),
                                ("lifecycle", ws.lifecycle.ensure), ("insights", ws.insights.ensure),
                                ("offers", ws.insights.ensure_offers)):
                _, wall, cpu, phases = clock.timed(label, lambda: call(as_of))
                derived += wall
                print(f"    {label:<12}{wall:8.1f} s wall {cpu:8.1f} s CPU", flush=True)
            print(f"    {'all':<12}{derived:8.1f} s wall")
            bench_audiences(ws, clock, as_of, args.repeat)
            if not args.no_run:
                runs = bench_run(ws, clock, folder / "outbox")
                if not args.reuse:  # reused, the derived results were already there
                    print(f"  `retainly run` after a fresh import (derived results + real run): "
                          f"{derived + runs['real run']:.1f} s; {(derived + runs['real run']) / RUN_AIM:.2f}x the run aim")
    finally:
        if database and not args.keep:
            database.drop()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        elif not database:
            print(f"  kept {path}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"total {time.perf_counter() - began:.1f} s; peak RSS {peak:.2f} GiB; {load()}")


if __name__ == "__main__":
    main()
