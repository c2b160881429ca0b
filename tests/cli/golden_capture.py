"""Every `retainly` command run in-process on a small generated shop, recorded and normalised.

The refactor of the core must change no output: `test_same_output.py` runs this capture with the
current code and compares each step with the golden files in tests/cli/golden/, captured from the
code before the refactor. Regenerate them (see golden/README.md) only when an output change is meant:

    PYTHONPATH=/tmp/retainly-base/src .venv/bin/python -m tests.cli.golden_capture --write tests/cli/golden

A step is one command line, run in a fresh temporary work folder with relative paths; its record
holds the argv, the exit code, stdout, stderr and any file the command wrote, normalised so that
only real changes differ (see `golden_normalise.Normaliser`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `tests` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.golden_normalise import Normaliser  # noqa: E402
from tests.cli.running import run  # noqa: E402

SHOP, DEMO, EXPORT = "shop.duckdb", "demo.duckdb", "export"
SHOP_SIZE = ("--customers", "1500", "--seed", "11")
CONSOLE_WIDTH = 200


@dataclass(frozen=True)
class Step:
    name: str
    argv: tuple[str, ...]
    files: tuple[str, ...] = ()  # files the command writes, relative to the work folder


def _on(db: str, name: str, *argv: str, files: tuple[str, ...] = ()) -> Step:
    return Step(name, ("--db", db, *argv), files)


def setup_steps() -> list[Step]:
    """The shop, then the figures the other steps take their dates and customer from."""
    return [_on(SHOP, "generate", "generate", *SHOP_SIZE), _on(SHOP, "summary-json", "summary", "--json"),
            _on(SHOP, "reorders-json", "reorders", "--json")]


def import_steps() -> list[Step]:
    """`generate --out`, then `import` of its files (one with malformed rows) into a second store."""
    db, out = "imported.duckdb", EXPORT
    return [
        Step("generate-out", ("generate", "--customers", "200", "--seed", "3", "--out", out, "--dirty")),
        _on(db, "import-customers", "import", "customers", f"{out}/customers.csv"),
        _on(db, "import-orders-dirty", "import", "orders", f"{out}/orders.csv", files=(f"{out}/orders.rejects.csv",)),
        _on(db, "import-returns-json", "import", "returns", f"{out}/returns.csv", "--json"),
        _on(db, "import-again", "import", "orders", f"{out}/orders.csv"),
        _on(db, "imported-imports", "imports"),
        _on(db, "error-import-kind", "import", "widgets", f"{out}/orders.csv"),
        _on(db, "error-import-missing", "import", "orders", f"{out}/nope.csv"),
        Step("error-generate-format", ("generate", "--out", out, "--format", "xml")),
        Step("error-generate-dirty", ("generate", "--dirty")),
    ]


@dataclass(frozen=True)
class Dates:
    """Option values taken from the shop itself, so that no step depends on today's date."""

    first: date
    last: date
    customer: str  # the most overdue reorder's customer: several orders, a stage, a buyer type

    @property
    def mid(self) -> str:
        return (self.first + (self.last - self.first) / 2).isoformat()

    def before_last(self, days: int) -> str:
        return (self.last - timedelta(days=days)).isoformat()


def shop_steps(d: Dates) -> list[Step]:
    """Every analysis command, human and machine forms, on the generated shop."""
    s = lambda name, *argv, files=(): _on(SHOP, name, *argv, files=files)  # noqa: E731
    cal, flow_from, year_ago = d.before_last(365), d.before_last(180), d.before_last(364)
    return [
        s("summary", "summary"), s("summary-csv", "summary", "--csv"),
        s("imports", "imports"), s("imports-json", "imports", "--json"),
        s("kpis", "kpis"), s("kpis-json", "kpis", "--json"),
        s("kpis-range", "kpis", "--from", year_ago, "--to", d.last.isoformat(), "--window", "180"),
        s("kpis-quarter", "kpis", "--by", "quarter"), s("kpis-quarter-json", "kpis", "--by", "quarter", "--json"),
        s("kpis-month-json", "kpis", "--by", "month", "--from", year_ago, "--json"),
        s("kpis-channel", "kpis", "--by", "channel"), s("kpis-channel-json", "kpis", "--by", "channel", "--json"),
        s("kpis-year", "kpis", "--by", "year"),
        s("cohorts", "cohorts"), s("cohorts-json", "cohorts", "--json"),
        s("cohorts-quarter-orders", "cohorts", "--by", "quarter", "--metric", "orders"),
        s("cohorts-revenue-csv", "cohorts", "--metric", "revenue", "--csv"),
        s("rfm", "rfm"), s("rfm-csv", "rfm", "--csv"),
        s("rfm-bins-json", "rfm", "--bins", "3", "--as-of", year_ago, "--json"),
        s("segments", "segments"), s("segments-json", "segments", "--json"), s("segments-csv", "segments", "--csv"),
        s("segments-from-json", "segments", "--from", d.mid, "--json"), s("segments-from", "segments", "--from", d.mid),
        s("segments-from-csv", "segments", "--from", d.mid, "--csv"),
        s("score-json", "score", "--json"), s("score", "score"),
        s("score-heuristic-json", "score", "--model", "heuristic", "--horizon", "90d", "--as-of", d.mid, "--json"),
        s("score-again", "score", "--horizon", "26w"),
        s("backtest-json", "backtest", "--calibration-end", cal, "--json"),
        s("backtest", "backtest", "--calibration-end", cal),
        s("backtest-two", "backtest", "--calibration-end", d.mid, "--holdout-end", cal, "--model", "bgnbd",
          "--model", "heuristic"),
        s("lifecycle", "lifecycle"), s("lifecycle-json", "lifecycle", "--json"),
        s("lifecycle-from-json", "lifecycle", "--from", flow_from, "--json"),
        s("lifecycle-from", "lifecycle", "--from", flow_from), s("lifecycle-csv", "lifecycle", "--csv"),
        s("buyer-types", "buyer-types"), s("buyer-types-json", "buyer-types", "--json"),
        s("buyer-types-evaluate-json", "buyer-types", "--evaluate", "--json"),
        s("buyer-types-evaluate", "buyer-types", "--evaluate"),
        s("reorders", "reorders"), s("reorders-limit", "reorders", "--limit", "3"),
        s("customer-show", "customer", "show", d.customer),
        s("customer-show-json", "customer", "show", d.customer, "--json"),
        s("customer-show-as-of", "customer", "show", d.customer, "--as-of", d.mid),
        s("report", "report", "--out", "report.html", files=("report.html",)),
        s("audiences-fields", "audiences", "fields"),
        s("audiences-preview", "audiences", "preview", "days_since_last_order > 60 and stage in [at_risk, lapsed]",
          "--sample", "3"),
        s("audiences-preview-json", "audiences", "preview", "bought(category=\"Computers\") and not vip", "--json"),
        s("audiences-save", "audiences", "save", "quiet", "days_since_last_order > 90", "--description", "silent"),
        s("audiences-list", "audiences", "list"), s("audiences-members-csv", "audiences", "members", "quiet", "--csv"),
        s("playbooks-list", "playbooks", "list"), s("playbooks-show", "playbooks", "show", "win-back-60"),
        s("playbooks-enable", "playbooks", "enable", "win-back-60", "first-order-thanks", "call-drifting-valuable"),
        s("playbooks-edit", "playbooks", "edit", "win-back-60", "--holdout-share", "0.2"),
        s("run-dry", "run", "--dry-run"), s("run-dry-json", "run", "--dry-run", "--json"),
        s("db-status", "db", "status"), s("db-status-json", "db", "status", "--json"), s("db-upgrade", "db", "upgrade"),
        _on(DEMO, "demo", "demo", "--customers", "300", "--seed", "5", files=("demo-report.html",)),
        *error_steps(d),
    ]


def error_steps(d: Dates) -> list[Step]:
    """Mistakes whose one-line message must stay word for word."""
    after, late, early = (d.last + timedelta(days=30)).isoformat(), d.before_last(10), d.before_last(200)
    s = lambda name, *argv: _on(SHOP, f"error-{name}", *argv)  # noqa: E731
    return [
        s("rfm-bins", "rfm", "--bins", "1"), s("segments-from-after", "segments", "--from", after),
        s("lifecycle-reversed", "lifecycle", "--from", late, "--to", early),
        s("kpis-by-week", "kpis", "--by", "week"), s("kpis-bad-date", "kpis", "--from", "2024-13-01"),
        s("kpis-reversed", "kpis", "--from", d.last.isoformat(), "--to", d.first.isoformat()),
        s("cohorts-metric", "cohorts", "--metric", "nope"), s("cohorts-by", "cohorts", "--by", "week"),
        s("backtest-model", "backtest", "--calibration-end", d.mid, "--model", "nope"),
        s("backtest-missing", "backtest"), s("score-model", "score", "--model", "nope"),
        s("score-horizon", "score", "--horizon", "0d"), s("customer-missing", "customer", "show", "nosuchid"),
        s("report-folder", "report", "--out", "no/such/report.html"), s("unknown-command", "nosuch"),
        s("unknown-option", "summary", "--nope"),
        s("audiences-typo", "audiences", "preview", "stage = at_risk nad vip"),
        s("audiences-unknown-field", "audiences", "preview", "stages = lost"),
        s("audiences-date-number", "audiences", "preview", "last_order_at > 60"),
        s("playbooks-missing", "playbooks", "show", "nosuch"),
        s("playbooks-holdout", "playbooks", "edit", "win-back-60", "--holdout-share", "1.5"),
    ]


def capture(workdir: Path) -> list[dict]:
    """Run every step in `workdir` (which must be empty) and return the normalised records, in order."""
    started = datetime.now()
    with _isolated(workdir):
        records = [_run(step) for step in setup_steps()]
        dates = _dates(records)
        records += [_run(step) for step in (*import_steps(), *shop_steps(dates))]
    normaliser = Normaliser(workdir, started, datetime.now())
    return [normaliser.record(record) for record in records]


def _dates(records: list[dict]) -> Dates:
    for record in records:
        if record["exit_code"] != 0:
            raise RuntimeError(f"setup step {record['step']} failed: {record['stderr'].strip()}")
    figures, due = json.loads(records[1]["stdout"]), json.loads(records[2]["stdout"])["due"]
    return Dates(date.fromisoformat(figures["first_order_at"][:10]), date.fromisoformat(figures["last_order_at"][:10]),
                 due[0]["customer"])


@contextlib.contextmanager
def _isolated(workdir: Path):
    """Relative paths from `workdir`, no store or settings from the environment, a fixed console width,
    and no Python warnings (they print once per process, so they would depend on what ran before)."""
    from retainly.cli import output

    saved_env = {k: os.environ.pop(k) for k in ("RETAINLY_DATABASE_URL", "RETAINLY_SETTINGS", "RETAINLY_DEBUG")
                 if k in os.environ}
    saved_cwd, saved_widths = os.getcwd(), (output.console.width, output.errors.width)
    os.chdir(workdir)
    output.console.width = output.errors.width = CONSOLE_WIDTH
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        os.chdir(saved_cwd)
        output.console.width, output.errors.width = saved_widths
        os.environ.update(saved_env)


def _run(step: Step) -> dict:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(list(step.argv))
    files = {name: Path(name).read_text(encoding="utf-8") if Path(name).exists() else None for name in step.files}
    return {"step": step.name, "argv": list(step.argv), "exit_code": code, "stdout": out.getvalue(),
            "stderr": err.getvalue(), "files": files}


# -- golden files -----------------------------------------------------------------------------
def stored(record: dict) -> dict:
    """A record as its golden file holds it: texts as lists of lines, so that diffs read line by line."""
    lines = lambda text: None if text is None else text.split("\n")  # noqa: E731
    return {**record, "stdout": lines(record["stdout"]), "stderr": lines(record["stderr"]),
            "files": {name: lines(body) for name, body in record["files"].items()}}


def write(records: list[dict], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        old.unlink()
    for index, record in enumerate(records):
        body = json.dumps(stored(record), indent=1, ensure_ascii=False) + "\n"
        (folder / f"{index:03d}-{record['step']}.json").write_text(body, encoding="utf-8")


def load(folder: Path) -> list[dict]:
    """The stored records, in step order."""
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Capture every retainly command's output on a generated shop.")
    parser.add_argument("--write", type=Path, required=True, metavar="DIR",
                        help="Write one JSON file per step into DIR (replacing the JSON files there).")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="retainly-golden-") as tmp:
        records = capture(Path(tmp))
    write(records, args.write)
    failed = sum(record["exit_code"] != 0 for record in records)
    print(f"wrote {len(records)} steps ({failed} ending in an error, as some should) to {args.write}")


if __name__ == "__main__":
    main()
