"""`--db` works before or after the command, with the same result."""

from __future__ import annotations

import pytest

from tests.cli.running import captured
from tests.features.kpi_shop import KPI_SHOP

# Commands whose output is the same on every run (no computed-at times), groups' commands too.
COMMANDS = [["summary", "--json"], ["imports", "--csv"], ["kpis", "--by", "month", "--json"], ["cohorts", "--csv"],
            ["segments", "--json"], ["lifecycle", "--json"], ["customer", "show", "A", "--csv"],
            ["db", "status", "--json"]]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("db-option") / "shop.duckdb")
    for kind in ("customers", "orders", "returns", "spend"):  # --db after the command creates the store too
        code, _, err = captured(["import", kind, str(KPI_SHOP / f"{kind}.csv"), "--db", path])
        assert code == 0, err
    return path


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_before_and_after_the_command_give_the_same_output(db, argv):
    before = captured(["--db", db, *argv])
    assert before[0] == 0, before[2]
    assert captured([*argv, "--db", db]) == before
    if argv[0] in ("customer", "db"):  # between a group and its command, too
        assert captured([*argv[:1], "--db", db, *argv[1:]]) == before


def test_the_option_with_an_equals_sign(db):
    before = captured([f"--db={db}", "summary", "--json"])
    assert before[0] == 0, before[2]
    assert captured(["summary", "--json", f"--db={db}"]) == before


def test_the_store_after_the_command_is_the_one_used(db):
    code, out, err = captured(["imports", "--csv", "--db", db])
    assert code == 0, err
    # The four imports of the fixture, in order.
    assert [line.split(",")[1] for line in out.splitlines()[1:]] == ["customers", "orders", "returns", "spend"]


def test_the_same_store_twice_is_fine_and_two_stores_are_refused(db, tmp_path):
    assert captured(["--db", db, "summary", "--json", "--db", db]) == captured(["--db", db, "summary", "--json"])
    other = str(tmp_path / "other.duckdb")
    assert captured(["--db", db, "summary", "--db", other]) == (
        1, "", f"error: Invalid value for '--db': given twice ({db}, {other}); name one store\n")


def test_a_missing_value_says_what_goes_there(db):
    assert captured(["summary", "--db"]) == (
        1, "", "error: Invalid value for '--db': it needs the store's URL or a .duckdb path after it\n")


def test_after_a_double_dash_it_is_an_argument(db):
    # `--` ends the options: "--db" here is a customer id to look up, not the option.
    code, out, err = captured(["--db", db, "customer", "show", "--", "--db"])
    assert code == 1
    assert err.startswith("error: no customer with id '--db'")
