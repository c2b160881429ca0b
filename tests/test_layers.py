"""The import contract: retainly's layers import downwards only (docs/architecture.md).

    shells   cli, views (and later api, web)   -> the core, its results, errors, settings
    core     workspace, services               -> everything below
    domain   ingest, features, segments, scores, synth -> store, models, leaves, each other
    store                                      -> leaves
    models   pure mathematics                  -> leaves (never the store)
    leaves   errors, settings, results         -> other leaves only

Every ``import retainly...`` in every module counts, including those inside functions. The
checker is an AST walk written here (no tool to install); a test below feeds it a module
that breaks the contract to show it fails. Queries (raw SQL, Ibis tables) stay in ``store/``
and the domain modules that own their tables: none in the core or the shells.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "retainly"

LAYERS = {
    "cli": "shell", "views": "shell", "web": "shell", "__main__": "shell",
    "workspace": "core", "services": "core", "__init__": "core",
    "ingest": "domain", "features": "domain", "segments": "domain", "scores": "domain", "synth": "domain",
    "audiences": "domain", "playbooks": "domain", "messaging": "domain", "access": "domain", "exports": "domain",
    "tasks": "domain", "experiments": "domain",
    "store": "store", "models": "models",
    "errors": "leaf", "settings": "leaf", "results": "leaf", "csv_cells": "leaf", "collector": "leaf",
}
MAY_IMPORT = {
    "shell": {"shell", "core", "leaf"},
    "core": {"core", "domain", "store", "models", "leaf"},
    "domain": {"domain", "store", "models", "leaf"},
    "store": {"store", "leaf"},
    "models": {"models", "leaf"},
    "leaf": {"leaf"},
}


def layer_of(module: str) -> str:
    """The layer of a dotted module name under ``retainly`` (``retainly`` itself is the core's face)."""
    parts = module.split(".")
    if parts == ["retainly"]:
        return "core"
    return LAYERS[parts[1]]


def imported_modules(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every retainly module imported anywhere in ``tree``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "retainly"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.split(".")[0] == "retainly":
                found.append((node.lineno, name))
    return found


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Each import of ``module``'s source that points up or sideways past its layer."""
    own = layer_of(module)
    package = module if is_package else module.rsplit(".", 1)[0]
    problems = []
    for line, name in imported_modules(ast.parse(source), package):
        target = layer_of(name)
        if target not in MAY_IMPORT[own]:
            problems.append(f"{module}:{line} ({own}) imports {name} ({target})")
    return problems


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC.parent).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__" and len(parts) > 1 and parts != ["retainly", "__init__"]:
            parts = parts[:-1]
        name = ".".join(parts if parts != ["retainly", "__init__"] else ["retainly"])
        found.append((name, path))
    return found


def test_every_module_belongs_to_a_layer():
    unknown = sorted({name.split(".")[1] for name, _ in modules() if name != "retainly"} - set(LAYERS))
    assert not unknown, f"modules in no layer (add them to LAYERS and docs/architecture.md): {unknown}"


def test_imports_point_down():
    problems = []
    for name, path in modules():
        problems += violations(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
    assert not problems, "imports against the layering:\n" + "\n".join(problems)


@pytest.mark.parametrize(("module", "source"), [
    ("retainly.cli.commands.data", "from retainly.ingest.pipeline import IMPORT_KINDS"),  # a shell past the core
    ("retainly.views.report", "def f():\n    from retainly.store.backends import Store"),  # hidden in a function
    ("retainly.models.bgnbd", "import retainly.store.backends"),  # models never touch the store
    ("retainly.store.backends", "from retainly.features import kpis"),  # the store imports upward
    ("retainly.segments.rfm", "from retainly.cli.output import console"),  # below the shells, a shell
    ("retainly.settings", "from retainly.segments.segment_map import SegmentMap"),  # a leaf that is not one
    ("retainly.services.rfm", "from ..views import report"),  # relative imports count too
])
def test_the_checker_catches_each_kind_of_breach(module, source):
    assert violations(source, module), f"{module}: `{source}` should break the contract"


def test_the_checker_accepts_what_is_allowed():
    assert not violations("from retainly.services.rfm import CURVE_POINTS\nfrom retainly.results import KpiRow",
                          "retainly.views.report")
    assert not violations("from retainly.models.clv import DAYS_PER_MONTH", "retainly.scores.scoring")


QUERY = re.compile(r"\.(execute|fetchone|fetchall|insert_from|insert_arrow|table)\(|\b(SELECT|INSERT INTO|DELETE FROM|UPDATE)\s")


def queries_in(source: str) -> list[int]:
    """Lines of ``source`` that query the store directly (raw SQL, or an Ibis table)."""
    return [number for number, line in enumerate(source.splitlines(), 1) if QUERY.search(line)]


def test_no_queries_above_the_domain():
    """The core composes domain functions and the shells format: neither queries the store."""
    found = [f"{name}:{line}" for name, path in modules() if layer_of(name) in ("core", "shell")
             for line in queries_in(path.read_text(encoding="utf-8"))]
    assert not found, "store queries outside store/ and the domain modules:\n" + "\n".join(found)


def test_the_query_check_sees_sql_and_ibis():
    assert queries_in('rows = store.fetchall("SELECT 1")\nx = 1\nt = store.table("orders")') == [1, 3]
    assert queries_in('sql = "DELETE FROM rfm_scores WHERE as_of = ?"') == [1]
    assert not queries_in("table = Table(title=title)\nselected = 'the selection'")
