"""Offers only where they pay: an uplift learner on a playbook's own randomized offer test
(docs/experiments.md, "Offers where they pay").

**Features** (``features``): per customer, from purchases placed before the day only (the day's
own orders belong to the outcome window of an enrolment on that day): revenue and orders in the
365 days before, orders ever, days since the last and the first order, mean order value and the
share of orders with a promo code. A customer without orders has 0 revenue and orders and nulls
(NaN) elsewhere, which the gradient boosting handles as missing.

**The offer test.** Treated and held-out customers tell what the *message with its offer* adds to
nothing; whether to give the offer is a different question: what the offer adds to the message
the customer gets anyway. So a targeted playbook keeps a randomized test inside its treated arm:
a salted hash of (playbook, customer) puts ``offer_test_share`` of them (predicted hit-and-run
buyers apart) in the test, half of it offered and half not, whatever the model says
(``test_groups``). Their decisions are stored with the model words ``TEST_OFFERED`` or
``TEST_NOT_OFFERED``.

**Units** (``training_units``): the playbook's treated enrolments in the offer test whose goal
window has ended, offered or not, the features as of each one's day, and the outcome of
retainly.experiments.measure: revenue less returns in [entered, entered + goal_days).

**Learner.** One gradient-boosted regression of the outcome on the features and whether the offer
was given (an S-learner; shallow trees, a fixed seed); μ1 and μ0 are its predictions with and
without the offer. With d the share an offer gives away, μ1 is revenue as orders record it
(after the discount), so the gross is G1 = μ1 / (1 − d) and G0 = μ0. Per customer:
gain = margin × (G1 − G0) − d × G1 (the discount is paid on all the customer's revenue, not just
the uplift; the message goes either way, so its cost does not enter); cost = d × G1; the offer
is given where gain ≥ 0.01 (a cent), never to a predicted hit-and-run buyer. With fewer than
``min_per_arm`` ended test units offered or not offered, the model is the default: everyone in
the playbook outside the test but predicted hit-and-run buyers gets the offer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from retainly.playbooks import saved
from retainly.playbooks.enrol import hash_bands
from retainly.playbooks.definition import Playbook
from retainly.settings import ExperimentSettings
from retainly.store.backends import Store

FEATURES = ("revenue_365", "orders_365", "orders", "days_since_last", "days_since_first", "mean_order_value",
            "promo_share")
HIT_AND_RUN = "predicted hit-and-run buyer"
MIN_GAIN = 0.01  # the least expected gain an offer is given for
TEST_OFFERED = "offer test: offered at random"
TEST_NOT_OFFERED = "offer test: not offered, at random"
MAX_UNITS_PER_ARM = 200_000  # more adds little to a shallow model and only time: the latest are kept
_RATE = re.compile(r"(\d+(?:[.,]\d+)?)\s*%")


def offer_rate(offer: str | None, default: float) -> float:
    """The share of revenue an offer gives away: its first "N %" ("10 % off" → 0.10), else ``default``
    (free shipping, a gift: ``[experiments] offer_cost``)."""
    found = _RATE.search(offer or "")
    if found:
        share = float(found.group(1).replace(",", ".")) / 100
        if 0 < share < 1:
            return share
    return default


def _features_sql(keys: str) -> str:
    """CTEs ending in ``features`` (customer_id, as_of, FEATURES as DOUBLE PRECISION) for the
    (customer_id, as_of) pairs of the relation ``keys``: purchases placed before each as_of only."""
    start, year = "CAST(k.as_of AS TIMESTAMP)", "CAST(k.as_of AS TIMESTAMP) - INTERVAL '365 days'"
    return f"""keys AS (SELECT DISTINCT customer_id, as_of FROM {keys}),
past AS (
    SELECT k.customer_id, k.as_of,
           SUM(CASE WHEN p.placed_at >= {year} THEN p.revenue ELSE 0 END) AS revenue_365,
           SUM(CASE WHEN p.placed_at >= {year} THEN 1 ELSE 0 END) AS orders_365,
           COUNT(*) AS orders,
           MIN(k.as_of - CAST(p.placed_at AS DATE)) AS days_since_last,
           MAX(k.as_of - CAST(p.placed_at AS DATE)) AS days_since_first,
           AVG(p.revenue) AS mean_order_value,
           AVG(CASE WHEN COALESCE(p.promo_code, '') <> '' THEN 1.0 ELSE 0.0 END) AS promo_share
    FROM keys AS k JOIN purchases AS p ON p.customer_id = k.customer_id AND p.placed_at < {start}
    GROUP BY k.customer_id, k.as_of
), features AS (
    SELECT k.customer_id, k.as_of,
           CAST(COALESCE(f.revenue_365, 0) AS DOUBLE PRECISION) AS revenue_365,
           CAST(COALESCE(f.orders_365, 0) AS DOUBLE PRECISION) AS orders_365,
           CAST(COALESCE(f.orders, 0) AS DOUBLE PRECISION) AS orders,
           CAST(f.days_since_last AS DOUBLE PRECISION) AS days_since_last,
           CAST(f.days_since_first AS DOUBLE PRECISION) AS days_since_first,
           CAST(f.mean_order_value AS DOUBLE PRECISION) AS mean_order_value,
           CAST(f.promo_share AS DOUBLE PRECISION) AS promo_share
    FROM keys AS k LEFT JOIN past AS f ON f.customer_id = k.customer_id AND f.as_of = k.as_of
)"""


def features(store: Store, customer_ids, as_of: date) -> pa.Table:
    """Per distinct customer of ``customer_ids`` (ascending): customer_id and ``FEATURES``, from the
    purchases placed before ``as_of`` (see the module doc)."""
    ids = np.unique(np.asarray(customer_ids, np.int64))
    days = pa.array(np.full(len(ids), np.datetime64(as_of, "D")), pa.date32())
    keys = pa.table({"customer_id": pa.array(ids, pa.int64()), "as_of": days})
    columns = ", ".join(f"f.{name}" for name in FEATURES)
    with store.staged(keys) as staged:
        quoted = f'"{staged}"'
        return store.fetch_arrow(f"WITH {_features_sql(quoted)} "
                                 f"SELECT f.customer_id, {columns} FROM features AS f ORDER BY f.customer_id")


def training_units(store: Store, playbook: str, window_days: int, as_of: date) -> pa.Table:
    """The ended enrolments of ``playbook`` (module doc): customer_id, occurrence, enrolled_on, arm,
    ``FEATURES`` as of the day of entry, and ``outcome`` (revenue less returns in the window)."""
    days, interval = int(window_days), f"INTERVAL '{int(window_days)} days'"
    start = "CAST(k.as_of AS TIMESTAMP)"
    units = ("(SELECT DISTINCT e.customer_id, e.occurrence, e.enrolled_on AS as_of, "
             "CASE WHEN d.offered THEN 'treatment' ELSE 'holdout' END AS arm FROM enrolments AS e "
             "JOIN offer_decisions AS d ON d.playbook = e.playbook AND d.customer_id = e.customer_id "
             f"AND d.occurrence = e.occurrence WHERE e.playbook = ? AND e.enrolled_on + {days} <= ? "
             f"AND e.arm = 'treatment' AND d.model IN ('{TEST_OFFERED}', '{TEST_NOT_OFFERED}'))")
    sql = f"""WITH units AS {units}, {_features_sql("units")},
bought AS (
    SELECT k.customer_id, k.as_of, SUM(p.revenue) AS revenue
    FROM keys AS k JOIN purchases AS p ON p.customer_id = k.customer_id
        AND p.placed_at >= {start} AND p.placed_at < {start} + {interval}
    GROUP BY k.customer_id, k.as_of
), returned AS (
    SELECT k.customer_id, k.as_of, SUM(r.amount) AS amount
    FROM keys AS k JOIN returns AS r ON r.customer_id = k.customer_id
        AND r.returned_at >= {start} AND r.returned_at < {start} + {interval}
    GROUP BY k.customer_id, k.as_of
)
SELECT u.customer_id, u.occurrence, u.as_of AS enrolled_on, u.arm, {", ".join(f"f.{n}" for n in FEATURES)},
       CAST(COALESCE(b.revenue, 0) - COALESCE(r.amount, 0) AS DOUBLE PRECISION) AS outcome
FROM units AS u
JOIN features AS f ON f.customer_id = u.customer_id AND f.as_of = u.as_of
LEFT JOIN bought AS b ON b.customer_id = u.customer_id AND b.as_of = u.as_of
LEFT JOIN returned AS r ON r.customer_id = u.customer_id AND r.as_of = u.as_of
ORDER BY u.as_of, u.customer_id, u.occurrence"""
    return store.fetch_arrow(sql, (playbook, as_of))


def matrix(table: pa.Table) -> np.ndarray:
    """The ``FEATURES`` columns of ``table`` as a float matrix (null: NaN)."""
    if not table.num_rows:
        return np.zeros((0, len(FEATURES)))
    return np.column_stack([table[name].to_numpy(zero_copy_only=False).astype(float) for name in FEATURES])


@dataclass(frozen=True)
class Decisions:
    """One decision per row of the features given to ``OfferModel.decide``; money in the window.

    ``expected_with``: revenue expected with the offer, as orders record it (after the discount);
    ``expected_without``: without it; ``expected_gain`` and ``expected_cost`` as in the module doc
    (NaN, all four, under the default). ``withheld``: why not offered (None where offered)."""

    customer_id: np.ndarray
    offered: np.ndarray
    expected_with: np.ndarray
    expected_without: np.ndarray
    expected_gain: np.ndarray
    expected_cost: np.ndarray
    withheld: np.ndarray
    model: str


@dataclass(frozen=True)
class OfferModel:
    """μ1 and μ0 of one playbook as of a day, or the default when there were too few units."""

    playbook: str
    as_of: date
    offered: int  # ended units of the offer test, offered and not
    not_offered: int
    needed: int
    margin: float
    regressor: object | None = None  # the outcome on FEATURES and the offer; None under the default

    @property
    def fitted(self) -> bool:
        return self.regressor is not None

    @property
    def text(self) -> str:
        """What decided, in words (stored with every decision)."""
        if not self.fitted:
            return (f"default: {self.offered:,} offered and {self.not_offered:,} not offered in the offer test "
                    f"have ended; targeting needs {self.needed:,} of each")
        return (f"uplift learner (gradient boosting) on the offer test's {self.offered:,} offered and "
                f"{self.not_offered:,} not offered, ended by {self.as_of.isoformat()}")

    def expected(self, found: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """μ1 and μ0 for each row of ``found`` (``FEATURES``)."""
        x = matrix(found)
        if not self.fitted or not len(x):
            return np.full(len(x), np.nan), np.full(len(x), np.nan)
        with _threads(len(x)):
            return (self.regressor.predict(np.column_stack([x, np.ones(len(x))])),
                    self.regressor.predict(np.column_stack([x, np.zeros(len(x))])))

    def decide(self, found: pa.Table, rate: float, hit_and_run: np.ndarray | None = None) -> Decisions:
        """The decision for each row of ``found`` (``features``) for an offer giving away ``rate``;
        ``hit_and_run``: rows whose customer is predicted a hit-and-run buyer (never offered)."""
        count = found.num_rows
        hit = np.zeros(count, bool) if hit_and_run is None else np.asarray(hit_and_run, bool)
        mu1, mu0 = self.expected(found)
        gross = mu1 / max(1.0 - rate, 1e-9)
        gain = self.margin * (gross - mu0) - rate * gross
        cost = rate * gross
        # At least a cent: a customer who will not buy either way has a gain of zero, which a model's
        # noise would otherwise turn into offers half the time.
        pays = gain >= MIN_GAIN if self.fitted else np.ones(count, bool)
        offered = pays & ~hit
        withheld = np.full(count, None, object)
        withheld[hit] = HIT_AND_RUN
        unpaid = np.flatnonzero(~pays & ~hit)
        if len(unpaid):
            withheld[unpaid] = np.char.add(np.char.add("not expected to pay (expected gain ",
                                                       np.char.mod("%.2f", gain[unpaid])), ")").astype(object)
        ids = found["customer_id"].to_numpy() if count else np.zeros(0, np.int64)
        return Decisions(ids, offered, mu1, mu0, gain, cost, withheld, self.text)


def _regressor(units: int):
    from sklearn.ensemble import HistGradientBoostingRegressor  # imported when used: it slows every CLI start

    # One model of both groups, the offer a feature (an S-learner): the groups share most of what
    # predicts spend, and two separate fits (a T-learner) put their noise into the difference,
    # which decides (on the simulated shop the S-learner earned more, docs/simulation.md).
    # Poisson loss: spend is zero for most customers, and a group that never buys is then predicted
    # near 0 rather than at the noise of a squared-error fit. Trees of depth 3 (the offer's
    # interactions), leaves of a tenth of the units (5 to 50): a few hundred units must not be
    # overfitted. No early stopping, whose random validation split would make a refit differ.
    return HistGradientBoostingRegressor(loss="poisson", max_depth=3, learning_rate=0.05, max_iter=200,
                                         min_samples_leaf=int(np.clip(units // 10, 5, 50)), l2_regularization=1.0,
                                         early_stopping=False, random_state=0)


class _Nothing:
    """The model when nobody bought in the window (Poisson needs some spend): 0 for everyone."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(len(x))


def _threads(rows: int):
    """One thread for small data: OpenMP's start-up and spinning cost more than they save there
    (seconds, on a busy machine), while a large fit or prediction still uses every core."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1 if rows < 50_000 else None)


def from_units(units: pa.Table, playbook: str, as_of: date, settings: ExperimentSettings) -> OfferModel:
    """The model fitted on ``units`` (``training_units``' columns arm: ``treatment`` offered, ``holdout``
    not; ``FEATURES``; outcome), or the default when either has fewer than ``settings.min_per_arm``."""
    arm = np.asarray(units["arm"].to_pylist(), object) if units.num_rows else np.zeros(0, object)
    offered, held = np.flatnonzero(arm == "treatment"), np.flatnonzero(arm == "holdout")
    model = OfferModel(playbook, as_of, len(offered), len(held), settings.min_per_arm, settings.margin)
    if len(offered) < settings.min_per_arm or len(held) < settings.min_per_arm:
        return model
    keep = np.sort(np.concatenate([offered[-MAX_UNITS_PER_ARM:], held[-MAX_UNITS_PER_ARM:]]))  # in order of entry
    x = np.column_stack([matrix(units)[keep], (arm[keep] == "treatment").astype(float)])
    y = np.maximum(units["outcome"].to_numpy(zero_copy_only=False).astype(float)[keep], 0.0)  # Poisson: no refunds
    with _threads(len(keep)):
        regressor = _regressor(len(keep)).fit(x, y) if y.sum() > 0 else _Nothing()
    return OfferModel(playbook, as_of, len(offered), len(held), settings.min_per_arm, settings.margin, regressor)


def fit(store: Store, playbook: Playbook | str, as_of: date, settings: ExperimentSettings) -> OfferModel:
    """``playbook``'s model as of ``as_of``: fitted on its enrolments whose goal window ended by then."""
    book = saved.get(store, playbook) if isinstance(playbook, str) else playbook
    return from_units(training_units(store, book.name, book.goal_days, as_of), book.name, as_of, settings)


def test_groups(store: Store, playbook: str, customer_ids: np.ndarray, share: float) -> np.ndarray:
    """Each customer's place in ``playbook``'s offer test: 1 offered, 2 not offered (``share`` / 2 each,
    by a salted hash of playbook and customer independent of the arm's), 0 outside it."""
    band = hash_bands(store, f"offer-test\x1e{playbook}\x1e", np.asarray(customer_ids, np.int64), (share / 2, share))
    return np.array([1, 2, 0], np.int8)[band]
