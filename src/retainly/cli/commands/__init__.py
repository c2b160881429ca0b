"""Each module adds its commands to the app."""

from retainly.cli.commands import customer, data, db, measure, report, segments, shop  # noqa: F401
