"""Every command explains itself with an example, and the console script runs."""

import subprocess
import sys

import pytest

from retainly.cli.app import main

COMMANDS = [["import"], ["summary"], ["imports"], ["generate"], ["demo"], ["report"], ["db", "status"], ["db", "upgrade"],
            ["kpis"], ["rfm"], ["segments"], ["cohorts"], ["customer", "show"], ["score"], ["backtest"], ["lifecycle"],
            ["buyer-types"], ["reorders"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
        raise SystemExit(0)  # --help returns normally when it succeeds
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "Example: retainly " in out


def test_console_script_summary_json(tmp_path):
    db = str(tmp_path / "s.duckdb")
    made = subprocess.run([sys.executable, "-m", "retainly", "--db", db, "db", "upgrade"], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr  # `summary` reads a store; `db upgrade` makes an empty one
    result = subprocess.run([sys.executable, "-m", "retainly", "--db", db, "summary", "--json"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert '"orders": 0' in result.stdout
