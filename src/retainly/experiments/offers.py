"""Targeted offers in a run, and what the decisions saved (docs/experiments.md, "Offers where they pay").

A run (retainly.playbooks.run) asks ``RunOffers.plan`` about each targeted playbook's due rows:
each row of a step with an offer gets a decision (retainly.experiments.targeting), the model
fitted once per playbook per run as of the run's day, except the customers of the offer test, who
are offered or not at random (retainly.experiments.targeting). The payload of a row not offered says why
(``offer_withheld``); the decisions of the rows queued are written with the outbox rows, in
their transaction, once per (playbook, customer, occurrence, step): a rerun finds the step
planned and decides nothing again. ``totals`` sums what was decided for the saving against
"discount everyone".
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retainly.experiments.targeting import (TEST_NOT_OFFERED, TEST_OFFERED, OfferModel, features, fit, offer_rate,
                                            test_groups)
from retainly.playbooks.definition import Playbook
from retainly.playbooks.facts import Facts
from retainly.settings import ExperimentSettings
from retainly.store.backends import Store

DECISIONS = pa.schema([("playbook", pa.string()), ("customer_id", pa.int64()), ("occurrence", pa.string()),
                       ("step", pa.int32()), ("decided_on", pa.date32()), ("model", pa.string()),
                       ("offered", pa.bool_()), ("expected_with", pa.float64()), ("expected_without", pa.float64()),
                       ("expected_gain", pa.float64()), ("expected_cost", pa.float64())])
_EXPECTED = ("expected_with", "expected_without", "expected_gain", "expected_cost")


def targeted(playbook: Playbook, settings: ExperimentSettings | None) -> bool:
    """Whether ``[experiments] target_offers`` names ``playbook`` (or says "all") and it has an offer."""
    if settings is None or not any(step.offer for step in playbook.steps):
        return False
    return "all" in settings.target_offers or playbook.name in settings.target_offers


class PlannedOffers:
    """The decisions for one playbook's due rows (in their order): ``withheld`` says why a row's
    offer is withheld (None: offered, or the step has no offer)."""

    def __init__(self, playbook: str, due: pa.Table, as_of: date, model: str):
        count = due.num_rows
        self._due, self._playbook, self._as_of = due, playbook, as_of
        self.model = np.full(count, model, object)  # the words stored with each decision
        self.decided = np.zeros(count, bool)  # the rows of a step with an offer
        self.offered = np.zeros(count, bool)
        self.withheld = np.full(count, None, object)
        self.expected = {name: np.full(count, np.nan) for name in _EXPECTED}

    def rows(self, status) -> pa.Table:
        """``DECISIONS`` rows for the decided rows whose outbox ``status`` is queued (those sent or
        deferred by a cap: a suppressed or skipped row offers nothing)."""
        keep = self.decided & pc.fill_null(pc.equal(status, "queued"), False).to_numpy(zero_copy_only=False)
        at = pa.array(np.flatnonzero(keep), pa.int64())
        count = len(at)
        return pa.table({
            "playbook": pa.array([self._playbook] * count, pa.string()),
            "customer_id": self._due["customer_id"].take(at), "occurrence": self._due["occurrence"].take(at),
            "step": pa.array(self._due["step"].take(at), pa.int32()),
            "decided_on": pa.array(np.full(count, np.datetime64(self._as_of, "D")), pa.date32()),
            "model": pa.array(self.model[keep], pa.string()), "offered": pa.array(self.offered[keep]),
            **{name: pa.array(values[keep], pa.float64(), mask=np.isnan(values[keep]))
               for name, values in self.expected.items()}}, schema=DECISIONS)


class RunOffers:
    """One run's offer targeting: each playbook's model fitted once, the customers' features read once."""

    def __init__(self, store: Store, settings: ExperimentSettings, as_of: date):
        self.store, self.settings, self.as_of = store, settings, as_of
        self._models: dict[str, OfferModel] = {}
        self._features: pa.Table | None = None  # of every customer asked about so far, by customer_id

    def model(self, playbook: Playbook) -> OfferModel:
        if playbook.name not in self._models:
            self._models[playbook.name] = fit(self.store, playbook, self.as_of, self.settings)
        return self._models[playbook.name]

    def plan(self, playbook: Playbook, due: pa.Table, facts: Facts) -> PlannedOffers | None:
        """The decisions for ``due``'s rows of steps with an offer (None: the playbook is not
        targeted, or no such row is due); ``facts``: the run's, for the predicted hit-and-run buyers."""
        if not targeted(playbook, self.settings):
            return None
        numbers, ids = due["step"].to_numpy(), due["customer_id"].to_numpy()
        offering = np.isin(numbers, [number for number, step in enumerate(playbook.steps, 1) if step.offer])
        if not offering.any():
            return None
        model = self.model(playbook)
        planned = PlannedOffers(playbook.name, due, self.as_of, model.text)
        known = self._features_of(ids[offering])
        known_ids = known["customer_id"].to_numpy()
        buyer_types = facts.table["buyer_type"].take(facts.positions(ids))
        hit_and_run = pc.fill_null(pc.equal(buyer_types, "hit_and_run"), False).to_numpy(zero_copy_only=False)
        for number, step in enumerate(playbook.steps, start=1):
            rows = np.flatnonzero(numbers == number)
            if not step.offer or not len(rows):
                continue
            found = known.take(pa.array(np.searchsorted(known_ids, ids[rows]), pa.int64()))
            decided = model.decide(found, offer_rate(step.offer, self.settings.offer_cost), hit_and_run[rows])
            planned.decided[rows] = True
            planned.offered[rows] = decided.offered
            planned.withheld[rows] = decided.withheld
            for name in _EXPECTED:
                planned.expected[name][rows] = getattr(decided, name)
        # The offer test: offered or not at random, whatever the model says (what it learns from).
        group = np.zeros(len(ids), np.int8)
        group[offering] = test_groups(self.store, playbook.name, ids[offering], self.settings.offer_test_share)
        tested = np.flatnonzero(offering & (group > 0) & ~hit_and_run)
        planned.offered[tested] = group[tested] == 1
        planned.withheld[tested] = np.where(group[tested] == 1, None, TEST_NOT_OFFERED)
        planned.model[tested] = np.where(group[tested] == 1, TEST_OFFERED, TEST_NOT_OFFERED)
        for name in _EXPECTED:
            planned.expected[name][tested] = np.nan
        return planned

    def _features_of(self, customer_ids: np.ndarray) -> pa.Table:
        """The features of ``customer_ids`` and of those asked about before (one query per playbook
        for the customers new to the run: a customer in several playbooks is read once)."""
        wanted = np.unique(customer_ids)
        known = self._features
        missing = wanted if known is None else np.setdiff1d(wanted, known["customer_id"].to_numpy())
        if len(missing) or known is None:
            fresh = features(self.store, missing, self.as_of)
            known = fresh if known is None else pa.concat_tables([known, fresh.cast(known.schema)])
            self._features = known = known.sort_by("customer_id")
        return known


def write(store: Store, rows: pa.Table) -> None:
    """Insert decisions (``DECISIONS``), leaving a key already decided as it is; in the caller's
    transaction (a run's, with its outbox rows)."""
    if not rows.num_rows:
        return
    columns = ", ".join(DECISIONS.names)
    with store.staged(rows.cast(DECISIONS)) as staged:
        store.execute(f'INSERT INTO offer_decisions ({columns}) SELECT {columns} FROM "{staged}" '
                      "ON CONFLICT (playbook, customer_id, occurrence, step) DO NOTHING")


_TOTALS = """
SELECT d.playbook, COUNT(*) AS decisions, SUM(CASE WHEN d.offered THEN 1 ELSE 0 END) AS offered,
       SUM(CASE WHEN d.expected_gain IS NULL THEN 0 ELSE 1 END) AS by_model,
       CAST(SUM(CASE WHEN d.offered THEN d.expected_gain END) AS DOUBLE PRECISION) AS expected_gain,
       CAST(SUM(d.expected_gain) AS DOUBLE PRECISION) AS expected_gain_everyone,
       CAST(SUM(CASE WHEN d.offered THEN d.expected_cost END) AS DOUBLE PRECISION) AS expected_cost,
       CAST(SUM(d.expected_cost) AS DOUBLE PRECISION) AS expected_cost_everyone,
       MAX(d.decided_on) AS last_decided_on
FROM offer_decisions AS d WHERE d.decided_on <= ? GROUP BY d.playbook
"""
_NOT_TEST = f"model NOT IN ('{TEST_OFFERED}', '{TEST_NOT_OFFERED}')"  # the offer test's words name no model
_LATEST_MODEL = f"""
SELECT d.playbook, MIN(d.model) FROM offer_decisions AS d
JOIN (SELECT playbook, MAX(decided_on) AS last FROM offer_decisions WHERE decided_on <= ? AND {_NOT_TEST}
      GROUP BY playbook) AS l
    ON l.playbook = d.playbook AND l.last = d.decided_on
WHERE d.{_NOT_TEST}
GROUP BY d.playbook
"""


def totals(store: Store, as_of: date) -> dict[str, dict]:
    """Per playbook, the decisions made up to ``as_of``: decisions, offered, by_model (the rest by
    the default or the offer test), the expected gain and cost of the offers given and had every decided
    customer got one (of the model's decisions), the last day decided and the model that decided last
    (the learner or the default, not the offer test)."""
    models = dict(store.fetchall(_LATEST_MODEL, (as_of,)))
    found = store.fetch_arrow(_TOTALS, (as_of,)).to_pylist()
    return {row["playbook"]: {**{key: value for key, value in row.items() if key != "playbook"},
                              "model": models.get(row["playbook"])} for row in found}
