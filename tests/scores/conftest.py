"""Fixtures and helpers the scoring tests share."""

from __future__ import annotations

import pytest

from retainly import Workspace
from retainly.errors import ConvergenceError
from retainly.models import GammaGammaModel
from retainly.models.heuristic import HeuristicModel
from retainly.models.returns import fit_net_spend
from tests.conftest import generated_copy


@pytest.fixture(params=["duckdb", "postgres"])
def generated_shop(request, store_templates, tmp_path):
    """The generated shop (``ws.data.generate(1500, 11)``), a copy of its own, on DuckDB and PostgreSQL."""
    if request.param == "postgres":
        request.getfixturevalue("postgres_url")  # skips (or fails, where required) without a server
    with generated_copy(store_templates, request.param, 1500, 11, tmp_path) as (url, _):
        ws = Workspace.open(url)
        yield ws
        ws.close()


def fit_spend(summary, unit_days: float):
    """The spend model fitted per customer, as ``score`` fitted it before it read distinct rows:
    Gamma-Gamma on gross spend when it can be fitted, else the heuristics' mean spend; net of returns."""
    try:
        gross = GammaGammaModel().fit(summary)
    except ConvergenceError:
        gross = HeuristicModel(unit_days).fit(summary)
    return fit_net_spend(gross, summary), None
