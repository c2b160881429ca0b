"""Results of the site snippet: site keys as they are listed, and what a batch of events did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from retainly.results.base import Result


@dataclass(frozen=True, kw_only=True)
class SiteKey(Result):
    """One site key: public, so listed whole, with the origins it is taken from."""

    site_id: int
    name: str | None
    site_key: str
    origins: list[str]
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class SiteEventsRecorded(Result):
    """What one request of the snippet did: events written, and events received before (not written again)."""

    accepted: int
    already_received: int
