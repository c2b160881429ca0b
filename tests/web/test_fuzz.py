"""A schema-driven fuzz run of the API: schemathesis reads the running server's OpenAPI document
and sends every operation requests made from it, valid ones and invalid ones (wrong types, values
out of range, missing fields, odd strings in paths and queries), with an admin key, who may use
every route. No answer may be a 5xx: bad input gets a 4xx saying what is wrong, never a crash.

The run has a store of its own (the KPI shop, on each engine): the admin key writes events, saves
audiences and edits playbooks as the fuzzer pleases, which the package's shared shop must not see.
The examples are random but reproducible (hypothesis's derandomised mode), so a failure reruns the
same way; each failure is reported with the curl command that reproduces it.
"""

from __future__ import annotations

from collections.abc import Iterator

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from retainly import Workspace
from retainly.web.app import create_app
from tests.conftest import fresh_store_url
from tests.features.kpi_shop import load_kpi_shop
from tests.web.conftest import serving, settings_file

# Examples per operation and mode: 38 operations, so about 190 requests per engine and mode (35-45 s
# each on this machine). Reproducible: the same requests every run.
EXAMPLES = 5


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def fuzzed(request, tmp_path_factory) -> Iterator[tuple[str, str, dict]]:
    """A server of its own over the KPI shop: its base URL, an admin token and its OpenAPI document."""
    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RETAINLY_OUTBOX_DIR", str(folder / "outbox"))
        with fresh_store_url(request.param, folder) as url:
            settings_path = settings_file(folder)
            with Workspace.open(url, settings=settings_path) as ws:
                load_kpi_shop(ws)
                token = ws.keys.create("admin", "the fuzz run")[1]
            app = create_app(url, settings_path=settings_path)
            with serving(app) as base:
                yield base, token, app.openapi()


def server_errors(schema, base: str, token: str, mode: GenerationMode) -> list[str]:
    """Every operation fuzzed in ``mode``; a line per 5xx answer (the first of each operation)."""
    found: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, phases=[
            hypothesis.Phase.explicit, hypothesis.Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case) -> None:
            response = case.call(base_url=base, headers=headers, timeout=60)
            assert response.status_code < 500, (
                f"{operation.method.upper()} {operation.path} answered {response.status_code}: "
                f"{response.text[:300]}\n  {case.as_curl_command(headers=headers, base_url=base)}")

        try:
            fuzz()
        except AssertionError as failure:
            found.append(str(failure))
        except hypothesis.errors.Unsatisfiable:
            # Nothing of the operation can be made invalid (no parameters, no body): the valid run covers it.
            assert mode == GenerationMode.NEGATIVE, operation.label
    return found


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_request_made_from_the_schema_gets_a_server_error(fuzzed, mode):
    base, token, document = fuzzed
    schema = schemathesis.openapi.from_dict(document)
    # Every route the server has is in its document (tests/web/test_authorization.py walks them), so
    # every one is fuzzed.
    operations = {f"{result.ok().method.upper()} {result.ok().path}" for result in schema.get_all_operations()}
    assert operations == {f"{method.upper()} {path}" for path, methods in document["paths"].items()
                          for method in methods}
    assert server_errors(schema, base, token, mode) == []
