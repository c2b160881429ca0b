"""A generated shop shared by the CLI tests that only read it (generated once per session)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from tests.cli.running import run

SHOP_SIZE = ("--customers", "1500", "--seed", "11")  # three years of orders: 36 monthly cohorts


@pytest.fixture(scope="session")
def generated_shop(tmp_path_factory) -> str:
    """A DuckDB store with a generated shop of 1,500 customers, and its predictions fitted."""
    path = str(tmp_path_factory.mktemp("generated") / "shop.duckdb")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        for argv in (["generate", *SHOP_SIZE], ["score"]):
            assert run(["--db", path, *argv]) == 0, err.getvalue()
    assert Path(path).exists()
    return path

