"""Views for people over the core's results: the offline HTML report."""

from retainly.views.report import write_report

__all__ = ["write_report"]
