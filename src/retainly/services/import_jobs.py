"""Imports run in the background: a file uploaded to the API is imported by one worker thread
while the caller polls its progress (docs/api.md, "Imports").

Each job is the CLI's ``retainly import`` (``ws.data.import_file``) on the uploaded file, so it
keeps the CLI's guarantees: the same rejects, and the store changed in one transaction or not
at all. Jobs run one at a time, in the order they came, each inside ``use()`` (the server's
lock around its one workspace), so an import waits for the request in progress and requests
wait for the import. Jobs live in the memory of the server process: a restarted server forgets
the jobs it had not finished (their uploads are deleted), while every finished import stays in
the store's ledger (``ws.data.imports()``).
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ContextManager

from retainly.errors import InputError, NotFoundError, RetainlyError
from retainly.results.base import Result
from retainly.services.data import IMPORT_KINDS

if TYPE_CHECKING:
    from retainly.workspace import Workspace

STATES = ("queued", "running", "completed", "failed")
# Finished jobs remembered for polling; older ones are forgotten first (the ledger keeps the imports).
KEPT_FINISHED = 200
log = logging.getLogger("retainly.imports")


@dataclass(frozen=True, kw_only=True)
class ImportJob(Result):
    """One upload's import: its state, the step it is at, and what it did or why it failed."""

    job_id: str
    kind: str
    file: str
    preset: str | None
    state: str
    step: str | None = None
    rows_read: int | None = None
    import_id: int | None = None
    rows_accepted: int | None = None
    rows_rejected: int | None = None
    already_imported_as: int | None = None
    reject_examples: list[str] = field(default_factory=list)
    error: dict | None = None
    queued_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


class ImportJobs:
    """The jobs of one server: submitted, run one at a time by a worker thread, polled by id.

    ``use`` is the server's way to the workspace (a context manager that holds its lock)."""

    def __init__(self, use: Callable[[], ContextManager[Workspace]]):
        self._use = use
        self._jobs: OrderedDict[str, ImportJob] = OrderedDict()
        self._folders: dict[str, Path] = {}
        self._lock = threading.Lock()  # guards _jobs: the worker writes while requests read
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._closed = False

    def submit(self, kind: str, folder: Path, file_name: str, preset: str | None = None) -> ImportJob:
        """Queue the import of ``folder/file_name`` (an upload saved in a folder of its own, which
        the job deletes when done) as ``kind`` rows; the job as queued."""
        job = ImportJob(job_id=uuid.uuid4().hex, kind=kind, file=file_name, preset=preset or None, state="queued",
                        queued_at=_now())
        with self._lock:
            if self._closed:
                raise RetainlyError("the server is stopping; send the file again when it is back")
            self._jobs[job.job_id] = job
            self._folders[job.job_id] = folder
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="retainly-imports", daemon=True)
                self._worker.start()
        self._queue.put(job.job_id)
        return job

    def get(self, job_id: str) -> ImportJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no import job {job_id!r} on this server: the id is mistyped, or the server was "
                                "restarted or has forgotten it; `GET /api/v1/imports` lists the imports done",
                                parameter="job_id")
        return job

    def close(self) -> None:
        """Stop taking jobs; the one running finishes, queued ones are dropped with their uploads."""
        with self._lock:
            self._closed = True
            worker = self._worker
        self._queue.put(None)
        if worker is not None:
            worker.join()
        for folder in self._folders.values():
            shutil.rmtree(folder, ignore_errors=True)

    # -- the worker ----------------------------------------------------------------------
    def _work(self) -> None:
        while (job_id := self._queue.get()) is not None:
            with self._lock:
                if self._closed:
                    break
            try:
                self._run(job_id)
            finally:
                self._drop_upload(job_id)

    def _drop_upload(self, job_id: str) -> None:
        with self._lock:
            folder = self._folders.pop(job_id, None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def _update(self, job_id: str, **changes) -> None:
        with self._lock:
            self._jobs[job_id] = replace(self._jobs[job_id], **changes)

    def _run(self, job_id: str) -> None:
        job = self.get(job_id)
        path = self._folders[job_id] / job.file
        try:
            with self._use() as ws:
                self._update(job_id, state="running", started_at=_now())
                result = ws.data.import_file(job.kind, path, preset=job.preset, rejects_dir=path.parent,
                                             source=job.file, progress=lambda step: self._update(job_id, step=step),
                                             rows_read=lambda count: self._update(job_id, rows_read=count))
        except RetainlyError as exc:
            # A file the reader refused is named by its temporary path: name it as it was sent.
            message = str(exc).replace(str(path), job.file)
            self._finish(job_id, state="failed", error={"error": message, "field": exc.parameter or "file"})
        except Exception as exc:  # any other: the job says so, the log has the traceback
            log.exception("import job %s failed", job_id)
            self._finish(job_id, state="failed", error={
                "error": f"unexpected {type(exc).__name__} while importing {job.file}; the server's log has the "
                         "details, please report it", "field": None})
        else:
            self._finish(job_id, state="completed", step=None, rows_read=result.rows_read, import_id=result.import_id,
                         rows_accepted=result.rows_accepted, rows_rejected=result.rows_rejected,
                         already_imported_as=result.skipped_as_duplicate_of,
                         reject_examples=list(result.reject_examples))

    def _finish(self, job_id: str, **changes) -> None:
        # The upload goes before the job reads as finished: a client that sees it done sees it tidied.
        self._drop_upload(job_id)
        with self._lock:
            self._jobs[job_id] = replace(self._jobs[job_id], finished_at=_now(), **changes)
            finished = [key for key, job in self._jobs.items() if job.finished_at is not None]
            for key in finished[:max(0, len(finished) - KEPT_FINISHED)]:
                del self._jobs[key]


def check_kind(kind: str) -> str:
    """``kind`` if it is an import kind; else the error a caller sees before any upload is queued."""
    if kind not in IMPORT_KINDS:
        raise InputError(f"unknown import kind {kind!r}; choose one of: {', '.join(IMPORT_KINDS)}", parameter="kind")
    return kind
