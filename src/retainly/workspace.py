"""The core's root object: one store, its settings, and a service per domain.

The CLI, the API, the report and notebooks call the services; none of them holds business logic.

    >>> from retainly import Workspace
    >>> ws = Workspace.open("duckdb:///shop.duckdb")
    >>> ws.data.import_file("orders", "online_retail_II.csv.gz", preset="online-retail-ii")
    >>> ws.data.summary().customers
    >>> ws.measures.kpis(by="month")
    >>> ws.predictions.fit()            # compute and store
    >>> ws.predictions.scores()         # read (computed first when missing)

Each domain is one attribute, made on first use: ``data``, ``schema``, ``measures``, ``rfm``,
``predictions``, ``lifecycle``, ``insights``, ``customers``, ``reports``, ``audiences``,
``playbooks``, ``keys`` (API keys), ``users`` (the web app's), ``sites`` (the site snippet's keys), ``email`` (the links in messages),
``events`` (events sent as they happen), ``exports`` (audiences sent to files, email and ad platforms),
``experiments`` (what playbooks added), ``simulation`` (a generated shop living on);
the graph of stored
results is ``derived``. A new domain is one more attribute here and a module in ``services/``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from retainly.services.customers import CustomerService
from retainly.services.data import DataService, SchemaService
from retainly.services.derived import DerivedResults
from retainly.services.insights import InsightService
from retainly.services.lifecycle import LifecycleService
from retainly.services.measures import MeasureService
from retainly.services.predictions import PredictionService
from retainly.services.reports import ReportService
from retainly.services.rfm import RfmService
from retainly.settings import AnalysisSettings, database_url
from retainly.store import schema
from retainly.store.analytics import open_analytics
from retainly.store.backends import Store
from retainly.store.connect import connect


if TYPE_CHECKING:
    from retainly.services.access import AccessService
    from retainly.services.audiences import AudienceService
    from retainly.services.email import EmailService
    from retainly.services.events import EventService
    from retainly.services.experiments import ExperimentService
    from retainly.services.exports import ExportService
    from retainly.services.playbooks import PlaybookService
    from retainly.services.simulation import SimulationService
    from retainly.services.sites import SiteService
    from retainly.services.tasks import TaskService
    from retainly.services.users import UserService


def _quiet(_message: str) -> None:
    return None


class Workspace:
    """A shop's store, opened from a database URL.

    ``progress`` hears one line per derived result computed on the way to an answer (a shell
    shows it on a terminal); by default nobody listens.
    """

    def __init__(self, store: Store, settings_path: str | Path | None = None,
                 progress: Callable[[str], None] | None = None):
        self.store = store
        self._settings_path = settings_path
        self.progress = progress or _quiet

    @classmethod
    def open(cls, url: str | None = None, *, upgrade: bool = False, create: bool = True, read_only: bool = False,
             settings: str | Path | None = None, progress: Callable[[str], None] | None = None) -> Workspace:
        """Open (or create) the store at ``url``; default: $RETAINLY_DATABASE_URL or ./retainly.duckdb.

        A new store gets the current schema. An older one must be upgraded on purpose:
        pass ``upgrade=True`` or run ``retainly db upgrade``. With ``create=False`` a store that
        does not exist (a missing DuckDB file, a database without retainly's schema) is a
        ``NotFoundError``. ``read_only=True`` (which implies ``create=False``) lets other readers
        open a DuckDB store at the same time; anything that stores a result then fails.
        """
        store = connect(database_url(url), create=create, read_only=read_only)
        try:
            if upgrade and not read_only and (create or schema.current_version(store)):
                schema.upgrade(store)
            else:
                schema.require_current(store, create=create and not read_only)
        except BaseException:
            store.close()
            raise
        return cls(store, settings, progress)

    @classmethod
    def open_unchecked(cls, url: str | None = None, *, create: bool = True, read_only: bool = False) -> Workspace:
        """Open without touching the schema (for `retainly db status` and `db upgrade`)."""
        return cls(connect(database_url(url), create=create, read_only=read_only))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @cached_property
    def settings(self) -> AnalysisSettings:
        """Analysis defaults from the settings file (see ``AnalysisSettings.load``)."""
        return AnalysisSettings.load(self._settings_path)

    @cached_property
    def analytics(self) -> Store:
        """The store the heavy analytic queries run on: this store itself, or Spark over its published
        tables when [analytics] url (or $RETAINLY_ANALYTICS_URL) names a Spark master."""
        return open_analytics(self.store, self.settings.analytics)

    # -- the domains -------------------------------------------------------------------------
    @cached_property
    def derived(self) -> DerivedResults:
        return DerivedResults(self)

    @cached_property
    def data(self) -> DataService:
        return DataService(self)

    @cached_property
    def schema(self) -> SchemaService:
        return SchemaService(self)

    @cached_property
    def measures(self) -> MeasureService:
        return MeasureService(self)

    @cached_property
    def rfm(self) -> RfmService:
        return RfmService(self)

    @cached_property
    def predictions(self) -> PredictionService:
        return PredictionService(self)

    @cached_property
    def lifecycle(self) -> LifecycleService:
        return LifecycleService(self)

    @cached_property
    def insights(self) -> InsightService:
        return InsightService(self)

    @cached_property
    def customers(self) -> CustomerService:
        return CustomerService(self)

    @cached_property
    def reports(self) -> ReportService:
        return ReportService(self)

    # The action layer is imported on first use: most commands never need its parser and channels.
    @cached_property
    def audiences(self) -> AudienceService:
        from retainly.services.audiences import AudienceService

        return AudienceService(self)

    @cached_property
    def playbooks(self) -> PlaybookService:
        from retainly.services.playbooks import PlaybookService

        return PlaybookService(self)

    @cached_property
    def keys(self) -> AccessService:
        from retainly.services.access import AccessService

        return AccessService(self)

    @cached_property
    def users(self) -> UserService:
        from retainly.services.users import UserService

        return UserService(self)

    @cached_property
    def sites(self) -> SiteService:
        from retainly.services.sites import SiteService

        return SiteService(self)

    @cached_property
    def email(self) -> EmailService:
        from retainly.services.email import EmailService

        return EmailService(self)

    @cached_property
    def experiments(self) -> ExperimentService:
        from retainly.services.experiments import ExperimentService

        return ExperimentService(self)

    @cached_property
    def simulation(self) -> SimulationService:
        from retainly.services.simulation import SimulationService

        return SimulationService(self)

    @cached_property
    def tasks(self) -> TaskService:
        from retainly.services.tasks import TaskService

        return TaskService(self)

    @cached_property
    def events(self) -> EventService:
        from retainly.services.events import EventService

        return EventService(self)

    @cached_property
    def exports(self) -> ExportService:
        from retainly.services.exports import ExportService

        return ExportService(self)
