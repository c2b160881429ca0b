"""Each module adds its commands to the app."""

from retainly.cli.commands import (audiences, customer, data, db, delete, insights, lifecycle, measure,  # noqa: F401
                                     playbooks, predict, report, segments, shop)
