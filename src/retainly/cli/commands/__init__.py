"""Each module adds its commands to the app."""

from retainly.cli.commands import customer, data, db, delete, insights, lifecycle, measure, predict, report, segments, shop  # noqa: F401
