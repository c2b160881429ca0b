"""The store: connections, schema and migrations."""

from retainly.store.backends import Store
from retainly.store.connect import connect
from retainly.store.urls import DEFAULT_URL, StoreURL, parse_url

__all__ = ["DEFAULT_URL", "Store", "StoreURL", "connect", "parse_url"]
