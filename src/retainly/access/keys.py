"""API keys: who may call the REST API, and as what role (docs/api.md).

A key is a random token shown once when it is made (``rk_`` and 43 URL-safe characters) and
stored only as its SHA-256. A slow password hash (bcrypt, scrypt, Argon2) is for secrets people
choose, which an attacker holding the table can guess word by word; a token of 256 random bits
cannot be guessed that way, so one fast hash loses nothing, and it lets a request find its key
with one index lookup instead of trying every stored hash. The lookup compares hashes, not
tokens, so how long it takes tells nothing about a token. A revoked key never verifies again
and keeps its row, so the list still shows who had access and until when.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from retainly.errors import InputError, NotFoundError
from retainly.store.backends import Store

ROLES = ("admin", "analyst", "manager", "ingest")
TOKEN_PREFIX = "rk_"
NAME_LENGTH = 100
# A key's last use is written at most once a minute: a write per request would make every read a write.
LAST_USED_STEP = timedelta(minutes=1)
# Longer than any token this module makes: anything longer is refused before it is hashed.
_LONGEST_TOKEN = 100
_COLUMNS = ("key_id", "name", "role", "created_at", "revoked_at", "last_used_at")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"`role` {role!r} is not a role; choose from {', '.join(ROLES)}", parameter="role")
    return role


def _check_name(name: str | None) -> str | None:
    name = (name or "").strip() or None
    if name is not None and len(name) > NAME_LENGTH:
        raise InputError(f"`name` is {len(name)} characters long; keep it to {NAME_LENGTH}", parameter="name")
    return name


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def create(store: Store, role: str, name: str | None = None) -> tuple[int, str]:
    """Make a key with ``role`` (and a ``name`` saying whose it is); its id and its token, which is
    not kept anywhere and so cannot be shown again."""
    check_role(role)
    name = _check_name(name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.transaction():
        key_id = int(store.fetchone("SELECT nextval('api_key_ids')")[0])
        store.execute("INSERT INTO api_keys (key_id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                      (key_id, name, role, token_hash(token), _now()))
    return key_id, token


def listed(store: Store) -> list[dict]:
    """Every key, revoked ones too, oldest first, as dicts of ``key_id``, ``name``, ``role``,
    ``created_at``, ``revoked_at`` and ``last_used_at`` (never the token nor its hash)."""
    found = store.fetchall(f"SELECT {', '.join(_COLUMNS)} FROM api_keys ORDER BY key_id")
    return [dict(zip(_COLUMNS, row)) for row in found]


def get(store: Store, key_id: int) -> dict:
    found = store.fetchone(f"SELECT {', '.join(_COLUMNS)} FROM api_keys WHERE key_id = ?", (int(key_id),))
    if found is None:
        raise NotFoundError(f"no API key with id {key_id}; `retainly keys list` shows them", parameter="key_id")
    return dict(zip(_COLUMNS, found))


def revoke(store: Store, key_id: int) -> dict:
    """Revoke a key for good; the key as it now stands. Revoking it again changes nothing."""
    with store.transaction():
        key = get(store, key_id)
        if key["revoked_at"] is None:
            store.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", (_now(), key["key_id"]))
    return get(store, key_id)


def verify(store: Store, token: str | None) -> tuple[int, str] | None:
    """The id and role of the live key whose token this is; None for anything else (no token, a
    malformed one, an unknown one, a revoked key). Notes the key's use (see ``LAST_USED_STEP``)."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > _LONGEST_TOKEN:
        return None
    found = store.fetchone("SELECT key_id, role, revoked_at, last_used_at FROM api_keys WHERE token_hash = ?",
                           (token_hash(token),))
    if found is None or found[2] is not None:
        return None
    key_id, role, _, last_used = found
    now = _now()
    if not store.read_only and (last_used is None or last_used <= now - LAST_USED_STEP):
        with store.transaction():
            store.execute("UPDATE api_keys SET last_used_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                          (now, key_id))
    return int(key_id), str(role)
