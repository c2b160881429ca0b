"""Each module adds its commands to the app."""

from retainly.cli.commands import data, db, shop  # noqa: F401
