"""What a run knows of the customers it plans for, as columns, read in one query.

Two kinds of fact, for every customer with a step due:

* how to reach them: contacts, consents, suppressions and the preferred channel, which choose
  each row's channel by the same rules as the send-time check (retainly.messaging.consent);
* what a message may say of them (``CONTEXT``): the shop's id, names, stage, buyer type, the
  first product to offer and the first product due, each with its page, picture and price
  (retainly.playbooks.payloads).

A run plans up to millions of rows, so nothing here makes an object per customer. A channel is
chosen once per *reach profile* (which contacts, consents and suppressions a customer has, and
the preferred channel): a run has a few dozen profiles, not a million customers.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retainly.messaging.consent import PREFERRED_ATTRIBUTE, Reach, choose_channel, refusal
from retainly.playbooks.definition import MESSAGE_VALUES, PRODUCT_VALUES
from retainly.store.backends import Store

CONTEXT = MESSAGE_VALUES
_PROFILE = ("has_email", "email_consent", "has_phone", "sms_consent", "suppressed_all", "suppressed_email",
            "suppressed_sms", "preferred")
_SCHEMA = pa.schema([("customer_id", pa.int64()), ("customer", pa.string()), ("name", pa.string()),
                     ("email", pa.string()), ("phone", pa.string()), ("email_consent", pa.bool_()),
                     ("sms_consent", pa.bool_()), ("stage", pa.string()), ("buyer_type", pa.string()),
                     ("next_product", pa.string()), ("due_product", pa.string()),
                     *((value, pa.string()) for value in PRODUCT_VALUES), ("suppressed_all", pa.string()),
                     ("suppressed_email", pa.string()), ("suppressed_sms", pa.string()), ("preferred", pa.string())])


_PRODUCT_VALUES = ("url", "image", "price")  # besides its name, what a message may show of a product


def _product_columns(alias: str) -> str:
    """A product's name (its sku where it has none), page, picture and list price as text (two decimals)."""
    return (f"COALESCE(p.name, {alias}.sku) AS product, p.url, p.image_url AS image, "
            "CAST(CAST(p.price AS DECIMAL(18,2)) AS VARCHAR) AS price")


def _query(staged: str, context: bool) -> str:
    """The facts of the staged customers; the product to offer first and the first due (by name).
    Without ``context`` only how to reach them (the message values null): what a send-time check reads."""
    joined = f'JOIN "{staged}" AS s ON s.customer_id = {{}}.customer_id'
    products = (
        f"offered AS (SELECT n.customer_id, {_product_columns('n')} FROM next_products AS n "
        f"{joined.format('n')} LEFT JOIN products AS p ON p.sku = n.sku WHERE n.as_of = ? AND n.rank = 1), "
        f"due AS (SELECT * FROM (SELECT d.customer_id, {_product_columns('d')}, ROW_NUMBER() OVER "
        "(PARTITION BY d.customer_id ORDER BY COALESCE(p.name, d.sku), d.sku) AS nth FROM reorders_due AS d "
        f"{joined.format('d')} LEFT JOIN products AS p ON p.sku = d.sku WHERE d.as_of = ?) AS ranked "
        "WHERE nth = 1), ")
    product_values = ", ".join(f"{cte}.{value} AS {prefix}_product_{value}" for cte, prefix in
                               (("offered", "next"), ("due", "due")) for value in _PRODUCT_VALUES)
    null_values = ", ".join(f"CAST(NULL AS VARCHAR) AS {prefix}_product_{value}" for prefix in ("next", "due")
                            for value in _PRODUCT_VALUES)
    values = (f"l.stage, b.buyer_type, offered.product AS next_product, due.product AS due_product, {product_values}"
              if context else
              "CAST(NULL AS VARCHAR) AS stage, CAST(NULL AS VARCHAR) AS buyer_type, CAST(NULL AS VARCHAR) AS "
              f"next_product, CAST(NULL AS VARCHAR) AS due_product, {null_values}")
    joins = ("LEFT JOIN lifecycle_stages AS l ON l.customer_id = c.customer_id AND l.as_of = ? "
             "LEFT JOIN buyer_types AS b ON b.customer_id = c.customer_id AND b.as_of = ? "
             "LEFT JOIN offered ON offered.customer_id = c.customer_id "
             "LEFT JOIN due ON due.customer_id = c.customer_id ") if context else ""
    return (
        f"WITH {products if context else ''}"
        "suppressed AS (SELECT t.customer_id, MIN(CASE WHEN t.channel = 'all' THEN t.reason END) AS on_all, "
        "MIN(CASE WHEN t.channel = 'email' THEN t.reason END) AS on_email, "
        "MIN(CASE WHEN t.channel = 'sms' THEN t.reason END) AS on_sms "
        f"FROM suppressions AS t {joined.format('t')} GROUP BY t.customer_id), "
        f"preferred AS (SELECT a.customer_id, a.value FROM customer_attributes AS a {joined.format('a')} "
        "WHERE a.name = ?) "
        "SELECT c.customer_id, c.external_id AS customer, c.name, c.email, c.phone, c.email_consent, "
        f"c.sms_consent, {values}, suppressed.on_all AS suppressed_all, suppressed.on_email AS suppressed_email, "
        "suppressed.on_sms AS suppressed_sms, preferred.value AS preferred "
        f"FROM customers AS c {joined.format('c')} {joins}"
        "LEFT JOIN suppressed ON suppressed.customer_id = c.customer_id "
        "LEFT JOIN preferred ON preferred.customer_id = c.customer_id "
        "ORDER BY c.customer_id")


class Facts:
    """The facts of a set of customers, looked up by customer id for whole columns of rows."""

    def __init__(self, table: pa.Table):
        self.table = table.cast(_SCHEMA)  # sorted by customer_id
        self._ids = self.table["customer_id"].to_numpy()
        self._profile_of, self._profiles = _profiles(self.table)
        self._chosen: dict = {}

    @classmethod
    def load(cls, store: Store, customer_ids, as_of: date | None = None) -> Facts:
        """The facts of ``customer_ids`` (any iterable of ids; repeats are fine): with ``as_of``, what
        messages may say of them as of that day too; without, only how to reach them."""
        ids = pa.array(np.unique(np.asarray(customer_ids, np.int64)), pa.int64())
        if not len(ids):
            return cls(_SCHEMA.empty_table())
        context = as_of is not None
        params = (as_of, as_of, PREFERRED_ATTRIBUTE, as_of, as_of) if context else (PREFERRED_ATTRIBUTE,)
        with store.staged(pa.table({"customer_id": ids})) as staged:
            found = store.fetch_arrow(_query(staged, context), params)
        return cls(found.select(_SCHEMA.names))

    def positions(self, customer_ids: np.ndarray) -> pa.Array:
        """Where each of ``customer_ids`` is in ``table`` (null: not found, e.g. erased since)."""
        at = np.searchsorted(self._ids, customer_ids)
        inside = at < len(self._ids)
        found = np.zeros(len(customer_ids), bool)
        found[inside] = self._ids[at[inside]] == customer_ids[inside]
        return pa.array(at, pa.int64(), mask=~found)

    def context(self, positions: pa.Array) -> pa.Table:
        """What messages may say of the customers at ``positions`` (``CONTEXT``; all null where not found)."""
        rows = self.table.select([column for column in CONTEXT if column != "first_name"]).take(positions)
        name = rows["name"]
        found = pc.is_valid(positions)
        name = pc.if_else(found, pc.fill_null(name, ""), name)  # a known customer without a name: ""
        first = pc.list_element(pc.split_pattern(name, " ", max_splits=1), 0)
        first = pc.if_else(pc.equal(first, ""), "there", first)  # as retainly greets someone without a name
        derived = {"name": name, "first_name": first}
        return pa.table({column: derived[column] if column in derived else rows[column] for column in CONTEXT})

    def choose(self, positions: pa.Array, channels: tuple[str, ...], marketing: bool) -> tuple[np.ndarray, np.ndarray]:
        """Each row's channel (None: none may be used) and, where none, the reason: ``choose_channel``
        of its customer, worked out once per reach profile."""
        distinct, inverse = np.unique(self._profile(positions), return_inverse=True)
        picked = [self._choose(int(p), channels, marketing) for p in distinct]
        chosen = np.array([c for c, _ in picked], object)[inverse.reshape(-1)]
        reasons = np.array([r for _, r in picked], object)[inverse.reshape(-1)]
        return chosen, reasons

    def refusals(self, positions: pa.Array, channel: str, marketing: bool) -> np.ndarray:
        """Why ``channel`` may not be used for each row's customer (None: it may), by ``refusal``
        worked out once per reach profile; "customer not found" where there is none."""
        profile = self._profile(positions)
        distinct, inverse = np.unique(profile, return_inverse=True)
        reasons = [refusal(None if p < 0 else self._profiles[p], channel, marketing) for p in distinct.tolist()]
        return np.array(reasons, object)[inverse.reshape(-1)]

    def _profile(self, positions: pa.Array) -> np.ndarray:
        """Each row's reach profile (-1: no such customer)."""
        found = pc.is_valid(positions).to_numpy(zero_copy_only=False)
        at = pc.fill_null(positions, 0).to_numpy()
        return np.where(found, self._profile_of[at] if len(self._profile_of) else 0, -1)

    def _choose(self, profile: int, channels: tuple[str, ...], marketing: bool) -> tuple[str | None, str | None]:
        key = (profile, channels, marketing)
        if key not in self._chosen:
            self._chosen[key] = choose_channel(None if profile < 0 else self._profiles[profile], channels, marketing)
        return self._chosen[key]


def _profiles(table: pa.Table) -> tuple[np.ndarray, list[Reach]]:
    """Each customer's reach profile (an index into the list), and one Reach standing for each."""
    if not table.num_rows:
        return np.zeros(0, np.int64), []
    email, phone = table["email"], table["phone"]
    columns = {
        "has_email": pc.fill_null(pc.not_equal(email, ""), False),
        "email_consent": pc.fill_null(table["email_consent"], False),
        "has_phone": pc.fill_null(pc.not_equal(phone, ""), False),
        "sms_consent": pc.fill_null(table["sms_consent"], False),
        "suppressed_all": table["suppressed_all"], "suppressed_email": table["suppressed_email"],
        "suppressed_sms": table["suppressed_sms"], "preferred": table["preferred"]}
    combined = np.zeros(table.num_rows, np.int64)
    for name in _PROFILE:  # every column has a handful of values: the product of their counts is small
        encoded = pc.dictionary_encode(columns[name], null_encoding="encode").combine_chunks()
        combined = combined * len(encoded.dictionary) + encoded.indices.to_numpy(zero_copy_only=False)
    _, first, codes = np.unique(combined, return_index=True, return_inverse=True)
    values = [pc.take(columns[name], pa.array(first)).to_pylist() for name in _PROFILE]
    profiles = []
    for has_email, email_ok, has_phone, sms_ok, on_all, on_email, on_sms, preferred in zip(*values):
        suppressed = {channel: reason for channel, reason in (("all", on_all), ("email", on_email), ("sms", on_sms))
                      if reason is not None}
        profiles.append(Reach(0, "address" if has_email else None, "number" if has_phone else None, email_ok, sms_ok,
                              suppressed, (preferred or "").strip().lower() or None))
    return codes.reshape(-1), profiles
