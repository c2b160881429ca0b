"""The same experiment run again and again, to check that the measurement tells the truth.

One simulated shop (synth.simulation) gives each playbook its enrolled customers. A
*replication* takes them as they are (their truth, usual order value, whether a message can
reach them, what they spent in the year before) and runs the experiment anew: the arms are
drawn by the playbook's own salted hash under a new salt (retainly.playbooks.enrol.arm), every
customer's orders in the window are drawn from the known purchase process and response model
(synth.responses), and the effect is measured by the same estimator as `retainly experiments`
(retainly.experiments.measure.compare). Over many replications a 95 % interval should hold the
true effect about 95 % of the time. Closing the whole loop (runs, deliveries, imports) hundreds
of times would take hours; the loop itself is checked on the simulated shop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retainly.experiments.measure import compare
from retainly.playbooks.enrol import HOLDOUT, arm
from retainly.store.backends import Store
from retainly.synth import responses

_POPULATION = """
WITH units AS (
    SELECT e.customer_id, MIN(e.enrolled_on) AS enrolled_on FROM enrolments AS e WHERE e.playbook = ?
    GROUP BY e.customer_id
)
SELECT u.customer_id, t.buyer_type, t.purchase_rate AS rate, t.dropout_probability AS dropout,
       t.dropped_out_at IS NOT NULL AND t.dropped_out_at < CAST(u.enrolled_on AS TIMESTAMP) AS gone,
       CAST(COALESCE(v.usual, 0) AS DOUBLE PRECISION) AS usual,
       (c.email IS NOT NULL AND COALESCE(c.email_consent, FALSE))
           OR (c.phone IS NOT NULL AND COALESCE(c.sms_consent, FALSE)) AS reachable,
       CAST(COALESCE((SELECT SUM(p.revenue) FROM purchases AS p WHERE p.customer_id = u.customer_id
                      AND p.placed_at < CAST(u.enrolled_on AS TIMESTAMP)
                      AND p.placed_at >= CAST(u.enrolled_on AS TIMESTAMP) - INTERVAL '365 days'), 0)
            AS DOUBLE PRECISION) AS before
FROM units AS u JOIN generator_truth AS t ON t.customer_id = u.customer_id
JOIN customers AS c ON c.customer_id = u.customer_id
LEFT JOIN (SELECT customer_id, AVG(revenue) AS usual FROM purchases WHERE order_id NOT LIKE 'SIM-%'
           GROUP BY customer_id) AS v ON v.customer_id = u.customer_id
ORDER BY u.customer_id
"""


def population(store: Store, playbook: str) -> pd.DataFrame:
    """The customers who entered ``playbook`` (each once, at their first entry), with their truth."""
    people = store.fetch_arrow(_POPULATION, (playbook,)).to_pandas()
    known = people["usual"] > 0
    people.loc[~known, "usual"] = people.loc[known, "usual"].mean() if known.any() else 50.0
    return people


@dataclass(frozen=True)
class Treatment:
    """What a playbook does to a treated customer it reaches: ``kind`` (synth.responses.KINDS), the share
    its offer gives away, its window, and whether it needs consent to reach (a manager's call does not)."""

    playbook: str
    kind: str
    offer_rate: float
    window_days: int
    needs_consent: bool = True
    others: str | None = None  # what the other arm gets: nothing (a holdout), or ``message`` (an offer test)


@dataclass(frozen=True)
class Replication:
    """One replication's measured figures (``compare``'s: difference, low, high, verdict, ...) and the
    true difference (the mean effect per enrolled customer)."""

    figures: dict
    true_difference: float

    @property
    def covered(self) -> bool:
        return self.figures["low"] <= self.true_difference <= self.figures["high"]

    @property
    def significant(self) -> bool:
        return self.figures["verdict"] in ("added", "lost")


def replicate(people: pd.DataFrame, treatment: Treatment, number: int, share: float = 0.5, seed: int = 0,
              units: int | None = None) -> Replication:
    """Replication ``number``: new arms (salt ``replication-<number>``), new orders, the estimate and the
    truth. With ``units``, the replication's customers are drawn (with replacement) from ``people``: a
    shop of that size with the same mix of customers, for playbooks the simulated shop gave few."""
    drawn = _drawn(people, treatment, number, share, seed, units)
    people, revenue, treated = drawn["people"], drawn["revenue"], drawn["treated"]
    measured = compare(revenue, people["before"].to_numpy(float), treated, share)
    return Replication(figures=measured, true_difference=drawn["true_difference"])


def _drawn(people: pd.DataFrame, treatment: Treatment, number: int, share: float, seed: int,
           units: int | None) -> dict:
    """The units of replication ``number`` (drawn from ``people`` when ``units`` is given), their arms,
    their revenue in the window, and the true difference (see ``replicate``)."""
    rng = np.random.default_rng([seed, number])
    if units is not None:  # a shop of ``units`` customers with this playbook's mix, each a new unit
        people = people.iloc[rng.integers(0, len(people), units)].reset_index(drop=True)
        people = people.assign(source_id=people["customer_id"])
        people = people.assign(customer_id=np.arange(1, units + 1))
    elif "source_id" not in people:
        people = people.assign(source_id=people["customer_id"])
    ids = people["customer_id"].to_numpy()
    salt = f"replication-{number}"
    treated = np.array([arm(treatment.playbook, int(c), share, salt) != HOLDOUT for c in ids])
    reached = people["reachable"].to_numpy(bool) if treatment.needs_consent else np.ones(len(ids), bool)
    gone = people["gone"].to_numpy(bool)
    usual = people["usual"].to_numpy(float)
    kind = np.full(len(ids), treatment.kind, object)
    chance = responses.response_chance(people["buyer_type"].to_numpy(object), kind, gone,
                                       np.full(len(ids), treatment.playbook, object))
    anyway = responses.orders_anyway(people["rate"], people["dropout"], gone, np.full(len(ids), treatment.window_days))
    effect = responses.true_effect(chance, usual, np.full(len(ids), treatment.offer_rate), anyway)
    other = np.zeros(len(ids))
    if treatment.others is not None:  # the other arm's own response, taken off the effect
        other = responses.response_chance(people["buyer_type"].to_numpy(object),
                                          np.full(len(ids), treatment.others, object), gone,
                                          np.full(len(ids), treatment.playbook, object))
        effect = effect - other * usual
    exposed = treated & reached
    revenue = _bought_anyway(rng, people, gone, treatment.window_days) * np.where(exposed, 1 - treatment.offer_rate, 1)
    responded = reached & (rng.random(len(ids)) < np.where(treated, chance, other))
    brought = np.where(responded, responses.basket_values(rng, usual) * np.where(exposed, 1 - treatment.offer_rate, 1),
                       0.0)
    return {"people": people, "treated": treated, "revenue": revenue + brought,
            "true_difference": float(np.where(reached, effect, 0.0).mean())}


def _bought_anyway(rng: np.random.Generator, people: pd.DataFrame, gone: np.ndarray, days: int) -> np.ndarray:
    """Revenue from the orders each customer places anyway in the window: Poisson(λ W) orders, cut at
    the first dropout (the process of synth.timing), each of a basket value around the usual one."""
    count = np.minimum(rng.poisson(people["rate"].to_numpy() * days),
                       rng.geometric(np.clip(people["dropout"].to_numpy(), 1e-9, 1.0)))
    count = np.where(gone, 0, count)
    usual = np.repeat(people["usual"].to_numpy(float), count)
    totals = np.zeros(len(people))
    np.add.at(totals, np.repeat(np.arange(len(people)), count), responses.basket_values(rng, usual))
    return totals


def experiment_units(people: pd.DataFrame, treatment: Treatment, number: int, share: float = 0.5, seed: int = 0,
                     units: int | None = None) -> pd.DataFrame:
    """A past experiment of ``treatment`` drawn as ``replicate`` draws it: one row per unit with its
    ``source_id`` (the customer it copies), ``arm`` and ``outcome`` (revenue in the window): what an
    offer model learns from (retainly.experiments.targeting)."""
    drawn = _drawn(people, treatment, number, share, seed, units)
    return pd.DataFrame({"source_id": drawn["people"]["source_id"].to_numpy(),
                         "arm": np.where(drawn["treated"], "treatment", HOLDOUT), "outcome": drawn["revenue"]})


def expected_profit(people: pd.DataFrame, offered: np.ndarray, treatment: Treatment, margin: float,
                    contact_cost: float) -> float:
    """The known truth's expected profit in the window over ``people`` when those ``offered`` get the
    message with its offer and the others the message without it: margin on the gross revenue, less the
    discount paid on all of an offered customer's revenue, less the contacts (reached customers only)."""
    gone = people["gone"].to_numpy(bool)
    usual = people["usual"].to_numpy(float)
    buyer_type, playbook = people["buyer_type"].to_numpy(object), np.full(len(people), treatment.playbook, object)
    anyway = responses.orders_anyway(people["rate"], people["dropout"], gone,
                                     np.full(len(people), treatment.window_days))
    reached = people["reachable"].to_numpy(bool) if treatment.needs_consent else np.ones(len(people), bool)
    offered = np.asarray(offered, bool) & reached
    kind = np.where(offered, "offer", "message").astype(object)
    chance = np.where(reached, responses.response_chance(buyer_type, kind, gone, playbook), 0.0)
    gross = usual * (anyway + chance)
    given = np.where(offered, treatment.offer_rate * gross, 0.0)
    return float((margin * gross - given - np.where(reached, contact_cost, 0.0)).sum())
