"""A generated shop that lives on: day by day, customers buy, retainly acts, customers respond.

Each simulated day, in order:

1. **Orders arrive.** Every customer still buying (``generator_truth``: no ``dropped_out_at``)
   places Poisson(λ) orders that day and drops out after each with chance p, as the generated
   history did (synth.timing); new customers arrive at the pace of the history's last 90 days,
   each a copy of a random customer's type and process; and the extra orders that messages
   brought fall due (synth.responses). An order placed while the customer holds an offer is
   discounted by it. The day's orders are one import (ledger kind ``simulated``).
2. **retainly acts.** ``act(day)`` is called: ``retainly run`` as of the day.
3. **Customers hear it.** Every message or task delivered and not yet answered gets its known
   true effect and a draw of whether and when it brings an order (``simulated_responses``).

All the random draws come from ``numpy.random.default_rng((seed, day))``, so a day's draws do not
depend on how many days were simulated before it in one go. The order a message brings is
drawn once, at delivery, and kept in the store, so the simulation can be stopped and continued.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from retainly.ingest.batch import Batch
from retainly.ingest.load import LedgerEntry, load_batch, record_entry
from retainly.store.backends import Store, repeated
from retainly.synth import responses

KIND = "simulated"
PREFIX = "SIM-"
HISTORY_DAYS = 90  # new customers arrive at the pace of the history's last 90 days
DAY_START_SECONDS, DAY_SECONDS = 8 * 3600, 14 * 3600  # orders fall between 08:00 and 22:00


@dataclass(frozen=True)
class SimulatedDay:
    """What one day brought."""

    day: date
    orders: int  # placed that day, all kinds
    response_orders: int  # of them, brought by a message
    new_customers: int
    delivered: int  # messages and tasks delivered that day that customers now respond to
    true_effect: float  # the expected revenue those deliveries add (synth.responses)


def generated(store: Store) -> bool:
    """Whether the store holds a generated shop with its known truth (the simulator needs it)."""
    return bool(store.fetchone("SELECT COUNT(*) FROM generator_truth")[0])


def next_day(store: Store, after: date) -> date:
    """The first day not yet simulated: the day after the last simulated one, else after ``after``."""
    row = store.fetchone("SELECT MAX(source) FROM imports WHERE kind = ?", (KIND,))
    return date.fromisoformat(row[0].rsplit(" ", 1)[-1]) + timedelta(days=1) if row and row[0] else after


def simulate_day(store: Store, day: date, seed: int, act: Callable[[date], object],
                 windows: dict[str, int], offer_rate: Callable[[str | None], float]) -> SimulatedDay:
    """Simulate ``day`` (see the module doc). ``windows``: each playbook's goal days;
    ``offer_rate``: the share of revenue an offer's text gives away."""
    rng = np.random.default_rng([seed, day.toordinal()])
    people = _people(store)
    with store.transaction():
        batch, counts = _orders_of(store, rng, people, day)
        ledger = LedgerEntry(kind=KIND, source=f"simulated day {day.isoformat()}", preset="simulator",
                             content_hash=hashlib.sha256(f"simulate:{seed}:{day}".encode()).hexdigest(),
                             options="{}", rows_read=batch.row_count(), rows_accepted=batch.row_count(),
                             rows_rejected=0, started_at=datetime.now().replace(microsecond=0))
        if batch.row_count():
            load_batch(store, batch, ledger)
        else:
            record_entry(store, ledger)
        _mark_dropouts(store, counts.pop("dropped"), day)
        for order_id, key in counts.pop("answers"):  # the order each message brought, named in its record
            store.execute("UPDATE simulated_responses SET order_id = ? WHERE outbox_key = ?", (order_id, key))
    act(day)
    delivered, effect = _respond(store, rng, _people(store), day, windows, offer_rate)
    return SimulatedDay(day=day, delivered=delivered, true_effect=round(effect, 2), **counts)


_PEOPLE = """
SELECT c.customer_id, c.external_id, t.buyer_type, t.purchase_rate AS rate, t.dropout_probability AS dropout,
       t.dropped_out_at IS NOT NULL AS gone, CAST(COALESCE(v.usual, 0) AS DOUBLE PRECISION) AS usual
FROM generator_truth AS t JOIN customers AS c ON c.customer_id = t.customer_id
LEFT JOIN (SELECT customer_id, AVG(revenue) AS usual FROM purchases WHERE order_id NOT LIKE 'SIM-%'
           GROUP BY customer_id) AS v ON v.customer_id = t.customer_id
WHERE c.customer_id NOT IN (SELECT customer_id FROM erasures) ORDER BY c.customer_id
"""


def _people(store: Store) -> pd.DataFrame:
    """Every generated customer with their truth and usual order value (the shop's mean where unknown)."""
    people = store.fetch_arrow(_PEOPLE).to_pandas()
    known = people["usual"] > 0
    people.loc[~known, "usual"] = people.loc[known, "usual"].mean() if known.any() else 50.0
    return people


def _orders_of(store: Store, rng: np.random.Generator, people: pd.DataFrame, day: date) -> tuple[Batch, dict]:
    """The day's orders: bought anyway, brought by messages, and new customers' first ones."""
    alive = people[~people["gone"]]
    wanted = rng.poisson(alive["rate"].to_numpy())
    # Each order is followed by a dropout draw: the orders placed are those up to the first dropout.
    until_dropout = rng.geometric(np.clip(alive["dropout"].to_numpy(), 1e-9, 1.0))
    placed = np.minimum(wanted, until_dropout)
    buyers = alive.loc[np.repeat(alive.index.to_numpy(), placed)]
    dropped = alive["customer_id"].to_numpy()[(wanted > 0) & (until_dropout <= wanted)]
    values = responses.basket_values(rng, buyers["usual"].to_numpy())
    rates = _offer_held(store, buyers["customer_id"].to_numpy(), day)
    anyway = pd.DataFrame({"customer_ref": buyers["external_id"].to_numpy(), "value": values * (1 - rates),
                           "given": values * rates})

    due = store.fetch_arrow(
        "SELECT s.outbox_key, c.external_id, CAST(s.order_value AS DOUBLE PRECISION) AS value, s.offer_rate "
        "FROM simulated_responses AS s JOIN customers AS c ON c.customer_id = s.customer_id "
        "WHERE s.responds_on = ? AND s.order_id IS NULL "
        "AND c.customer_id NOT IN (SELECT customer_id FROM erasures) ORDER BY s.outbox_key",
        (day,)).to_pandas()
    brought = pd.DataFrame({"customer_ref": due["external_id"], "value": due["value"],
                            "given": due["value"] * due["offer_rate"] / (1 - due["offer_rate"])})

    newcomers, first = _newcomers(store, rng, people, day)
    frames = [anyway, brought, first]
    orders = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else None
    counts = {"orders": 0 if orders is None else len(orders), "response_orders": len(brought),
              "new_customers": 0 if newcomers is None else len(newcomers), "dropped": dropped, "answers": []}
    if orders is None:
        return Batch(), counts
    ids = [f"{PREFIX}{day:%Y%m%d}-{n + 1:05d}" for n in range(len(orders))]
    seconds = np.sort(rng.integers(DAY_START_SECONDS, DAY_START_SECONDS + DAY_SECONDS, len(orders)))
    placed_at = pd.Timestamp(day) + pd.to_timedelta(seconds, unit="s")
    counts["answers"] = list(zip(ids[len(anyway):len(anyway) + len(due)], due["outbox_key"]))
    skus = store.fetch_arrow("SELECT sku FROM products ORDER BY sku")["sku"].to_pylist() or [None]
    given = orders["given"].to_numpy()
    batch = Batch(
        customers=newcomers,
        truth=None if newcomers is None else newcomers.attrs["truth"],
        orders=pd.DataFrame({"order_id": ids, "customer_ref": orders["customer_ref"], "placed_at": placed_at,
                             "status": "completed", "currency": "EUR", "channel": "online",
                             "promo_code": np.where(given > 0.005, "SIM-OFFER", None)}),
        lines=pd.DataFrame({"order_id": ids, "line_no": 1, "sku": rng.choice(np.array(skus, object), len(ids)),
                            "quantity": 1, "unit_price": orders["value"].round(2), "discount": np.round(given, 2),
                            "amount": orders["value"].round(2), "kind": "merchandise"}),
        notes=[f"simulated day {day}"])
    return batch, counts


def _offer_held(store: Store, customer_ids: np.ndarray, day: date) -> np.ndarray:
    """The share each buyer's best offer still running on ``day`` gives away (0 without one)."""
    if not len(customer_ids):
        return np.zeros(0)
    held = store.fetch_arrow(
        "SELECT customer_id, MAX(offer_rate) AS rate FROM simulated_responses WHERE offer_rate > 0 AND "
        "delivered_on <= ? AND delivered_on + window_days > ? GROUP BY customer_id", (day, day)).to_pandas()
    rates = dict(zip(held["customer_id"], held["rate"]))
    return np.array([rates.get(int(c), 0.0) for c in customer_ids], float)


_TEMPLATE_COLUMNS = ("name", "phone", "gender", "birthday", "country", "city", "acquisition_channel",
                     "email_consent", "sms_consent", "postal_code", "ads_consent")


def _newcomers(store: Store, rng: np.random.Generator, people: pd.DataFrame,
               day: date) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """New customers of the day (each a copy of a random customer's profile, type and process, under a
    new id and address) and their first orders; their truth travels in the frame's ``attrs``."""
    start = datetime.combine(day - timedelta(days=HISTORY_DAYS), datetime.min.time())
    row = store.fetchone("SELECT COUNT(*) FROM (SELECT customer_id FROM purchases WHERE customer_id IS NOT NULL "
                         "GROUP BY customer_id HAVING MIN(placed_at) >= ? AND MIN(placed_at) < ?) AS f",
                         (start, datetime.combine(day, datetime.min.time())))
    count = int(rng.poisson(row[0] / HISTORY_DAYS)) if len(people) else 0
    if not count:
        return None, pd.DataFrame()
    chosen = people.iloc[rng.integers(0, len(people), count)].reset_index(drop=True)
    ids = ", ".join(str(int(c)) for c in chosen["customer_id"])
    profile = store.fetch_arrow(f"SELECT customer_id, {', '.join(_TEMPLATE_COLUMNS)} FROM customers "
                                f"WHERE customer_id IN ({ids})").to_pandas().set_index("customer_id")
    profile = profile.loc[chosen["customer_id"]].reset_index(drop=True)
    refs = [f"{PREFIX}C{day:%Y%m%d}-{n + 1:04d}" for n in range(count)]
    seen = pd.Timestamp(day) + pd.Timedelta(hours=8)
    given = {f"{channel}_consent_at": pd.Series(seen, index=profile.index).where(
        profile[f"{channel}_consent"].fillna(False).astype(bool)) for channel in ("email", "sms", "ads")}
    # A number of their own under the copied one's country code (a copied number would be shared).
    phones = [None if pd.isna(phone) else f"{str(phone).split(' ', 1)[0]} 19{day:%y%m%d}{n + 1:04d}"
              for n, phone in enumerate(profile["phone"])]
    customers = profile.assign(external_id=refs, email=[f"{ref.lower()}@example.com" for ref in refs],
                               phone=phones, first_seen_at=seen, **given)
    customers.attrs["truth"] = pd.DataFrame({
        "customer_ref": refs, "buyer_type": chosen["buyer_type"], "purchase_rate": chosen["rate"],
        "dropout_probability": chosen["dropout"], "dropped_out_at": pd.NaT})
    first = pd.DataFrame({"customer_ref": refs, "value": responses.basket_values(rng, chosen["usual"].to_numpy()),
                          "given": 0.0})
    return customers, first


def _mark_dropouts(store: Store, customer_ids: np.ndarray, day: date) -> None:
    """Customers who dropped out after an order of ``day`` stop buying from then on."""
    if len(customer_ids):
        ids = ", ".join(str(int(c)) for c in customer_ids)
        store.execute(f"UPDATE generator_truth SET dropped_out_at = ? WHERE customer_id IN ({ids})",
                      (datetime.combine(day, datetime.min.time()) + timedelta(hours=20),))


_DELIVERED = """
SELECT o.key, o.playbook, o.customer_id, o.payload FROM outbox AS o
LEFT JOIN simulated_responses AS s ON s.outbox_key = o.key
WHERE o.status = 'sent' AND s.outbox_key IS NULL ORDER BY o.key
"""


def _respond(store: Store, rng: np.random.Generator, people: pd.DataFrame, day: date, windows: dict[str, int],
             offer_rate: Callable[[str | None], float]) -> tuple[int, float]:
    """Record each message or task delivered and not yet answered: its true effect, and whether and
    when it brings an order (drawn now, kept in ``simulated_responses``)."""
    found = store.fetch_arrow(_DELIVERED).to_pandas()
    payloads = dict(zip(found["key"], (json.loads(text) for text in found["payload"])))
    keep = np.array([payloads[key].get("action") in ("message", "task") for key in found["key"]], bool)
    found = found[keep].merge(people, on="customer_id", how="inner")  # customers the generator knows
    if found.empty:
        return 0, 0.0
    offers = [payloads[key].get("offer") for key in found["key"]]
    rate = np.array([offer_rate(offer) if offer else 0.0 for offer in offers], float)
    kind = responses.message_kind(np.array([payloads[key]["action"] for key in found["key"]], object), rate > 0)
    window = np.array([windows.get(name, 30) for name in found["playbook"]], np.int64)
    gone = found["gone"].to_numpy(bool)
    chance = responses.response_chance(found["buyer_type"].to_numpy(object), kind, gone,
                                       found["playbook"].to_numpy(object))
    usual = found["usual"].to_numpy(float)
    anyway = responses.orders_anyway(found["rate"].to_numpy(), found["dropout"].to_numpy(), gone, window)
    effect = responses.true_effect(chance, usual, rate, anyway)
    responds = rng.random(len(found)) < chance
    lag = 1 + rng.integers(0, np.maximum(1, np.minimum(responses.RESPONSE_DAYS, window - 1)))
    value = responses.basket_values(rng, usual) * (1 - rate)
    rows = pa.table({
        "outbox_key": pa.array(found["key"], pa.string()), "customer_id": pa.array(found["customer_id"], pa.int64()),
        "playbook": pa.array(found["playbook"], pa.string()), "delivered_on": repeated(day, pa.date32(), len(found)),
        "window_days": pa.array(window, pa.int32()), "kind": pa.array(kind.astype(str), pa.string()),
        "offer_rate": pa.array(rate, pa.float64()), "true_effect": pa.array(effect, pa.float64()),
        "responds_on": pa.array([day + timedelta(days=int(d)) if r else None for r, d in zip(responds, lag)],
                                pa.date32()),
        "order_value": pa.array(np.where(responds, np.round(value, 2), np.nan), pa.float64(), mask=~responds),
        "order_id": pa.nulls(len(found), pa.string())})
    with store.transaction():
        store.insert_arrow("simulated_responses", rows)
    return len(found), float(effect.sum())


_TRUTH = """
SELECT e.playbook, SUM(s.true_effect) AS true_effect
FROM simulated_responses AS s JOIN outbox AS o ON o.key = s.outbox_key
JOIN enrolments AS e ON e.playbook = o.playbook AND e.customer_id = o.customer_id AND e.occurrence = o.occurrence
WHERE e.enrolled_on + ? <= ? GROUP BY e.playbook ORDER BY e.playbook
"""


def true_effects(store: Store, window_days: int, as_of: date) -> dict[str, float]:
    """Per playbook, the summed true effects of what reached its treated customers whose window of
    ``window_days`` ended by ``as_of``: what its incremental revenue should be (an offer's cost is
    counted over the playbook's own goal window)."""
    return {name: float(total) for name, total in store.fetchall(_TRUTH, (int(window_days), as_of))}
