"""What every domain service shares: the workspace it serves and the default date."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from retainly.features.orders import check_day

if TYPE_CHECKING:
    from retainly.settings import AnalysisSettings
    from retainly.store.backends import Store
    from retainly.workspace import Workspace


class Service:
    """One domain's operations over a workspace's store."""

    def __init__(self, ws: Workspace):
        self.ws = ws

    @property
    def store(self) -> Store:
        return self.ws.store

    @property
    def analytics(self) -> Store:
        """Where the heavy analytic queries run (the store itself unless Spark is chosen); results
        written through it land in the store."""
        return self.ws.analytics

    @property
    def settings(self) -> AnalysisSettings:
        return self.ws.settings

    def as_of(self, as_of: date | None, parameter: str = "as_of") -> date:
        """``as_of`` (named ``parameter`` in errors), or by default the day of the last purchase order."""
        return check_day(as_of, parameter) or self.ws.data.last_order_date()

    def ensure_derived(self, name: str, as_of: date | None) -> date:
        """Make sure the derived result ``name`` exists for ``as_of`` and postdates the last import."""
        return self.ws.derived.ensure(name, as_of)
