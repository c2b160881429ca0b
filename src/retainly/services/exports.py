"""Audience exports (docs/exports.md): saved exports of an audience or a playbook's export step to a file
or an email or ad platform, their runs, and the scheduled ones `retainly run` brings up to date."""

from __future__ import annotations

from datetime import date

from retainly.errors import RetainlyError
from retainly.exports import definitions, records, sources, sync
from retainly.exports.definitions import TARGETS, Export
from retainly.results.exports import (ExportDetail, ExportRun, ExportRunResult, ExportSummary, ExportTarget,
                                      PhoneProblem)
from retainly.services.base import Service


class ExportService(Service):
    """Saved exports and their runs; each run sends only customers with the consent its target needs."""

    def targets(self) -> list[ExportTarget]:
        return [ExportTarget(target=t.name, consent=t.consent or "the option consent (email, sms or ads)", api=t.api,
                             options=", ".join(t.options), required=", ".join(t.required),
                             credentials=t.credentials, help=t.help) for t in TARGETS.values()]

    def list(self) -> list[ExportSummary]:
        overview = records.overview(self.store)
        return [self._summary(export, overview) for export in definitions.all_exports(self.store)]

    def show(self, name: str, runs: int = 20) -> ExportDetail:
        export = definitions.get(self.store, name)
        return ExportDetail(export=self._summary(export, records.overview(self.store)), options=export.options,
                            consent=export.consent(),
                            runs=[ExportRun(**{k: v for k, v in row.items() if k != "export_name"})
                                  for row in records.runs(self.store, name, runs)])

    def add(self, name: str, target: str, source: str, options: dict | None = None, incremental: bool = True,
            scheduled: bool = False, replace: bool = False) -> ExportDetail:
        """Save an export (``replace``: change a saved one, its target's members kept)."""
        definitions.save(self.store, Export(name, target, source, dict(options or {}), incremental, scheduled),
                         replace)
        return self.show(name)

    def remove(self, name: str) -> int:
        """Remove an export, its runs and members; how many customers its target still holds (they stay
        there: remove them on the platform, or run the export with an empty source first)."""
        return definitions.delete(self.store, name)

    def run(self, name: str, as_of: date | None = None) -> ExportRunResult:
        """Run an export as of ``as_of`` (default: the last order): send who joined and left (or everyone)."""
        export = definitions.get(self.store, name)
        as_of = self.as_of(as_of)
        rule = sources.audience_rule(self.store, export.source)
        if rule is not None:  # what the rule's fields read, computed for the day first
            self.ws.audiences.prepare(rule, as_of)
        settings = self.settings.exports
        outcome = sync.run_export(self.store, export, as_of, settings.default_country or None, settings.folder)
        return ExportRunResult(
            export=outcome.export, as_of=outcome.as_of, status=outcome.status, run_id=outcome.run_id,
            added=outcome.added, removed=outcome.removed, kept=outcome.kept, match_keys=outcome.match_keys,
            destination=outcome.destination, message=outcome.message,
            phone_problems=[PhoneProblem(customer=c, phone=p, reason=r) for c, p, r in outcome.phone_problems])

    def run_scheduled(self, as_of: date | None = None) -> list[ExportRunResult] | None:
        """Run every scheduled export (None when there is none); one refused (too small, no key) is reported
        as ``refused`` with the reason and keeps nothing from running the others."""
        scheduled = [export for export in definitions.all_exports(self.store) if export.scheduled]
        if not scheduled:
            return None
        as_of = self.as_of(as_of)
        done = []
        for export in scheduled:
            try:
                done.append(self.run(export.name, as_of))
            except RetainlyError as error:
                done.append(ExportRunResult(export=export.name, as_of=as_of, status="refused", message=str(error)))
        return done

    @staticmethod
    def _summary(export: Export, overview: dict) -> ExportSummary:
        members, status, finished = overview.get(export.name, (0, None, None))
        return ExportSummary(name=export.name, target=export.target, source=export.source,
                             incremental=export.incremental, scheduled=export.scheduled, members=members,
                             last_status=status, last_run_at=finished)
