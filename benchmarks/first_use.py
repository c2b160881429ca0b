"""Time a new user's first `customer show` and first `report` on a fresh Online Retail II store.

    python benchmarks/first_use.py [--postgres URL] [--without paretonbd] [--customer 12347] [--repeat N]

The full file is imported once per store (DuckDB file; PostgreSQL when a URL is given); each
measured command then runs on a copy of that freshly imported store (a copied DuckDB file, a
PostgreSQL database made from it as a template), so nothing derived exists yet: the state a
user is in right after `retainly import`. Each command runs through the CLI in a subprocess on
a pseudo-terminal, as a user runs it, so the CLI prints its progress lines; each line is
timestamped as it arrives, which gives the per-step breakdown ("start" is from launch to the
first line: interpreter, imports, opening the store). ``--without paretonbd`` leaves a
purchase model out of the automatic choice's backtest (to see what remains once it is fast).
CPU seconds of the subprocess (user + system, all its threads, read from /proc at each line)
are printed beside wall seconds, per step too, because a busy machine stretches the wall clock. Results are recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import pty
import re
import resource
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from retainly import Workspace

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "online_retail_ii" / "online_retail_II.csv.gz"
AIMS = {"customer show": 10.0, "report": 15.0}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Runs the CLI, first dropping the purchase models named in argv[1] (comma-separated) from the choice.
RUNNER = ("import sys; import retainly.models as m; [m.PURCHASE_MODELS.pop(n) for n in sys.argv[1].split(',') if n]; "
          "from retainly.cli.app import main; sys.argv = ['retainly', *sys.argv[2:]]; main()")


def import_store(url: str) -> float:
    started = time.perf_counter()
    with Workspace.open(url) as ws:
        ws.data.import_file("orders", DATASET, preset="online-retail-ii")
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process, all threads (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_cli(db: str, args: list[str], without: list[str], cwd: str) -> dict:
    """Run `retainly --db DB ARGS` with stderr on a pseudo-terminal; (step, wall, CPU seconds) per progress line."""
    main, child = pty.openpty()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", RUNNER, ",".join(without), "--db", db, *args], cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=child, stdin=subprocess.DEVNULL,
                               env={**os.environ, "COLUMNS": "200"})
    os.close(child)
    marks, buffer = [("start", started, 0.0)], b""
    while True:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the child closed its end
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = re.split(rb"\r?\n", buffer)
            for line in lines:
                text = ANSI.sub("", line.decode(errors="replace")).strip()
                if text:
                    marks.append((text, time.perf_counter(), cpu_seconds(process.pid)))
        elif process.poll() is not None:
            break
    code = process.wait()
    finished = time.perf_counter()
    os.close(main)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code != 0:
        raise SystemExit(f"retainly {' '.join(args)} failed ({code}): {[m[0] for m in marks]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    ends = [(at, used) for _, at, used in marks[1:]] + [(finished, cpu)]
    steps = [(name, end - at, end_cpu - used) for (name, at, used), (end, end_cpu) in zip(marks, ends)]
    return {"steps": steps, "total": finished - started, "cpu": cpu}


class DuckDBStores:
    """A freshly imported DuckDB file, copied for each measured command."""

    def __init__(self, folder: str):
        self.folder = Path(folder)
        self.base = self.folder / "base.duckdb"

    def prepare(self) -> float:
        return import_store(f"duckdb:///{self.base}")

    def fresh(self, n: int) -> str:
        copy = self.folder / f"run{n}.duckdb"
        for suffix in ("", ".wal"):
            source = Path(f"{self.base}{suffix}")
            if source.exists():
                shutil.copyfile(source, f"{copy}{suffix}")
        return f"duckdb:///{copy}"


class PostgresStores:
    """A database imported once, then copied (CREATE DATABASE ... TEMPLATE) for each measured command."""

    def __init__(self, url: str):
        import psycopg

        self.psycopg, self.url = psycopg, url
        self.base = "retainly_first_use_base"

    def _admin(self, *statements: str) -> None:
        with self.psycopg.connect(self.url, autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement)

    def _url(self, database: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"/{database}"))

    def prepare(self) -> float:
        self._admin(f"DROP DATABASE IF EXISTS {self.base}", f"CREATE DATABASE {self.base}")
        return import_store(self._url(self.base))

    def fresh(self, n: int) -> str:
        name = f"retainly_first_use_run{n}"
        self._admin(f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name} TEMPLATE {self.base}")
        return self._url(name)


def report_run(label: str, runs: list[dict]) -> None:
    total = statistics.median(r["total"] for r in runs)
    cpu = statistics.median(r["cpu"] for r in runs)
    aim = AIMS[label]
    print(f"  first `{label}`: {total:.1f} s wall, {cpu:.1f} s CPU (median of {len(runs)}); "
          f"aim {aim:.0f} s: {total / aim:.2f}x the aim")
    print("     wall      CPU  step")
    for i, (step, _, _) in enumerate(runs[0]["steps"]):
        wall = statistics.median(r["steps"][i][1] for r in runs if len(r["steps"]) > i)
        used = statistics.median(r["steps"][i][2] for r in runs if len(r["steps"]) > i)
        print(f"  {wall:7.1f} s {used:6.1f} s  {step}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose server may get two new databases")
    parser.add_argument("--without", action="append", default=[], help="a purchase model left out of the choice")
    parser.add_argument("--customer", default="12347", help="the customer id to show")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", choices=sorted(AIMS), help="measure one command only")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}; without: {args.without or 'nothing'}")
    commands = {"customer show": ["customer", "show", args.customer], "report": ["report", "--out", "r.html"]}
    with tempfile.TemporaryDirectory() as folder:
        targets = [("duckdb", DuckDBStores(folder))]
        if args.postgres:
            targets.append(("postgres", PostgresStores(args.postgres)))
        n = 0
        for backend, stores in targets:
            print(f"{backend}: import {stores.prepare():.1f} s")
            for label, command in commands.items():
                if args.only and label != args.only:
                    continue
                runs = []
                for _ in range(args.repeat):
                    n += 1
                    runs.append(run_cli(stores.fresh(n), command, args.without, folder))
                report_run(label, runs)


if __name__ == "__main__":
    main()
