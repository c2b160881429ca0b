"""Audience exports (docs/exports.md): the saved exports, and running one now.

For analysts (and admin), as the audiences and playbooks they send. A run answers with what it
sent; one the platform refused is recorded failed and answers **502** with the same body (its
``message`` is the platform's answer). A refusal before anything is sent (an audience below the
platform's minimum, a key missing from the server's environment) is a 422 naming the fix.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from retainly.results.exports import ExportRunResult, ExportSummary
from retainly.web.auth import EDIT_ACTIONS, READ_FIGURES, allow
from retainly.web.pages import AsOf, Limit, Offset, Page, json_response, page
from retainly.web.shop import shop

exports = APIRouter(prefix="/exports", tags=["exports"])
ExportName = Annotated[str, Path(description="The export's name.")]
BAD_GATEWAY = 502


@exports.get("", response_model=Page[ExportSummary], dependencies=[allow(*READ_FIGURES)])
def export_list(request: Request, limit: Limit = 100, offset: Offset = 0) -> Response:
    """The saved exports: source, target, incremental or full, scheduled, who the target holds, the last run."""
    with shop(request).use() as ws:
        rows = ws.exports.list()
    return page(rows, limit, offset)


@exports.post("/{name}/run", response_model=ExportRunResult, dependencies=[allow(*EDIT_ACTIONS)],
              responses={BAD_GATEWAY: {"model": ExportRunResult, "description": "The platform refused: the run is "
                                                                                  "recorded failed, nothing as sent."}})
def run_export(request: Request, name: ExportName, as_of: AsOf = None) -> Response:
    """Run an export now (`retainly exports run`): who joined and who left since its last run (or everyone),
    with the consent its target needs; match keys and phones left out per customer."""
    with shop(request).use() as ws:
        result = ws.exports.run(name, as_of)
    return json_response(result, status_code=200 if result.status == "completed" else BAD_GATEWAY)


ROUTERS = (exports,)
