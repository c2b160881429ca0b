"""Results of the web app's users: users as they are listed, a login's outcome, a live session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from retainly.results.base import Result


@dataclass(frozen=True, kw_only=True)
class User(Result):
    """One user as the list shows them: never their password nor its hash."""

    user_id: int
    email: str
    name: str | None
    role: str
    created_at: datetime
    disabled_at: datetime | None
    failed_attempts: int
    locked_until: datetime | None
    last_login_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class SessionUser(Result):
    """Who a session belongs to, and the token its forms must send back (CSRF)."""

    user_id: int
    email: str
    name: str | None
    role: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class Login(Result):
    """A login attempt: on success the session's token (for the cookie, never stored) and its user;
    refused, the reason in words fit to show on the login page."""

    token: str | None
    session: SessionUser | None
    refused: str | None

    @property
    def ok(self) -> bool:
        return self.session is not None
