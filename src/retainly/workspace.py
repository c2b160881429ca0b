"""The core object: one store and everything retainly does with it.

The CLI, the API and notebooks call these methods; none of them holds business logic.

    >>> from retainly import Workspace
    >>> ws = Workspace.open("duckdb:///shop.duckdb")
    >>> ws.import_file("orders", "online_retail_II.csv.gz", preset="online-retail-ii")
    >>> ws.summary()["customers"]
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cached_property
from pathlib import Path

from retainly.ingest.pipeline import ImportResult, import_file
from retainly.errors import InputError
from retainly.settings import AnalysisSettings, database_url
from retainly.store import schema
from retainly.store.backends import Store, connect


class Workspace:
    """A shop's store, opened from a database URL."""

    def __init__(self, store: Store, settings_path: str | Path | None = None):
        self.store = store
        self._settings_path = settings_path

    @cached_property
    def settings(self) -> AnalysisSettings:
        """Analysis defaults from the settings file (see ``AnalysisSettings.load``)."""
        return AnalysisSettings.load(self._settings_path)

    @classmethod
    def open(cls, url: str | None = None, *, upgrade: bool = False,
             settings: str | Path | None = None) -> Workspace:
        """Open (or create) the store at ``url``; default: $RETAINLY_DATABASE_URL or ./retainly.duckdb.

        A new store gets the current schema. An older one must be upgraded on purpose:
        pass ``upgrade=True`` or run ``retainly db upgrade``.
        """
        store = connect(database_url(url))
        try:
            if upgrade:
                schema.upgrade(store)
            else:
                schema.require_current(store)
        except BaseException:
            store.close()
            raise
        return cls(store, settings)

    @classmethod
    def open_unchecked(cls, url: str | None = None) -> Workspace:
        """Open without touching the schema (for `retainly db status` and `db upgrade`)."""
        return cls(connect(database_url(url)))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- data in ---------------------------------------------------------------------------
    def import_file(self, kind: str, path: str | Path, **options) -> ImportResult:
        """Import one export file; see ``retainly.ingest.pipeline.import_file`` for the options."""
        return import_file(self.store, kind, path, **options)

    def generate(self, customers: int, seed: int, progress: Callable[[str], None] | None = None) -> int:
        """Generate a shop and load it straight into the store; return the import id."""
        from retainly.shop_files import generate_into

        return generate_into(self.store, customers, seed, progress=progress)

    # -- what the store knows -----------------------------------------------------------
    def summary(self) -> dict:
        from retainly.features.summary import store_summary

        return store_summary(self.store)

    def table_rows(self) -> dict[str, int]:
        """Rows per store table (the retainly_schema bookkeeping aside)."""
        names = sorted(self.store.table_names() - {"retainly_schema"})
        return {name: int(self.store.fetchone(f"SELECT COUNT(*) FROM {name}")[0]) for name in names}

    def imports(self) -> list[dict]:
        rows = self.store.fetchall(
            "SELECT import_id, kind, source, preset, rows_read, rows_accepted, rows_rejected, started_at, status "
            "FROM imports ORDER BY import_id"
        )
        keys = ("import_id", "kind", "source", "preset", "rows_read", "rows_accepted", "rows_rejected", "started_at",
                "status")
        return [dict(zip(keys, row)) for row in rows]

    def schema_status(self) -> schema.SchemaStatus:
        return schema.status(self.store)

    def upgrade(self) -> list:
        return schema.upgrade(self.store)

    # -- measurement ------------------------------------------------------------------------
    def kpis(self, first: date | None = None, last: date | None = None, by: str | None = None,
             window_days: int | None = None) -> list[dict]:
        """Shop KPIs for the inclusive dates, one dict per period or channel (docs/metrics.md)."""
        from retainly.features.kpis import shop_kpis

        window = window_days if window_days is not None else self.settings.activity_window_days
        return shop_kpis(self.store, first, last, by, window)

    def cohorts(self, by: str = "month", metric: str = "customers") -> list[dict]:
        from retainly.features.cohorts import cohort_matrix

        return cohort_matrix(self.store, by, metric)

    # -- RFM --------------------------------------------------------------------------------
    def default_as_of(self) -> date:
        """The date analyses describe by default: the day of the last purchase order in the store."""
        from retainly.segments.rfm import last_order_date

        last = last_order_date(self.store)
        if last is None:
            raise InputError("the store has no purchase orders yet; import orders first (see `retainly import --help`)")
        return last

    def rfm(self, as_of: date | None = None, bins: int | None = None) -> tuple[date, int]:
        """Compute and store every customer's RFM scores as of a date; return (as_of, customers)."""
        from retainly.segments.rfm import store_scores

        as_of = as_of or self.default_as_of()
        bins = bins or self.settings.rfm_bins
        if bins < 2:
            raise InputError(f"--bins {bins}: scores need at least 2 bins")
        return as_of, store_scores(self.store, as_of, bins, self.settings.segment_map)

    def rfm_scores(self, as_of: date | None = None):
        """The stored scores for ``as_of`` as an Arrow table (computed first when missing or stale)."""
        from retainly.segments.rfm import scores

        as_of = self.ensure_rfm(as_of)
        return scores(self.store, as_of).order_by("customer_id").to_pyarrow()

    def ensure_rfm(self, as_of: date | None = None) -> date:
        """Make sure scores for ``as_of`` exist and postdate the last import; return the date.

        Stored scores are kept whatever their bins (`retainly rfm --bins 10` sticks).
        """
        as_of = as_of or self.default_as_of()
        if as_of not in self.store.fresh_dates("rfm_scores"):
            self.rfm(as_of)
        return as_of

    def segments(self, as_of: date | None = None) -> list[dict]:
        """Per RFM segment: size, shares, mean R/F/M and the suggested action."""
        from retainly.segments.rfm import segment_summary

        as_of = self.ensure_rfm(as_of)
        return segment_summary(self.store, as_of, self.settings.segment_map)

    def segment_moves(self, earlier: date, later: date | None = None) -> list[dict]:
        """Customers per (segment at ``earlier``, segment at ``later``)."""
        from retainly.segments.rfm import segment_moves

        later = later or self.default_as_of()
        if earlier >= later:
            raise InputError(f"--from {earlier} must be before the as-of date {later}")
        self.ensure_rfm(earlier)
        self.ensure_rfm(later)
        return segment_moves(self.store, earlier, later)

    # -- predictions --------------------------------------------------------------------------
    def score(self, model: str = "auto", as_of: date | None = None, horizon_days: int | None = None) -> dict:
        """Fit a model (chosen by backtest with 'auto') and store every customer's predictions."""
        from dataclasses import replace

        from retainly.scores.scoring import score

        settings = self.settings.models
        if horizon_days is not None:
            settings = replace(settings, horizon_days=horizon_days)
        return score(self.store, as_of or self.default_as_of(), model, settings)

    def ensure_scores(self, as_of: date | None = None) -> date:
        """Make sure predictions for ``as_of`` exist and postdate the last import; return the date."""
        as_of = as_of or self.default_as_of()
        if as_of not in self.store.fresh_dates("model_fits", stamp="fitted_at"):
            self.score(as_of=as_of)
        return as_of

    def latest_fit(self, as_of: date | None = None) -> dict | None:
        """The most recent fit record for ``as_of`` (default: the last one of all), or None."""
        from retainly.scores.stored import latest_fit

        return latest_fit(self.store, as_of)

    def scores(self, as_of: date | None = None):
        """Stored per-customer predictions for ``as_of`` as an Arrow table (scored first when missing or stale)."""
        as_of = self.ensure_scores(as_of)
        table = self.store.table("customer_scores")
        return table.filter(table.as_of == as_of).order_by("customer_id").to_pyarrow()

    def backtest(self, calibration_end: date, holdout_end: date | None = None,
                 models: list[str] | None = None) -> dict:
        """Fit on orders through ``calibration_end``, predict to ``holdout_end``, compare (docs/models.md)."""
        from retainly.scores.backtest import evaluate
        from retainly.scores.scoring import MODEL_CHOICES, backtest_data

        holdout_end = holdout_end or self.default_as_of()
        chosen = models or [m for m in MODEL_CHOICES if m != "auto"]
        unknown = [m for m in chosen if m not in MODEL_CHOICES or m == "auto"]
        if unknown:
            raise InputError(f"--model {unknown[0]}: choose from {', '.join(m for m in MODEL_CHOICES if m != 'auto')}")
        settings = self.settings.models
        data = backtest_data(self.store, calibration_end, holdout_end, settings.time_unit)
        if data.calibration.empty:
            raise InputError(f"no customer had bought by {calibration_end}; pick a later --calibration-end")
        return {"calibration_end": calibration_end.isoformat(), "holdout_end": holdout_end.isoformat(),
                "time_unit": settings.time_unit, "models": evaluate(data, chosen, settings.penalizer)}

    # -- lifecycle ----------------------------------------------------------------------------
    def lifecycle(self, as_of: date | None = None) -> date:
        """Compute and store every customer's stage and churn warning signs as of a date."""
        from datetime import timedelta

        from retainly.features.rhythm import customer_rhythm
        from retainly.scores.stored import predictions_at
        from retainly.segments.lifecycle import lifecycle_stages
        from retainly.segments.lifecycle_store import store_stages
        from retainly.segments.warning_signs import warning_signs

        as_of = self.ensure_scores(as_of)
        facts = customer_rhythm(self.store, as_of)
        now = predictions_at(self.store, as_of)
        stages = lifecycle_stages(self.store, as_of, now, self.settings.lifecycle, facts=facts)
        before = predictions_at(self.store, as_of - timedelta(days=self.settings.warning_signs.fading_days))
        signs = warning_signs(self.store, as_of, facts, now, before, self.settings.warning_signs)
        store_stages(self.store, as_of, stages, signs)
        return as_of

    def ensure_lifecycle(self, as_of: date | None = None) -> date:
        """Stages and signs for ``as_of``, computed when missing or older than the last import."""
        as_of = as_of or self.default_as_of()
        if as_of not in self.store.fresh_dates("churn_signals"):
            self.lifecycle(as_of)
        return as_of

    def lifecycle_counts(self, as_of: date | None = None) -> list[dict]:
        """Customers (and VIPs among them) per stage, in the order of the stages."""
        from retainly.segments.lifecycle import STAGES
        from retainly.segments.lifecycle_store import stage_counts

        counts = {row["stage"]: row for row in stage_counts(self.store, self.ensure_lifecycle(as_of))}
        total = sum(row["customers"] for row in counts.values()) or 1
        return [{**counts[s], "share": round(counts[s]["customers"] / total, 4)} for s in STAGES if s in counts]

    def lifecycle_customers(self, as_of: date | None = None) -> list[dict]:
        """Every customer's stage, VIP flag, reason, risk score and warning signs as of a date."""
        as_of = self.ensure_lifecycle(as_of)
        rows = self.store.fetchall(
            "SELECT c.external_id, s.customer_id, s.stage, s.vip, s.reason, s.p_alive, w.risk_score, w.signs "
            "FROM lifecycle_stages s JOIN customers c ON c.customer_id = s.customer_id "
            "LEFT JOIN churn_signals w ON w.customer_id = s.customer_id AND w.as_of = s.as_of "
            "WHERE s.as_of = ? ORDER BY s.customer_id", (as_of,))
        keys = ("external_id", "customer_id", "stage", "vip", "reason", "p_alive", "risk_score", "signs")
        return [dict(zip(keys, row)) for row in rows]

    def lifecycle_flow(self, first: date, last: date | None = None) -> dict:
        """Stages at ``first`` and ``last`` (default: the last order), the flow between them, and
        the monthly trend of stage changes (snapshots at every month end in between)."""
        from retainly.scores.stored import predictions_at
        from retainly.segments.lifecycle import lifecycle_stages
        from retainly.segments.lifecycle_store import (flow_matrix, snapshot_dates, stage_counts, store_stages,
                                                       store_transitions, transition_trend)

        last = self.ensure_lifecycle(last)
        if first >= last:
            raise InputError(f"--from {first} must be before --to {last}")
        dates = snapshot_dates(first, last)
        done = self.store.fresh_dates("lifecycle_stages")
        for day in dates:
            if day not in done:
                store_stages(self.store, day, lifecycle_stages(self.store, day, predictions_at(self.store, day),
                                                               self.settings.lifecycle))
        store_transitions(self.store, dates)
        return {"from": first, "to": last, "stages_from": stage_counts(self.store, first),
                "stages_to": stage_counts(self.store, last), "flow": flow_matrix(self.store, first, last),
                "trend": transition_trend(self.store, dates)}

    # -- buyer types, reorders, products to offer ---------------------------------------------
    def insights(self, as_of: date | None = None) -> dict:
        """Compute and store buyer types, product intervals, reorders due and products to offer."""
        from retainly.segments.insights import compute_and_store

        return compute_and_store(self.store, as_of or self.default_as_of())

    def ensure_insights(self, as_of: date | None = None) -> date:
        as_of = as_of or self.default_as_of()
        if as_of not in self.store.fresh_dates("buyer_types"):  # written together with the other insights
            self.insights(as_of)
        return as_of

    def buyer_type_mix(self, as_of: date | None = None) -> dict:
        """Customers per buyer type and source (rule or early prediction), and the promotions note."""
        from retainly.segments.buyer_types import promotion_sources

        as_of = self.ensure_insights(as_of)
        rows = self.store.fetchall("SELECT buyer_type, source, COUNT(*) FROM buyer_types WHERE as_of = ? "
                                   "GROUP BY 1, 2 ORDER BY 1, 2", (as_of,))
        total = sum(n for _, _, n in rows) or 1
        return {"as_of": as_of, "promotion_note": promotion_sources(self.store)["note"],
                "types": [{"buyer_type": t, "source": src, "customers": int(n), "share": round(n / total, 4)}
                          for t, src, n in rows]}

    def evaluate_buyer_types(self, as_of: date | None = None) -> dict:
        """Precision and recall of the rules and early classifiers against a generated shop's truth."""
        from retainly.segments.buyer_types import evaluate

        return evaluate(self.store, as_of or self.default_as_of())

    def reorders(self, as_of: date | None = None, limit: int | None = 50) -> dict:
        """Consumables with their typical re-order interval, and the reorders due within the last
        interval (most overdue first) of customers still likely to buy (P(alive) 0.5 or more, where
        predictions exist): older ones have probably been bought elsewhere."""
        as_of = self.ensure_insights(as_of)
        self.ensure_scores(as_of)
        products = self.store.fetchall(
            "SELECT i.sku, p.name, i.repeat_buyers, i.intervals, i.median_days, i.p25_days, i.p75_days "
            "FROM product_intervals i LEFT JOIN products p ON p.sku = i.sku WHERE i.as_of = ? AND i.consumable "
            "ORDER BY i.repeat_buyers DESC, i.sku", (as_of,))
        keys = ("sku", "name", "repeat_buyers", "intervals", "median_days", "p25_days", "p75_days")
        due = self.store.fetchall(
            "SELECT c.external_id, d.sku, p.name, d.last_purchase, d.due_date, d.days_overdue, s.p_alive "
            "FROM reorders_due d JOIN customers c ON c.customer_id = d.customer_id "
            "LEFT JOIN products p ON p.sku = d.sku "
            "LEFT JOIN customer_scores s ON s.customer_id = d.customer_id AND s.as_of = d.as_of "
            "WHERE d.as_of = ? AND d.days_overdue >= 0 AND d.days_overdue <= d.interval_days "
            "AND COALESCE(s.p_alive, 1) >= 0.5 "
            "ORDER BY d.days_overdue DESC, c.external_id, d.sku" + (f" LIMIT {int(limit)}" if limit else ""), (as_of,))
        due_keys = ("customer", "sku", "name", "last_purchase", "due_date", "days_overdue", "p_alive")
        return {"as_of": as_of, "consumables": [dict(zip(keys, row)) for row in products],
                "due": [dict(zip(due_keys, row)) for row in due]}

    # -- one customer -----------------------------------------------------------------------
    def customer(self, key: str, as_of: date | None = None) -> dict:
        """Customer 360 for a customer id (the shop's, or retainly's numeric one)."""
        from retainly.scores.stored import customer_prediction
        from retainly.views.customer import customer_standing, customer_view, find_customer_id, rfm_of

        customer_id = find_customer_id(self.store, key)
        rfm = prediction = standing = None
        if self.store.fetchone("SELECT COUNT(*) FROM purchases WHERE customer_id IS NOT NULL")[0]:
            as_of = self.ensure_rfm(as_of)
            rfm = rfm_of(self.store, customer_id, as_of)
            self.ensure_scores(as_of)
            prediction = customer_prediction(self.store, customer_id, as_of)
            if prediction is not None:
                fit = self.latest_fit(as_of)
                prediction = {"as_of": as_of, **prediction, "horizon_days": fit["horizon_days"]}
            self.ensure_lifecycle(as_of)
            self.ensure_insights(as_of)
            standing = customer_standing(self.store, customer_id, as_of)
        return customer_view(self.store, customer_id, rfm, prediction, standing)

    # -- the report -------------------------------------------------------------------------
    def report(self, path: str | Path) -> Path:
        """Write the offline HTML report (one self-contained file) to ``path``; return the path."""
        from retainly.views.report import write_report

        return write_report(self, path)
