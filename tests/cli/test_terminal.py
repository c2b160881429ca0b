"""Data on the terminal is shown as written, and printing never undoes what a command saved.

Rich markup in data (`[/x]`) used to crash the CLI after an import had committed, and every
later `retainly imports`; escape codes in names reached the terminal raw. And a report that
could not be printed turned a saved import into exit 1.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from retainly.cli import output
from tests.cli.running import captured

ESC = "\x1b"
RELATIVE = "shop[/x] customers.csv"  # the customers file, from tmp_path


def _retainly(*args: str, cwd: Path, stdout=subprocess.PIPE, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "retainly", *args], cwd=cwd, stdout=stdout, stderr=subprocess.PIPE,
                          text=True, env={**os.environ, **(env or {})})


@pytest.fixture
def customers(tmp_path) -> Path:
    """A customers file whose path and values hold markup, and a rejected value with an escape code."""
    path = tmp_path / "shop[" / "x] customers.csv"  # its path, shop[/x] customers.csv, holds a closing tag
    path.parent.mkdir()
    path.write_text("customer_id,name,first_seen_at\n"
                    "A,[bold]Ann[/] [/x],2024-01-01\n"
                    f"B,Bob,{ESC}[2J2024-01-02\n", encoding="utf-8")
    return path


def test_markup_and_escape_codes_in_data_are_printed_as_written(tmp_path, customers, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a short relative path, so that the ledger's table shows it on one line
    db = "shop.duckdb"
    code, out, err = captured(["--db", db, "import", "customers", RELATIVE])
    assert (code, err) == (0, "")
    assert f"{RELATIVE}: 1 of 2 rows imported" in out
    assert "\\x1b[2J2024-01-02" in out and ESC not in out  # the rejected value, escaped
    for _ in range(2):  # the source path with markup no longer breaks the ledger, now or later
        code, out, err = captured(["--db", db, "imports"])
        assert (code, err) == (0, "")
        assert "shop[/x] customers.csv" in out
    code, out, err = captured(["--db", db, "customer", "show", "A"])
    assert code == 0, err
    assert "[bold]Ann[/] [/x]" in out


def test_names_with_escape_codes_are_shown_escaped_in_tables_and_errors(tmp_path):
    db = str(tmp_path / "shop.duckdb")
    named = tmp_path / "c.csv"
    named.write_text(f"customer_id,name\nA,Ann{ESC}]0;owned{ESC}\\ \u202eevil\n", encoding="utf-8")
    assert captured(["--db", db, "import", "customers", str(named)])[0] == 0
    code, out, err = captured(["--db", db, "customer", "show", "A"])
    assert code == 0, err
    assert "Ann\\x1b]0;owned\\x1b\\ \\u202eevil" in out and ESC not in out and "\u202e" not in out
    code, out, err = captured(["--db", db, "import", "customers", str(tmp_path / f"no{ESC}[31msuch.csv")])
    assert code == 1
    assert err.startswith("error: ") and "no\\x1b[31msuch.csv" in err and ESC not in err


def test_the_progress_bar_shows_file_names_as_written(monkeypatch):
    # On a terminal the bar's columns read markup: a file name must not be taken for it.
    frames = io.StringIO()
    monkeypatch.setattr(output, "errors", Console(file=frames, force_terminal=True, width=120))
    with output.phases(f"importing [bold]x[/bold]{ESC}]0;title\a.csv", ["reading"]) as step:
        step("reading")
    assert "importing [bold]x[/bold]\\x1b]0;title\\x07.csv" in frames.getvalue()
    assert f"{ESC}]0;" not in frames.getvalue()


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_an_import_that_committed_exits_0_when_its_report_cannot_be_printed(tmp_path, customers, as_json):
    with open("/dev/full", "w") as full:  # stdout on a full disk: every write fails
        result = _retainly("--db", "shop.duckdb", "import", "customers", RELATIVE, *(["--json"] * as_json),
                           cwd=tmp_path, stdout=full)
    assert result.returncode == 0
    assert result.stderr == (f"warning: import #1 of {RELATIVE} is saved, but its report could not be printed "
                             "(No space left on device)\n")
    code, out, err = captured(["--db", str(tmp_path / "shop.duckdb"), "imports", "--json"])
    assert [(i["rows_accepted"], i["status"]) for i in json.loads(out)] == [(1, "completed")]


def test_a_command_that_saved_nothing_fails_when_it_cannot_print(tmp_path, customers):
    assert captured(["--db", str(tmp_path / "shop.duckdb"), "import", "customers", str(customers)])[0] == 0
    with open("/dev/full", "w") as full:
        result = _retainly("--db", "shop.duckdb", "summary", cwd=tmp_path, stdout=full)
    assert (result.returncode, result.stderr) == (1, "error: cannot write the output: No space left on device\n")


def test_a_closed_pipe_ends_quietly(tmp_path, customers):
    assert captured(["--db", str(tmp_path / "shop.duckdb"), "import", "customers", str(customers)])[0] == 0
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line, like `| head -0`
    try:
        result = _retainly("--db", "shop.duckdb", "imports", "--csv", cwd=tmp_path, stdout=write)
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (1, "")
