"""Each module adds its commands to the app."""

from retainly.cli.commands import (audiences, customer, data, db, delete, email, insights, keys,  # noqa: F401
                                     lifecycle, measure, playbooks, predict, report, segments, serve, shop,
                                     sites, users)
