"""Each module adds its commands to the app."""

from retainly.cli.commands import (audiences, customer, data, db, delete, email, experiments,  # noqa: F401
                                     exports, insights, keys, lifecycle, measure, playbooks, predict, report,
                                     segments, serve, shop, simulate, sites, tasks, users)
