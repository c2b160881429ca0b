"""The one workspace a server serves, used by one request at a time.

DuckDB lets one process write a store, and its connection (like a psycopg one) is not made for
several threads at once. FastAPI runs each sync endpoint in a thread pool, so the app opens one
``Workspace`` when it starts and every request takes a lock around its use of it. Requests
therefore run one after another against the store; what they do outside the lock (checking
input, shaping JSON, sending it) overlaps. Several processes on a PostgreSQL store would scale
this out; on DuckDB a second writing process cannot open the store anyway.

An import holds the workspace for as long as it runs (minutes for a big file), and checking the
caller's key or session needs the store too. So that an import's progress can be polled meanwhile,
a key or session found live less than ``TRUSTED_SECONDS`` ago is trusted again without waiting
while the workspace is busy. Only live findings are remembered (an unknown token always waits for
the store), and logging out forgets them. The cost: a key revoked from another process (the CLI on
a PostgreSQL store) may still be accepted for up to ``TRUSTED_SECONDS`` while a long job runs.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from fastapi import Request

from retainly.workspace import Workspace

TRUSTED_SECONDS = 60
# Past this many remembered findings the oldest are dropped: a bound on memory, not a policy.
REMEMBERED_MOST = 10_000
Found = TypeVar("Found")


class Shop:
    """A workspace, the lock that guards it, and the live keys and sessions seen lately."""

    def __init__(self, ws: Workspace):
        self._ws = ws
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, object]] = {}  # (kind, token digest) -> (when, what was found)
        self._seen_lock = threading.Lock()

    @contextmanager
    def use(self) -> Iterator[Workspace]:
        """The workspace, for this request alone until the block ends."""
        with self._lock:
            yield self._ws

    def check(self, kind: str, token: str, look_up: Callable[[Workspace], Found | None]) -> Found | None:
        """``look_up(ws)``: who holds the key or session ``token`` (``kind`` says which), None if nobody.

        While the workspace is busy, a holder found within ``TRUSTED_SECONDS`` is answered at once."""
        seen_as = kind + ":" + hashlib.sha256(token.encode()).hexdigest()
        if not self._lock.acquire(blocking=False):
            recent = self._recent(seen_as)
            if recent is not None:
                return recent
            self._lock.acquire()
        try:
            found = look_up(self._ws)
        finally:
            self._lock.release()
        with self._seen_lock:
            self._seen.pop(seen_as, None)
            if found is not None:
                if len(self._seen) >= REMEMBERED_MOST:
                    del self._seen[next(iter(self._seen))]
                self._seen[seen_as] = (time.monotonic(), found)
        return found

    def _recent(self, seen_as: str) -> object | None:
        with self._seen_lock:
            when, found = self._seen.get(seen_as, (0.0, None))
        return found if time.monotonic() - when < TRUSTED_SECONDS else None

    def forget(self, kind: str, token: str) -> None:
        """Stop trusting ``token`` without the store (a session logged out, a key revoked here)."""
        with self._seen_lock:
            self._seen.pop(kind + ":" + hashlib.sha256(token.encode()).hexdigest(), None)

    def close(self) -> None:
        with self._lock:
            self._ws.close()


def shop(request: Request) -> Shop:
    """The shop of the app serving ``request``."""
    return request.app.state.shop
