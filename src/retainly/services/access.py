"""Access: the API keys that let machines call the REST API, each with a role (docs/api.md).

``ws.keys.create(role, name)`` returns the key's id and its token, shown once; the store keeps
only a hash of it (``retainly.access.keys`` says why SHA-256 is the right hash here).
"""

from __future__ import annotations

from retainly.access import keys
from retainly.access.keys import ROLES
from retainly.results.access import ApiKey
from retainly.results.base import rows
from retainly.services.base import Service

__all__ = ["ROLES", "AccessService", "ApiKey"]


class AccessService(Service):
    """API keys: made, listed, revoked, and checked on every request."""

    def create(self, role: str, name: str | None = None) -> tuple[int, str]:
        """A new key with ``role`` (one of ``ROLES``): its id and its token, which cannot be shown again."""
        return keys.create(self.store, role, name)

    def list(self) -> list[ApiKey]:
        """Every key, revoked ones too, oldest first."""
        return rows(ApiKey, keys.listed(self.store))

    def revoke(self, key_id: int) -> ApiKey:
        """Revoke a key for good (again: no change); the key as it now stands."""
        return ApiKey(**keys.revoke(self.store, key_id))

    def verify(self, token: str | None) -> tuple[int, str] | None:
        """The id and role of the live key with this token; None for a missing, wrong or revoked one."""
        return keys.verify(self.store, token)
