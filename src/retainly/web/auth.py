"""Who is calling: an API key in ``Authorization: Bearer <token>`` or ``X-API-Key: <token>``.

Every route under ``/api/v1`` declares the roles it allows with ``allow(...)``; admin may use
every route. A missing, unknown or revoked key is refused with 401, a role the route does not
allow with 403. The roles (docs/api.md):

    admin     everything
    analyst   every figure, customers, audiences and playbooks, and edits audiences and playbooks
    manager   customers, and managers' tasks: reading, logging outcomes, making and cancelling them
    ingest    only the event endpoints (POST /events/...), to send what happens as it happens
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.params import Depends as DependsType
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from retainly.services.access import ROLES
from retainly.web.shop import shop

# The roles of each kind of route; admin is added to every one.
READ_FIGURES = ("analyst",)
READ_CUSTOMERS = ("analyst", "manager")
EDIT_ACTIONS = ("analyst",)
WORK_TASKS = ("analyst", "manager")  # read tasks, log outcomes, make and cancel tasks
SUPERVISE_TASKS = ("analyst",)  # reassign, the team's figures and the managers' settings
INGEST = ("ingest",)

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer rk_...`.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key: `X-API-Key: rk_...`.")
_HOW = "send a key as `Authorization: Bearer <token>` or `X-API-Key: <token>`; `retainly keys create` makes one"


@dataclass(frozen=True)
class Caller:
    """The key a request came with."""

    key_id: int
    role: str


def caller(request: Request, bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
           header: str | None = Depends(_api_key)) -> Caller:
    """The caller's key, checked against the store; 401 without a live one."""
    token = bearer.credentials if bearer is not None else header
    if not token:
        raise HTTPException(401, f"no API key: {_HOW}", headers={"WWW-Authenticate": "Bearer"})
    token = token.strip()
    found = shop(request).check("key", token, lambda ws: ws.keys.verify(token))
    if found is None:
        raise HTTPException(401, "the API key is not valid: unknown, mistyped or revoked",
                            headers={"WWW-Authenticate": "Bearer"})
    return Caller(*found)


def allow(*roles: str) -> DependsType:
    """A route's dependency: callers with one of ``roles`` (or admin) may use it, others get 403."""
    allowed = ("admin", *roles)
    if set(allowed) - set(ROLES):
        raise ValueError(f"not roles: {sorted(set(allowed) - set(ROLES))}")

    def check(found: Caller = Depends(caller)) -> Caller:
        if found.role not in allowed:
            raise HTTPException(403, f"a key with the role {found.role} may not use this route; "
                                     f"it needs {' or '.join(allowed)}")
        return found

    return Depends(check)
