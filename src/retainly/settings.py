"""Deployment settings, read from the environment, each with its help text."""

from __future__ import annotations

import os
from dataclasses import dataclass

from retainly.store.urls import DEFAULT_URL

DATABASE_URL_VARIABLE = "RETAINLY_DATABASE_URL"


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str

    def value(self) -> str:
        return os.environ.get(self.name) or self.default


DATABASE_URL = Setting(
    DATABASE_URL_VARIABLE,
    DEFAULT_URL,
    "Where the store lives: duckdb:///path.duckdb (default ./retainly.duckdb) or postgresql://user@host:port/db.",
)

SETTINGS = (DATABASE_URL,)


def database_url(explicit: str | None = None) -> str:
    """The store URL: an explicit --db wins over the environment, which wins over the default."""
    return explicit or DATABASE_URL.value()
