"""Users of the web app: who may log in, as what role, and their sessions (docs/web.md).

A password is chosen by a person, so an attacker holding the table could guess it word by word
against a fast hash: it is stored as an Argon2id hash (pwdlib, with its default cost), which makes
each guess slow and memory-hungry. A session's token is 256 random bits: it cannot be guessed that
way, so the store keeps its SHA-256, found by one index lookup (as an API key's, see
``retainly.access.keys``).

Lock-out: after ``LOCK_AFTER`` wrong passwords in a row an account is locked for ``LOCK_FOR``;
while locked every login is refused without looking at the password, so guessing goes no faster
than five tries per quarter hour. A right password resets the count; so does ``unlock``. Once the
lock runs out the count starts again from zero. An unknown email costs the same hash check as a
known one, so how long a refusal takes does not tell whether the account exists.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from retainly.access.keys import token_hash
from retainly.errors import ConflictError, InputError, NotFoundError
from retainly.store.backends import Store

ROLES = ("admin", "analyst", "manager")
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
SHORTEST_PASSWORD = 10
# Argon2 hashes any length, but a megabyte "password" is an attack on the server's time, not a password.
LONGEST_PASSWORD = 200
NAME_LENGTH = 100
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_LONGEST_EMAIL = 254
_LONGEST_TOKEN = 100
_COLUMNS = ("user_id", "email", "name", "role", "created_at", "disabled_at", "failed_attempts", "locked_until",
            "last_login_at")
_WRONG = "wrong email or password"

_hasher = PasswordHash((Argon2Hasher(),))
# Checked against when the email is unknown, so that a refusal takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def clock() -> datetime:
    """The time as the store keeps it: to the second."""
    return datetime.now().replace(microsecond=0)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"`role` {role!r} is not a user's role; choose from {', '.join(ROLES)}", parameter="role")
    return role


def check_email(email: str) -> str:
    """The email as it is stored and looked up: trimmed, in lower case."""
    text = (email or "").strip().lower() if isinstance(email, str) else ""
    if not _EMAIL.match(text) or len(text) > _LONGEST_EMAIL:
        raise InputError(f"`email` {email!r} is not an email address; give one like ana@example.com",
                         parameter="email")
    return text


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < SHORTEST_PASSWORD:
        raise InputError(f"`password` must be at least {SHORTEST_PASSWORD} characters long; a few unrelated "
                         "words make a good one", parameter="password")
    if len(password) > LONGEST_PASSWORD:
        raise InputError(f"`password` is {len(password)} characters long; keep it to {LONGEST_PASSWORD}",
                         parameter="password")
    return password


def _check_name(name: str | None) -> str | None:
    name = (name or "").strip() or None
    if name is not None and len(name) > NAME_LENGTH:
        raise InputError(f"`name` is {len(name)} characters long; keep it to {NAME_LENGTH}", parameter="name")
    return name


def add(store: Store, email: str, role: str, password: str, name: str | None = None) -> dict:
    """Add a user who logs in with ``email`` and ``password``; the user as listed."""
    email, role = check_email(email), check_role(role)
    name, password = _check_name(name), check_password(password)
    hashed = _hasher.hash(password)  # slow: done before the transaction, not inside it
    with store.transaction():
        if store.fetchone("SELECT 1 FROM users WHERE email = ?", (email,)) is not None:
            raise ConflictError(f"a user with the email {email} exists already; `retainly users list` shows them",
                                parameter="email")
        user_id = int(store.fetchone("SELECT nextval('user_ids')")[0])
        store.execute("INSERT INTO users (user_id, email, name, role, password_hash, created_at, failed_attempts) "
                      "VALUES (?, ?, ?, ?, ?, ?, 0)", (user_id, email, name, role, hashed, clock()))
    return get(store, email)


def listed(store: Store) -> list[dict]:
    """Every user, disabled ones too, oldest first (never a password hash)."""
    found = store.fetchall(f"SELECT {', '.join(_COLUMNS)} FROM users ORDER BY user_id")
    return [dict(zip(_COLUMNS, row)) for row in found]


def get(store: Store, email: str) -> dict:
    found = store.fetchone(f"SELECT {', '.join(_COLUMNS)} FROM users WHERE email = ?", (check_email(email),))
    if found is None:
        raise NotFoundError(f"no user with the email {email!r}; `retainly users list` shows them", parameter="email")
    return dict(zip(_COLUMNS, found))


def disable(store: Store, email: str) -> dict:
    """Disable a user for good and end their sessions; the user as they now stand. Again: no change."""
    with store.transaction():
        user = get(store, email)
        if user["disabled_at"] is None:
            store.execute("UPDATE users SET disabled_at = ? WHERE user_id = ?", (clock(), user["user_id"]))
        store.execute("DELETE FROM user_sessions WHERE user_id = ?", (user["user_id"],))
    return get(store, email)


def unlock(store: Store, email: str) -> dict:
    """Lift a lock-out and forget the wrong passwords counted so far; the user as they now stand."""
    with store.transaction():
        user = get(store, email)
        store.execute("UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE user_id = ?",
                      (user["user_id"],))
    return get(store, email)


def set_password(store: Store, email: str, password: str) -> dict:
    """Give a user a new password: their sessions end and any lock-out is lifted; the user as they now stand."""
    user = get(store, email)
    hashed = _hasher.hash(check_password(password))
    with store.transaction():
        store.execute("UPDATE users SET password_hash = ?, failed_attempts = 0, locked_until = NULL "
                      "WHERE user_id = ?", (hashed, user["user_id"]))
        store.execute("DELETE FROM user_sessions WHERE user_id = ?", (user["user_id"],))
    return get(store, email)


def authenticate(store: Store, email: str, password: str, now: datetime | None = None) -> tuple[dict | None, str]:
    """The user whose email and password these are, and "" ; or None and why the login is refused,
    in words for the login page. Counts wrong passwords and locks the account (see the module)."""
    now = now or clock()
    try:
        email = check_email(email)
    except InputError:
        email = None
    found = None if email is None else store.fetchone(
        "SELECT user_id, password_hash, disabled_at, failed_attempts, locked_until FROM users WHERE email = ?",
        (email,))
    if found is None:
        _hasher.verify(password if isinstance(password, str) else "", _DUMMY_HASH)
        return None, _WRONG
    user_id, hashed, disabled_at, failed, locked_until = found
    if locked_until is not None and locked_until > now:
        minutes = max(1, -(-int((locked_until - now).total_seconds()) // 60))
        return None, (f"too many wrong passwords: the account is locked for {minutes} more minute"
                      f"{'s' if minutes > 1 else ''}; an admin can unlock it (`retainly users unlock`)")
    right = isinstance(password, str) and len(password) <= LONGEST_PASSWORD and _hasher.verify(password, hashed)
    if not right:
        failed = (0 if locked_until is not None else int(failed)) + 1  # a lock that ran out starts a new count
        lock = now + LOCK_FOR if failed >= LOCK_AFTER else None
        with store.transaction():
            store.execute("UPDATE users SET failed_attempts = ?, locked_until = ? WHERE user_id = ?",
                          (failed, lock, user_id))
        if lock is not None:
            return None, (f"too many wrong passwords: the account is locked for {LOCK_FOR.seconds // 60} minutes; "
                          "an admin can unlock it (`retainly users unlock`)")
        return None, _WRONG
    if disabled_at is not None:
        return None, "this account is disabled; ask an admin"
    with store.transaction():
        store.execute("UPDATE users SET failed_attempts = 0, locked_until = NULL, last_login_at = ? "
                      "WHERE user_id = ?", (now, user_id))
    return get(store, email), ""


def start_session(store: Store, user_id: int, now: datetime | None = None) -> tuple[str, dict]:
    """A new session for the user: its token (for the cookie, not kept) and the session as ``session``
    gives it. Sessions that ran out are cleared on the way."""
    now = now or clock()
    token = secrets.token_urlsafe(32)
    with store.transaction():
        store.execute("DELETE FROM user_sessions WHERE expires_at <= ?", (now,))
        store.execute("INSERT INTO user_sessions (token_hash, user_id, csrf_token, created_at, expires_at) "
                      "VALUES (?, ?, ?, ?, ?)",
                      (token_hash(token), int(user_id), secrets.token_urlsafe(32), now, now + SESSION_LIFETIME))
    return token, session(store, token, now)


def session(store: Store, token: str | None, now: datetime | None = None) -> dict | None:
    """The live session of this token with its user (user_id, email, name, role, csrf_token,
    expires_at); None for no token, an unknown or expired one, or a disabled user."""
    if not isinstance(token, str) or not token or len(token) > _LONGEST_TOKEN:
        return None
    found = store.fetchone(
        "SELECT u.user_id, u.email, u.name, u.role, s.csrf_token, s.expires_at FROM user_sessions s "
        "JOIN users u ON u.user_id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled_at IS NULL",
        (token_hash(token), now or clock()))
    if found is None:
        return None
    return dict(zip(("user_id", "email", "name", "role", "csrf_token", "expires_at"), found))


def end_session(store: Store, token: str | None) -> None:
    """Log out: the session of this token ends (an unknown one: nothing to do)."""
    if isinstance(token, str) and token and len(token) <= _LONGEST_TOKEN:
        with store.transaction():
            store.execute("DELETE FROM user_sessions WHERE token_hash = ?", (token_hash(token),))
