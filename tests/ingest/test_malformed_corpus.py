"""The malformed-input corpus: every class of bad input, run on DuckDB and PostgreSQL.

Each folder of ``tests/data/malformed/`` holds the input file(s) and a ``case.toml``:

    about = "one line: what is wrong with this input"
    issue_item = 1                       # item of issue 11 (0: a class docs/import.md already lists)
    argv = ["import", "orders", "input.csv"]   # the command after `--db store.duckdb`
    exit = 1                             # expected exit code
    stderr = "error: input.csv: ..."     # the exact expected stderr (omitted: none expected)
    stdout_contains = ["1 of 2 rows imported"]  # optional substrings of stdout
    [store]                              # optional: row counts after the command
    orders = 0
    [files]                              # optional: files after the command, name -> exact content or "exists"
    "input.rejects.csv" = "exists"

and one optional key for what git cannot hold: ``named_pipes = ["input.csv"]`` makes those
names named pipes (nobody writes to them) in the copy before the command runs.

The folder is copied to a temporary folder (symbolic links kept as links), the command runs
there through the real in-process entry point (``retainly.cli.app.main``) with
``--db store.duckdb`` on DuckDB or ``--db <a fresh database>`` on PostgreSQL, and the same
things are compared on both. A guard turns a hang into a failure. Every expected stderr must
be one of the messages docs/import.md lists, word for word (its placeholders in capitals), and
the figures at the end of docs/import.md must list every class.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import tomllib
from pathlib import Path

import pytest

from retainly.cli.app import main

CORPUS = Path(__file__).resolve().parents[1] / "data" / "malformed"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "import.md"
CASES = sorted(p.parent.name for p in CORPUS.glob("*/case.toml"))
KEYS = {"about", "issue_item", "argv", "exit", "stderr", "stdout_contains", "store", "files", "named_pipes"}
HANG_GUARD_SECONDS = 120


def load_case(name: str) -> dict:
    case = tomllib.loads((CORPUS / name / "case.toml").read_text(encoding="utf-8"))
    unknown = set(case) - KEYS
    assert not unknown, f"{name}/case.toml: unknown keys {sorted(unknown)}; use {sorted(KEYS)}"
    for key in ("about", "issue_item", "argv", "exit"):
        assert key in case, f"{name}/case.toml: `{key}` is required"
    assert isinstance(case["issue_item"], int) and 0 <= case["issue_item"] <= 19, f"{name}: issue_item 0..19"
    return case


class _Hang(Exception):
    pass


def _on_alarm(_signum, _frame):
    # Raising from the handler interrupts a blocking system call (an open() of a pipe, a read).
    raise _Hang(f"the command did not finish in {HANG_GUARD_SECONDS} s")


def run_case(case: dict, folder: Path, db: str, capsys) -> tuple[int, str, str]:
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(HANG_GUARD_SECONDS)
    try:
        main(["--db", db, *case["argv"]])
        code = 0
    except SystemExit as done:
        code = done.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    out, err = capsys.readouterr()
    return code, out, err


def count_rows(db: str, folder: Path, table: str) -> int:
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db) as connection:
            exists = connection.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0]
            assert exists is not None, f"the store has no table {table}"
            return connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
    import duckdb

    path = folder / db
    if not path.exists():  # the command never created the store: nothing is in it
        return 0
    with duckdb.connect(str(path), read_only=True) as connection:
        exists = connection.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?", [table]).fetchone()[0]
        assert exists, f"the store has no table {table}"
        return connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]


@pytest.mark.parametrize("name", CASES)
def test_case(name, store_url, tmp_path, monkeypatch, capsys):
    case = load_case(name)
    folder = tmp_path / "case"
    shutil.copytree(CORPUS / name, folder, symlinks=True, ignore=shutil.ignore_patterns("case.toml"))
    for pipe in case.get("named_pipes", []):
        os.mkfifo(folder / pipe)
    monkeypatch.chdir(folder)
    db = "store.duckdb" if store_url.startswith("duckdb") else store_url

    code, out, err = run_case(case, folder, db, capsys)

    context = f"{name}: {case['about']}\nstdout:\n{out}\nstderr:\n{err}"
    assert code == case["exit"], context
    assert err == case.get("stderr", ""), context
    for text in case.get("stdout_contains", []):
        assert text in out, f"{text!r} not in stdout\n{context}"
    for table, expected in case.get("store", {}).items():
        assert count_rows(db, folder, table) == expected, f"table {table}\n{context}"
    for file_name, expected in case.get("files", {}).items():
        target = folder / file_name
        assert target.is_file(), f"{file_name} was not written\n{context}"
        if expected != "exists":
            assert target.read_text(encoding="utf-8") == expected, f"{file_name}\n{context}"


def documented_messages() -> list[re.Pattern]:
    """The messages of docs/import.md as patterns: `FILE`, `LINE`, `C`, ... stand for anything.

    A documented piece that starts with "; " (what `--strict` adds) may follow any message.
    """
    regexes = []
    section = DOCS.read_text(encoding="utf-8").split("## Error messages", 1)[-1].split("\n## ", 1)[0]
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        # `message`, or ``message with `backticks` inside`` (a Markdown code span of two backticks)
        for spans in re.findall(r"`` (.+?) ``|`([^`]+)`", line.replace("\\|", "|")):
            message = spans[0] or spans[1]
            parts = re.split(r"(\.\.\.|(?<=0x)NN|\b[A-Z][A-Z0-9_]*\b)", message)
            regexes.append("".join(".*" if i % 2 else re.escape(part) for i, part in enumerate(parts)))
    suffixes = [r for r in regexes if r.startswith(re.escape("; "))]
    return [re.compile(r + s, re.DOTALL) for r in regexes for s in ["", *suffixes]]


@pytest.mark.parametrize("name", [n for n in CASES if "stderr" in load_case(n)])
def test_message_is_documented(name):
    stderr = load_case(name)["stderr"]
    message = stderr.removeprefix("error: ").removesuffix("\n")
    matching = [p.pattern for p in documented_messages() if p.fullmatch(message)]
    assert matching, f"{name}: the message is not in the table of docs/import.md: {message!r}"


def test_the_corpus_is_not_empty():
    assert len(CASES) >= 10, f"only {len(CASES)} cases in {CORPUS}"


def outcome(case: dict) -> str:
    """What happens to a case's input, in words, from its expectations."""
    if case["exit"] != 0:
        return "refused; the store is unchanged"
    for text in case.get("stdout_contains", []):
        counts = re.search(r"([\d,]+) of ([\d,]+) rows imported", text)
        if counts:
            accepted, read = counts.groups()
            return "imported in full" if accepted == read else f"{accepted} of {read} rows imported, the rest set aside"
    return "imported"


def figures_row(name: str) -> str:
    case = load_case(name)
    about = case["about"].replace("|", "\\|")
    return f"| `{name}` | {case['issue_item']} | {about} | {outcome(case)} |"


def test_the_docs_give_the_figures_of_every_class():
    """docs/import.md's figures list every class of the corpus and their number."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Malformed input: the figures", 1)[-1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.MULTILINE))
    missing = [name for name in CASES if name not in listed]
    assert not missing, "add these rows to the figures of docs/import.md:\n" + "\n".join(map(figures_row, missing))
    assert not listed - set(CASES), f"docs/import.md lists classes the corpus does not have: {sorted(listed - set(CASES))}"
    assert f"**{len(CASES)} classes**" in section, f"the figures of docs/import.md should say **{len(CASES)} classes**"
