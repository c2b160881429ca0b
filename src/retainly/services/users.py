"""Users: the people who log in to the web app, each with a role, and their sessions (docs/web.md).

``ws.users.add(email, role, password)`` stores only the password's Argon2 hash; ``log_in`` checks
a password, counts the wrong ones (5 in a row lock the account for 15 minutes) and starts a
session; ``session(token)`` is who a browser's cookie belongs to. ``retainly.access.users`` has
the rules and says why each hash is the right one.
"""

from __future__ import annotations

from retainly.access import users
from retainly.access.users import LOCK_AFTER, LOCK_FOR, ROLES, SESSION_LIFETIME
from retainly.results.base import rows
from retainly.results.users import Login, SessionUser, User
from retainly.services.base import Service

__all__ = ["LOCK_AFTER", "LOCK_FOR", "ROLES", "SESSION_LIFETIME", "Login", "SessionUser", "User", "UserService"]


class UserService(Service):
    """Users: added, listed, disabled, unlocked, given a new password; logins and sessions."""

    def add(self, email: str, role: str, password: str, name: str | None = None) -> User:
        """A new user with ``role`` (one of ``ROLES``) who logs in with ``email`` and ``password``."""
        return User(**users.add(self.store, email, role, password, name))

    def list(self) -> list[User]:
        """Every user, disabled ones too, oldest first."""
        return rows(User, users.listed(self.store))

    def disable(self, email: str) -> User:
        """Disable a user for good (again: no change) and end their sessions; the user as they now stand."""
        return User(**users.disable(self.store, email))

    def unlock(self, email: str) -> User:
        """Lift a lock-out after too many wrong passwords; the user as they now stand."""
        return User(**users.unlock(self.store, email))

    def set_password(self, email: str, password: str) -> User:
        """A new password for a user: logged out everywhere, any lock-out lifted."""
        return User(**users.set_password(self.store, email, password))

    def log_in(self, email: str, password: str) -> Login:
        """Check the password and, when it is right, start a session; refused, the reason in words."""
        now = users.clock()  # one clock reading: the session starts when the login is noted
        user, refused = users.authenticate(self.store, email, password, now)
        if user is None:
            return Login(token=None, session=None, refused=refused)
        token, found = users.start_session(self.store, user["user_id"], now)
        return Login(token=token, session=SessionUser(**found), refused=None)

    def session(self, token: str | None) -> SessionUser | None:
        """The live session of a cookie's token; None for a missing, expired or unknown one."""
        found = users.session(self.store, token)
        return None if found is None else SessionUser(**found)

    def log_out(self, token: str | None) -> None:
        """End the session of this token."""
        users.end_session(self.store, token)
