"""Imports over the API (docs/api.md, "Imports"): upload a file, poll its job, read the ledger,
download an import's rejects.

An upload is the CLI's ``retainly import KIND FILE [--preset P]`` on the file sent: the same
checks, the same rejects, the store changed in one transaction or not at all. It is saved to a
private temporary folder under the name it was sent with (so messages and the ledger name it
so) and imported in the background (``retainly.services.import_jobs``); the answer is 202 with
the job, whose state the caller polls. Uploading writes to the store, so it is for admins;
the ledger and the rejects are for analysts too (the rejects hold customers' data, which
analysts read anyway).
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from retainly.csv_cells import neutralise_cell
from retainly.errors import InputError
from retainly.results import ImportRecord
from retainly.results.data import ImportReject
from retainly.services.data import IMPORT_KINDS
from retainly.services.import_jobs import ImportJob, ImportJobs, check_kind
from retainly.web.auth import READ_FIGURES, allow
from retainly.web.pages import Limit, Offset, Page, json_response, page
from retainly.web.shop import shop

# Bigger uploads are refused (a proxy may refuse smaller ones); `retainly import` on the server takes any size.
MAX_UPLOAD_BYTES = 1 << 30
_CHUNK = 1 << 20
REJECTS_COLUMNS = ("file", "sheet", "line", "column", "value", "reason")

uploads = APIRouter(prefix="/imports", tags=["imports"], dependencies=[allow()])
ledger = APIRouter(prefix="/imports", tags=["imports"], dependencies=[allow(*READ_FIGURES)])


def jobs(request: Request) -> ImportJobs:
    """The import jobs of the app serving ``request``."""
    return request.app.state.import_jobs


# The form, read by the endpoint itself (not by FastAPI before the key is checked: a caller without
# a key must not get a gigabyte written to disk first); described here for the OpenAPI document.
UPLOAD_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "kind"], "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "The export file: CSV (also gzipped), XLSX or Parquet."},
        "kind": {"type": "string", "enum": list(IMPORT_KINDS), "description": "What the file holds."},
        "preset": {"type": "string", "description": "The preset (docs/presets.md); default: recognised from "
                                                     "the header."}}}}}}}


@uploads.post("", status_code=202, response_model=ImportJob, openapi_extra=UPLOAD_FORM)
async def upload(request: Request) -> Response:
    """Upload a file to import, as `retainly import KIND FILE [--preset P]` does (a multipart form of
    ``file``, ``kind`` and ``preset``); the answer is the queued job (202), whose progress
    `GET /api/v1/imports/jobs/{job_id}` tells."""
    form = await request.form(max_files=1, max_fields=10)
    try:
        job = await queue_upload(request, form)
    finally:
        await form.close()
    response = json_response(job, status_code=202)
    response.headers["Location"] = f"{request.url.path}/jobs/{job.job_id}"
    return response


async def queue_upload(request: Request, form: FormData) -> ImportJob:
    """Check an upload's form (``file``, ``kind``, ``preset``) and queue its import: the one way the
    API and the Imports page (``retainly.web.pages_imports``) start a job."""
    kind, preset, file = form.get("kind"), form.get("preset"), form.get("file")
    missing = [name for name, value in (("file", file), ("kind", kind)) if value is None]
    if missing:
        raise RequestValidationError([{"type": "missing", "loc": ("body", name), "msg": "Field required",
                                       "input": None} for name in missing])
    if not isinstance(file, UploadFile):
        raise InputError("`file` must be a file sent as a multipart form part with a file name", parameter="file")
    check_kind(str(kind))
    return await run_in_threadpool(_queue, jobs(request), file, str(kind), str(preset or "").strip() or None)


def _queue(found: ImportJobs, file: UploadFile, kind: str, preset: str | None) -> ImportJob:
    """Save the upload to a folder of its own and queue its import (the job deletes the folder)."""
    name = _safe_name(file.filename)
    folder = Path(tempfile.mkdtemp(prefix="retainly-upload-"))  # mode 0700: the file holds customers' data
    try:
        _save(file, folder / name)
        return found.submit(kind, folder, name, preset)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


@uploads.get("/jobs/{job_id}", response_model=ImportJob)
def job_status(request: Request, job_id: Annotated[str, PathParam(description="The job's id, from the upload.")]
               ) -> Response:
    """An upload's job: ``state`` queued, running, completed or failed; while running, the ``step``
    (reading, checking, loading) and, once the file is read, ``rows_read``; when completed, the
    import's id and counts (``already_imported_as`` when the same file was imported before); when
    failed, ``error`` as {"error", "field"}: nothing was written."""
    return json_response(jobs(request).get(job_id))


@ledger.get("", response_model=Page[ImportRecord])
def imports(request: Request, limit: Limit = 100, offset: Offset = 0) -> Response:
    """The imports ledger, oldest first: every import and deletion, with its rows read, accepted and rejected."""
    with shop(request).use() as ws:
        found = ws.data.imports()
    return page(found, limit, offset)


@ledger.get("/{import_id}/rejects.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "The rejected rows as CSV."}})
def rejects(request: Request, import_id: Annotated[int, PathParam(description="The import's id (the ledger's).")]
            ) -> Response:
    """The rows import ``import_id`` rejected, as CSV: file, sheet (of a workbook), line, column,
    value and reason; just the header when none was rejected."""
    with shop(request).use() as ws:
        found = ws.data.rejects(import_id)
    return rejects_csv(found, import_id)


def rejects_csv(found: list[ImportReject], import_id: int) -> Response:
    """Import ``import_id``'s rejected rows as a CSV download (the API's and the Imports page's)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REJECTS_COLUMNS)
    for row in found:
        writer.writerow(["" if v is None else neutralise_cell(v)
                         for v in (row.source, row.sheet, row.line, row.column, row.value, row.reason)])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="import-{import_id}-rejects.csv"'})


def _safe_name(sent: str | None) -> str:
    """The file's name as sent, without folders or characters a file name should not hold."""
    name = re.sub(r"[^\w.\-]+", "_", Path((sent or "").replace("\\", "/")).name).strip("._")[-120:]
    return name or "upload"


def _save(file: UploadFile, target: Path) -> None:
    written = 0
    with target.open("xb") as out:
        while chunk := file.file.read(_CHUNK):
            written += len(chunk)
            if written > MAX_UPLOAD_BYTES:
                raise InputError(f"{file.filename}: larger than {MAX_UPLOAD_BYTES >> 20} MB; import it on the "
                                 "server with `retainly import`", parameter="file")
            out.write(chunk)


ROUTERS = (uploads, ledger)
