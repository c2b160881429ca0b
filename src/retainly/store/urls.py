"""Database URLs: what the user types, what retainly connects to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from retainly.errors import InputError
from retainly.settings import DEFAULT_URL  # noqa: F401  (the default lives with the deployment settings)

_HOW = (
    "use duckdb:///relative/path.duckdb, duckdb:////absolute/path.duckdb, "
    "a path to a .duckdb file, or postgresql://user@host:port/database"
)


@dataclass(frozen=True)
class StoreURL:
    """A parsed store location: an embedded DuckDB file or a PostgreSQL server."""

    backend: str  # "duckdb" or "postgres"
    path: Path | None = None
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None
    database: str | None = None

    def display(self) -> str:
        """The URL without its password, for messages and logs."""
        if self.backend == "duckdb":
            return f"duckdb:///{self.path}" if self.path and not self.path.is_absolute() else f"duckdb://{self.path}"
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"postgresql://{user}{self.host or ''}{port}/{self.database or ''}"


def parse_url(url: str | Path) -> StoreURL:
    """Parse a store URL or a plain path to a DuckDB file."""
    text = str(url).strip()
    if not text:
        raise InputError(f"empty database URL; {_HOW}")
    if "://" not in text:
        return StoreURL("duckdb", path=Path(text))
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "duckdb":
        # duckdb:///rel.duckdb -> "/rel.duckdb" after the netloc; duckdb:////abs -> "//abs".
        raw = text[len("duckdb://"):]
        if raw.startswith("//"):
            path = Path(raw[1:])
        elif raw.startswith("/"):
            path = Path(raw[1:])
        else:
            path = Path(raw)
        if not str(path) or str(path) == ".":
            raise InputError(f"database URL {text!r} names no file; {_HOW}")
        return StoreURL("duckdb", path=path)
    if scheme in {"postgresql", "postgres", "postgresql+psycopg"}:
        database = unquote(parts.path.lstrip("/")) or None
        try:
            port = parts.port
        except ValueError as exc:
            raise InputError(f"database URL {text!r} has a bad port: {exc}; {_HOW}") from None
        return StoreURL(
            "postgres",
            host=parts.hostname or "localhost",
            port=port or 5432,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            database=database,
        )
    raise InputError(f"unsupported database URL {text!r}; {_HOW}")
