"""Opening a store from its URL: an embedded DuckDB file (made when missing, readable by its owner
only) or a PostgreSQL server, with the errors a user can act on (missing, busy, unreachable)."""

from __future__ import annotations

import os

import ibis

from retainly.errors import NotFoundError, StoreBusyError, StoreError
from retainly.settings import DUCKDB_MEMORY
from retainly.store.backends import DuckDBStore, PostgresStore, Store
from retainly.store.urls import StoreURL, parse_url

BUSY = "the store is busy with another retainly command; try again"


def connect(url: str | StoreURL, *, create: bool = True, read_only: bool = False) -> Store:
    """Open the store at ``url``; see ``retainly.store.urls`` for the accepted forms.

    A DuckDB file that does not exist is made (readable by its owner only) when ``create``;
    otherwise it is refused as missing. ``read_only`` opens a DuckDB file so that other readers
    can open it at the same time (PostgreSQL needs no such mode: readers never wait there).
    """
    parsed = url if isinstance(url, StoreURL) else parse_url(url)
    if parsed.backend == "duckdb":
        return _connect_duckdb(parsed, create=create and not read_only, read_only=read_only)
    try:
        backend = ibis.postgres.connect(
            host=parsed.host,
            port=parsed.port,
            user=parsed.user,
            password=parsed.password,
            database=parsed.database,
        )
    except Exception as exc:  # psycopg.OperationalError and friends
        raise StoreError(
            f"cannot connect to {parsed.display()}: {_first_line(exc)}; check the server is running and the URL"
        ) from None
    return PostgresStore(parsed, backend, read_only)


def _connect_duckdb(url: StoreURL, *, create: bool, read_only: bool) -> DuckDBStore:
    path = url.path
    exists = path.exists()
    if not exists and not create:
        raise missing_store(url)
    if path.parent and not path.parent.exists():
        raise StoreError(
            f"cannot create the store {path}: folder {path.parent} does not exist; create it or pick another `url`",
            parameter="url",
        )
    # A new store holds personal data: made readable by its owner only, whatever the umask.
    previous = os.umask(0o077) if not exists else None
    try:
        backend = _duckdb_backend(path, read_only)
    finally:
        if previous is not None:
            os.umask(previous)
    if not exists:
        os.chmod(path, 0o600)
    return DuckDBStore(url, backend, read_only, umask=~path.stat().st_mode & 0o077)


def _duckdb_backend(path, read_only: bool):
    memory = DUCKDB_MEMORY.value().strip()
    try:
        return ibis.duckdb.connect(database=str(path), read_only=read_only,
                                   **({"memory_limit": memory} if memory else {}))
    except Exception as exc:  # duckdb raises its own IOException family
        text = _first_line(exc)
        if memory and "memory" in text.lower():
            raise StoreError(f"{DUCKDB_MEMORY.name}={memory!r} is not an amount of memory DuckDB takes ({text}); "
                             "give one such as 6GB or 512MB, or unset it") from None
        if "Could not set lock on file" in text:  # another process has it open for writing (or reading)
            raise StoreBusyError(BUSY) from None
        if read_only and "different configuration" in text:
            # This process already has the store open for writing: share that connection's mode.
            return _duckdb_backend(path, read_only=False)
        if "different configuration" in text:
            raise StoreBusyError(f"this process has the store {path} open read-only; close that workspace before "
                                 "opening it to write") from None
        raise StoreError(f"cannot open DuckDB store {path}: {text}") from None


def missing_store(url: StoreURL) -> NotFoundError:
    """The error for a store that does not exist (or holds no retainly schema) where one must."""
    where = str(url.path) if url.backend == "duckdb" else url.display()
    return NotFoundError(f"no store at {where}: check `url`, or import data first", parameter="url")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
