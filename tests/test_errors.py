"""The error tree: one HTTP status per class, the parameter at fault, and messages each shell re-spells.

The core names parameters in backticks as the Python API spells them; the CLI prints its flags
instead, so its output reads as it always did, and no library module writes a CLI flag itself.
"""

from __future__ import annotations

import ast
import re
from datetime import date
from pathlib import Path

import pytest

from retainly import Workspace, errors
from retainly.errors import (
    ConflictError, ConvergenceError, FileFormatError, ImportAborted, InputError, MappingError, NotFoundError,
    RetainlyError, SchemaVersionError, StoreBusyError, StoreError,
)
from tests.conftest import DATA

SRC = Path(__file__).resolve().parents[1] / "src" / "retainly"


@pytest.mark.parametrize(("cls", "status"), [
    (RetainlyError, 500), (InputError, 422), (FileFormatError, 422), (MappingError, 422), (NotFoundError, 404),
    (ConflictError, 409), (StoreError, 500), (SchemaVersionError, 409), (StoreBusyError, 503), (ImportAborted, 422),
    (ConvergenceError, 422),
])
def test_http_status_per_class(cls, status):
    assert cls.http_status == status
    assert cls("x").http_status == status


def test_builtin_bases_still_catch():
    assert issubclass(InputError, ValueError) and issubclass(NotFoundError, LookupError)
    assert issubclass(StoreError, RuntimeError) and issubclass(ImportAborted, RuntimeError)


def test_parameter_is_carried():
    error = InputError("`by` 'week' is not supported; use one of month, quarter, year, channel", parameter="by")
    assert error.parameter == "by"
    assert str(error) == "`by` 'week' is not supported; use one of month, quarter, year, channel"
    assert NotFoundError("no such customer").parameter is None


def test_the_core_passes_the_parameter_at_fault(tmp_path):
    from retainly.features.periods import date_range
    from retainly.ingest.mapping import load_mapping

    with pytest.raises(InputError) as error:
        date_range(date(2024, 3, 1), date(2024, 2, 1), None, None)
    assert error.value.parameter == "first"
    assert str(error.value) == "`first` 2024-03-01 is after `last` 2024-02-01; swap them"
    with pytest.raises(NotFoundError) as error:
        load_mapping(tmp_path / "absent.toml")
    assert error.value.parameter == "mapping" and str(error.value).endswith("check the path given to `mapping`")


def test_spelled_re_spells_backticked_names():
    error = InputError("`first` 2024-03-01 is after `last` 2024-02-01; swap them", parameter="first")
    flags = {"first": "--from", "last": "--to"}
    assert error.spelled(flags.get) == "--from 2024-03-01 is after --to 2024-02-01; swap them"
    assert error.spelled(str.upper) == "FIRST 2024-03-01 is after LAST 2024-02-01; swap them"


def test_spelled_leaves_unknown_names_and_command_lines():
    error = InputError("`as_of` too early, `nope` too; see `retainly import --help` or `Retainly`")
    assert error.spelled({"as_of": "--as-of"}.get) == (
        "--as-of too early, `nope` too; see `retainly import --help` or `Retainly`")
    assert error.spelled(lambda name: None) == str(error)


# -- the CLI ------------------------------------------------------------------------------------
def run(argv: list[str]) -> int:
    from tests.cli.running import run  # the CLI only where it runs: the rest checks the core alone

    return run(argv)


def test_cli_option_with_its_own_name(tmp_path, capsys):
    Workspace.open(tmp_path / "shop.duckdb").close()  # an empty store: the commands read one
    assert run(["--db", str(tmp_path / "shop.duckdb"), "kpis", "--by", "week"]) == 1
    assert capsys.readouterr().err == "error: --by 'week' is not supported; use one of month, quarter, year, channel\n"
    assert run(["--db", str(tmp_path / "shop.duckdb"), "cohorts", "--metric", "margin"]) == 1
    assert capsys.readouterr().err == (
        "error: --metric 'margin' is not supported; use one of customers, revenue, orders\n")


def test_cli_flag_that_differs_from_the_parameter(tmp_path, capsys):
    # kpis(first, last) are --from and --to on the command line.
    Workspace.open(tmp_path / "shop.duckdb").close()
    assert run([f"--db={tmp_path / 'shop.duckdb'}", "kpis", "--from", "2024-03-01", "--to", "2024-02-01"]) == 1
    assert capsys.readouterr().err == "error: --from 2024-03-01 is after --to 2024-02-01; swap them\n"


def test_cli_global_option(tmp_path, capsys):
    # Workspace.open(url) is the global --db.
    missing = tmp_path / "absent" / "shop.duckdb"
    assert run(["--db", str(missing), "import", "orders", str(DATA / "native" / "orders.csv")]) == 1
    assert capsys.readouterr().err == (f"error: cannot create the store {missing}: folder {missing.parent} does not "
                                       "exist; create it or pick another --db\n")


def test_command_flags_walk_the_command_line():
    from retainly.cli.app import app
    from retainly.cli.flags import command_flags

    kpis = command_flags(app, ["--db", "shop.duckdb", "kpis", "--by", "week"])
    assert (kpis["first"], kpis["last"], kpis["by"], kpis["url"]) == ("--from", "--to", "--by", "--db")
    assert command_flags(app, ["--db=shop.duckdb", "import", "orders", "a.csv"])["kind"] == "KIND"  # an argument
    assert command_flags(app, ["lifecycle", "--to", "2024-03-31"])["as_of"] == "--as-of"  # the first long option
    assert command_flags(app, ["db", "status"])["as_json"] == "--json"  # through a subgroup
    assert "by" not in command_flags(app, ["no-such-command"])


# -- the library writes no flags ------------------------------------------------------------------
# Messages that must keep a flag: the Python API has no parameter to name instead, the message points
# at the CLI command itself (evaluating is a method of its own, evaluate_buyer_types, not an option).
MUST_STAY = {("segments/buyer_types/evaluation.py", "buyer-types --evaluate")}
# A whole command line in backticks (`retainly import --help`) names a command, not a parameter.
COMMAND_LINE = re.compile(r"`retainly [^`]*`")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
ERROR_NAMES = {name for name, value in vars(errors).items()
               if isinstance(value, type) and issubclass(value, RetainlyError)}


def _error_messages(tree: ast.AST):
    """(line, text) of every literal text in the arguments of a retainly error's constructor."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name not in ERROR_NAMES:
            continue
        for arg in node.args:
            text = "".join(part.value for part in ast.walk(arg)
                           if isinstance(part, ast.Constant) and isinstance(part.value, str))
            yield node.lineno, text


def test_no_library_message_writes_a_cli_flag():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith("cli/"):
            continue
        for line, text in _error_messages(ast.parse(path.read_text(encoding="utf-8"))):
            text = COMMAND_LINE.sub("", text)
            for allowed in (snippet for where, snippet in MUST_STAY if where == relative):
                text = text.replace(allowed, "")
            found += [f"{relative}:{line}: {flag}" for flag in FLAG.findall(text)]
    assert not found, "name the parameter in backticks as the Python API spells it, e.g. `as_of`:\n" + "\n".join(found)


def test_the_check_sees_a_flag():
    tree = ast.parse('raise InputError(f"--by {by!r} is not supported"\n " or pick --as-of")')
    assert [FLAG.findall(text) for _line, text in _error_messages(tree)] == [["--by", "--as-of"]]
