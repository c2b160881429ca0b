"""The Imports pages: the imports ledger, uploading a file, its job's progress, and rejects (docs/web.md).

``/imports?page=`` lists the ledger, 20 to a page, oldest first; its JSON twin is
``GET /api/v1/imports?limit=20&offset=...`` (``ws.data.imports``). Admins also get the upload
form: ``POST /imports`` queues the import exactly as ``POST /api/v1/imports`` does
(``routes_imports.queue_upload``) and redirects to ``/imports/jobs/{job}``, whose twin is
``GET /api/v1/imports/jobs/{job}``; that page reloads itself (``static/imports.js``) until the job
has finished. ``/imports/{id}/rejects.csv`` is the API's rejects CSV for a logged-in user.
Uploading and jobs are for admins, as in the API; the ledger and the rejects for analysts too.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from retainly.errors import RetainlyError
from retainly.services.data import IMPORT_KINDS
from retainly.web.auth import READ_FIGURES
from retainly.web.render import HEADERS, error_page, render
from retainly.web.routes_imports import jobs, queue_upload, rejects_csv
from retainly.web.session import CSRF_FIELD, may_see, page_user, require_csrf
from retainly.web.shop import shop

router = APIRouter(include_in_schema=False)
PER_PAGE = 20
UPLOADERS: tuple[str, ...] = ()  # admin only, as POST /api/v1/imports
FINISHED = ("completed", "failed")


def _page_number(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < int(text) < 10**9 else None


@router.get("/imports")
def imports(request: Request, page: str = "1") -> Response:
    user = page_user(request, READ_FIGURES)
    number = _page_number(page)
    if number is None:
        return error_page(request, user, 422, f"page {page!r} is not a page number: give a whole number from 1")
    offset = (number - 1) * PER_PAGE
    try:
        with shop(request).use() as ws:
            found = ws.data.imports()
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    pages = max(1, -(-len(found) // PER_PAGE))
    return render(request, "imports.j2", user, records=found[offset:offset + PER_PAGE], total=len(found),
                  page=number, pages=pages, offset=offset, kinds=IMPORT_KINDS, may_upload=may_see(user, UPLOADERS),
                  previous=f"/imports?page={number - 1}" if number > 1 else None,
                  next=f"/imports?page={number + 1}" if number < pages else None,
                  twin=f"/api/v1/imports?limit={PER_PAGE}&offset={offset}")


@router.post("/imports")
async def upload(request: Request) -> Response:
    """Check the session, the role and the form's CSRF token, then queue the import as the API does."""
    user = await run_in_threadpool(page_user, request, UPLOADERS)
    form = await request.form(max_files=1, max_fields=10)
    try:
        sent = form.get(CSRF_FIELD)
        require_csrf(sent if isinstance(sent, str) else None, user.csrf_token)
        file = form.get("file")
        # A browser sends an empty, nameless file part when none was chosen (Starlette reads it as "").
        if file == "" or (isinstance(file, UploadFile) and not file.filename):
            return error_page(request, user, 422, "no file was chosen: choose the export file to import")
        try:
            job = await queue_upload(request, form)
        except RetainlyError as problem:
            return error_page(request, user, problem.http_status, str(problem))
        except RequestValidationError as problem:
            lacking = ", ".join(str(error["loc"][-1]) for error in problem.errors())
            return error_page(request, user, 422, f"the form lacks: {lacking}; send it from the Imports page")
    finally:
        await form.close()
    return RedirectResponse(f"/imports/jobs/{job.job_id}", status_code=303)


@router.get("/imports/jobs/{job_id}")
def job(request: Request, job_id: str) -> Response:
    user = page_user(request, UPLOADERS)
    try:
        found = jobs(request).get(job_id)
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    return render(request, "import_job.j2", user, job=found, finished=found.state in FINISHED,
                  twin=f"/api/v1/imports/jobs/{job_id}")


@router.get("/imports/{import_id}/rejects.csv")
def rejects(request: Request, import_id: str) -> Response:
    """The API's rejects CSV (``GET /api/v1/imports/{id}/rejects.csv``) for a logged-in user."""
    user = page_user(request, READ_FIGURES)
    if not import_id.isdigit() or len(import_id) > 18:
        return error_page(request, user, 422, f"{import_id!r} is not an import's id: the ledger lists them")
    try:
        with shop(request).use() as ws:
            found = ws.data.rejects(int(import_id))
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    response = rejects_csv(found, int(import_id))
    response.headers["Cache-Control"] = HEADERS["Cache-Control"]  # customers' data: not kept in a cache
    return response
