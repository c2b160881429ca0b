"""The one workspace a server serves, used by one request at a time.

DuckDB lets one process write a store, and its connection (like a psycopg one) is not made for
several threads at once. FastAPI runs each sync endpoint in a thread pool, so the app opens one
``Workspace`` when it starts and every request takes a lock around its use of it. Requests
therefore run one after another against the store; what they do outside the lock (checking
input, shaping JSON, sending it) overlaps. Several processes on a PostgreSQL store would scale
this out; on DuckDB a second writing process cannot open the store anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request

from retainly.workspace import Workspace


class Shop:
    """A workspace and the lock that guards it."""

    def __init__(self, ws: Workspace):
        self._ws = ws
        self._lock = threading.Lock()

    @contextmanager
    def use(self) -> Iterator[Workspace]:
        """The workspace, for this request alone until the block ends."""
        with self._lock:
            yield self._ws

    def close(self) -> None:
        with self._lock:
            self._ws.close()


def shop(request: Request) -> Shop:
    """The shop of the app serving ``request``."""
    return request.app.state.shop
