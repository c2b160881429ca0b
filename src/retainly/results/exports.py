"""Results of audience exports (docs/exports.md): saved exports, their runs and what a run sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from retainly.results.base import Result


@dataclass(frozen=True, kw_only=True)
class ExportTarget(Result):
    target: str
    consent: str  # what a customer must have consented to: email, ads, or the export's `consent` option
    api: bool
    options: str  # the options it takes, comma-separated
    required: str
    credentials: str | None  # the environment variable holding its key, by default
    help: str


@dataclass(frozen=True, kw_only=True)
class ExportSummary(Result):
    name: str
    target: str
    source: str
    incremental: bool
    scheduled: bool
    members: int  # customers the target holds after the last completed run
    last_status: str | None = None
    last_run_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class PhoneProblem(Result):
    customer: str  # the shop's id
    phone: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ExportRunResult(Result):
    export: str
    as_of: date
    status: str  # completed, failed (the platform's answer in `message`), or refused (nothing done)
    run_id: int | None = None
    added: int = 0
    removed: int = 0
    kept: int = 0
    match_keys: dict[str, int] = field(default_factory=dict)
    destination: str | None = None
    message: str | None = None
    phone_problems: list[PhoneProblem] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ExportRun(Result):
    run_id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    added: int | None
    removed: int | None
    kept: int | None
    match_keys: dict[str, int]
    destination: str | None
    message: str | None


@dataclass(frozen=True, kw_only=True)
class ExportDetail(Result):
    export: ExportSummary
    options: dict[str, Any]
    consent: str
    runs: list[ExportRun]  # the latest first
