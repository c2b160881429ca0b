"""Results of access control: API keys as they are listed (never their tokens)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from retainly.results.base import Result


@dataclass(frozen=True, kw_only=True)
class ApiKey(Result):
    """One API key as the list shows it: never its token."""

    key_id: int
    name: str | None
    role: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
