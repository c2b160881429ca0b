"""Each module adds its commands to the app."""

from retainly.cli.commands import (audiences, customer, data, db, delete, insights, keys, lifecycle,  # noqa: F401
                                     measure, playbooks, predict, report, segments, serve, shop, sites,
                                     users)
