"""Customer 360: everything the store knows about one customer, as plain data, and the search
for customers (by text, segment, stage, buyer type and audience).

Read by `retainly customer show|search`, the report, the API and the web pages. Lookups are
point queries on one customer, so they stay small on any store size.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import ibis

from retainly.errors import NotFoundError
from retainly.features import formulas
from retainly.features.orders import ANALYSED, NOT_PURCHASES, analysed_window, purchase_span
from retainly.ingest.values import normalise_id
from retainly.store.backends import Store

PROFILE = ("customer_id", "external_id", "name", "email", "phone", "gender", "birthday", "country", "city",
           "acquisition_channel", "first_seen_at", "postal_code")
CONSENTS = ("email_consent", "email_consent_at", "sms_consent", "sms_consent_at", "ads_consent", "ads_consent_at")
LINE_FIELDS = ("line_no", "sku", "description", "quantity", "unit_price", "discount", "amount", "kind")


def find_customer_id(store: Store, key: str) -> int:
    """The internal id for an id as the shop knows it (external id), or for an internal id."""
    customers = store.table("customers")
    # Typed as imports read ids: a zero-width space or a decomposed accent pasted along does not count.
    match = customers.filter(customers.external_id == normalise_id(key)).customer_id.to_pyarrow().to_pylist()
    if not match and key.strip().isdigit():
        match = customers.filter(customers.customer_id == int(key)).customer_id.to_pyarrow().to_pylist()
    if not match:
        raise NotFoundError(
            f"no customer with id {key!r}; use the shop's customer id (as in the import) "
            "or retainly's customer_id (see `retainly rfm --csv`)"
        )
    return int(match[0])


def customer_view(store: Store, customer_id: int) -> dict:
    """Profile, consents, KPIs, orders with their lines, returns and contacts of one customer."""
    customers = store.table("customers")
    record = _rows(customers.filter(customers.customer_id == customer_id))[0]
    orders = _orders_with_lines(store, customer_id)
    returns = _rows(_of(store, "returns", customer_id).order_by("returned_at", "return_id", "line_no").drop("import_id"))
    interactions = _rows(_of(store, "interactions", customer_id).order_by("occurred_at").drop("import_id", "customer_id"))
    return {
        "customer": {key: record[key] for key in PROFILE},
        "consents": {key: record[key] for key in CONSENTS},
        "kpis": _customer_kpis(store, customer_id, returns),
        "orders": orders,
        "returns": returns,
        "interactions": interactions,
        "last_contact_at": max((row["occurred_at"] for row in interactions), default=None),
    }


def _of(store: Store, table_name: str, customer_id: int):
    table = store.table(table_name)
    return table.filter(table.customer_id == customer_id)


def _rows(expression) -> list[dict]:
    return expression.to_pyarrow().to_pylist()


def _orders_with_lines(store: Store, customer_id: int) -> list[dict]:
    orders = _of(store, "orders", customer_id)
    lines = store.table("order_lines")
    mine = lines.semi_join(orders, "order_id")
    by_order: dict[str, list[dict]] = {}
    for line in _rows(mine.order_by("order_id", "line_no")):
        by_order.setdefault(line["order_id"], []).append({key: line[key] for key in LINE_FIELDS})
    listed = _rows(orders.order_by("placed_at", "order_id").select(
        "order_id", "placed_at", "status", "channel", "promo_code", "currency", "gross", "discount", "shipping",
        "tax", "net"))
    for order in listed:
        order["is_purchase"] = order["status"] not in NOT_PURCHASES and any(
            line["quantity"] > 0 for line in by_order.get(order["order_id"], []))
        order["lines"] = by_order.get(order["order_id"], [])
    return listed


def _customer_kpis(store: Store, customer_id: int, returns: list[dict]) -> dict:
    # Plain SQL: Ibis's PostgreSQL backend cannot return the NULL extremes of an empty NOT NULL column.
    # The analysed window only: an order dated 9999-12-31 would make "days since" negative.
    row = store.fetchone(f"SELECT COUNT(*), SUM(revenue), MIN(placed_at), MAX(placed_at) FROM purchases "
                         f"WHERE customer_id = ? AND {ANALYSED}", (customer_id, *analysed_window()))
    facts = dict(zip(("orders", "revenue", "first_order_at", "last_order_at"), row))
    last_in_store = purchase_span(store)[1]
    orders = int(facts["orders"] or 0)
    revenue = Decimal(facts["revenue"] or 0)
    start, end = analysed_window()
    returned = sum((Decimal(row["amount"]) for row in returns if start <= row["returned_at"] < end), Decimal(0))
    first, last = facts["first_order_at"], facts["last_order_at"]
    span_days = (last - first).total_seconds() / 86400 if orders >= 2 else None
    return {
        "orders": orders,
        "revenue": _money(revenue),
        "returns": _money(returned),
        "net_revenue": _money(revenue - returned),
        "aov": None if not orders else round(formulas.aov(revenue, orders), 2),
        "first_order_at": first,
        "last_order_at": last,
        "days_since_last_order": None if last is None else (last_in_store.date() - last.date()).days,
        "avg_days_between_orders": None if span_days is None else round(span_days / (orders - 1), 1),
    }


def _money(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


OFFER_FIELDS = ("sku", "name", "confidence", "because_of", "because_of_name", "kind")


def rfm_of(store: Store, customer_id: int, as_of: date) -> dict | None:
    scores = store.table("rfm_scores")
    rows = _rows(scores.filter((scores.customer_id == customer_id) & (scores.as_of == ibis.literal(as_of))).drop(
        "customer_id", "computed_at"))
    return rows[0] if rows else None


def stored_offers(store: Store, customer_id: int, as_of: date) -> list[dict]:
    """The products to offer a customer as stored for ``as_of`` (``next_products``), best first, with names."""
    offers = store.fetchall("SELECT n.sku, p.name, n.score, n.because_of, b.name, n.kind FROM next_products n "
                            "LEFT JOIN products p ON p.sku = n.sku LEFT JOIN products b ON b.sku = n.because_of "
                            "WHERE n.as_of = ? AND n.customer_id = ? ORDER BY n.rank", (as_of, customer_id))
    return [dict(zip(OFFER_FIELDS, row)) for row in offers]


def named_offers(store: Store, offers: list[dict]) -> list[dict]:
    """Offers as ``associations.next_products`` gives them (sku, score, because_of, kind), with names."""
    skus = sorted({offer[key] for offer in offers for key in ("sku", "because_of")})
    names = dict(store.fetchall(f"SELECT sku, name FROM products WHERE sku IN ({', '.join('?' * len(skus))})",
                                tuple(skus))) if skus else {}
    return [dict(zip(OFFER_FIELDS, (offer["sku"], names.get(offer["sku"]), offer["score"], offer["because_of"],
                                    names.get(offer["because_of"]), offer["kind"]))) for offer in offers]


def customer_standing(store: Store, customer_id: int, as_of: date, offers: list[dict]) -> dict | None:
    """Lifecycle stage, VIP flag and its reason, churn warning signs with the risk score, buyer
    type, reorders due, and the products to offer given (``stored_offers``, ``named_offers``)."""
    row = store.fetchone(
        "SELECT s.stage, s.vip, s.reason, w.risk_score, w.signs FROM lifecycle_stages s "
        "LEFT JOIN churn_signals w ON w.customer_id = s.customer_id AND w.as_of = s.as_of "
        "WHERE s.as_of = ? AND s.customer_id = ?", (as_of, customer_id))
    if row is None:
        return None
    stage, vip, reason, risk, signs = row
    kind = store.fetchone("SELECT buyer_type, source, reason FROM buyer_types WHERE as_of = ? AND customer_id = ?",
                          (as_of, customer_id))
    # Products by their names too, as the shop knows them (None when the catalogue has no name).
    due = store.fetchall("SELECT d.sku, p.name, d.last_purchase, d.due_date, d.days_overdue FROM reorders_due d "
                         "LEFT JOIN products p ON p.sku = d.sku "
                         "WHERE d.as_of = ? AND d.customer_id = ? ORDER BY d.due_date, d.sku", (as_of, customer_id))
    return {"as_of": as_of, "stage": stage, "vip": bool(vip), "reason": reason, "risk_score": risk,
            "warning_signs": [sign["text"] for sign in json.loads(signs or "[]")],
            "buyer_type": None if kind is None else dict(zip(("type", "source", "reason"), kind)),
            "reorders_due": [dict(zip(("sku", "name", "last_purchase", "due_date", "days_overdue"), r)) for r in due],
            "next_products": offers}


def has_known_buyers(store: Store) -> bool:
    """Whether any purchase order belongs to a known customer (else there is nothing to score)."""
    return purchase_span(store)[1] is not None


def first_customer(store: Store) -> str | None:
    """The shop's id of the customer retainly numbered first (an example to look at), or None."""
    row = store.fetchone("SELECT external_id FROM customers ORDER BY customer_id LIMIT 1")
    return None if row is None else row[0]


SEARCHED = ("external_id", "name", "email", "phone")
# Each filter of the search: the customers it keeps, as a subquery over one stored table. The
# derived ones read the rows of one date (the caller computes them first); an audience is its
# members as of its last evaluation (left_on empty), as `retainly audiences members` lists them.
FILTERS = {
    "segment": "SELECT customer_id FROM rfm_scores WHERE as_of = ? AND segment = ?",
    "stage": "SELECT customer_id FROM lifecycle_stages WHERE as_of = ? AND stage = ?",
    "buyer_type": "SELECT customer_id FROM buyer_types WHERE as_of = ? AND buyer_type = ?",
    "audience": "SELECT customer_id FROM audience_members WHERE audience = ? AND left_on IS NULL",
}


def search_customers(store: Store, text: str, limit: int, offset: int, filters: dict[str, str] | None = None,
                     as_of: date | None = None) -> tuple[int, list[dict]]:
    """Customers whose shop id, name, email or phone contains ``text`` (any case; all customers
    for an empty text) and who pass every filter of ``filters`` (``FILTERS``: name → value; the
    segment, stage and buyer type as of ``as_of``): the number found, and ``limit`` of them from
    ``offset``, an exact id match first, then by name and id."""
    needle = text.strip().lower()
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    where = "(" + " OR ".join(f"LOWER({column}) LIKE ? ESCAPE '\\'" for column in SEARCHED) + ")"
    params: tuple = (pattern,) * len(SEARCHED)
    for name, value in (filters or {}).items():
        where += f" AND customer_id IN ({FILTERS[name]})"
        params += (value,) if name == "audience" else (as_of, value)
    total = int(store.fetchone(f"SELECT COUNT(*) FROM customers WHERE {where}", params)[0])
    found = store.fetchall(
        f"SELECT external_id, name, email, phone, country FROM customers WHERE {where} "
        "ORDER BY CASE WHEN LOWER(external_id) = ? THEN 0 ELSE 1 END, name, external_id LIMIT ? OFFSET ?",
        (*params, needle, int(limit), int(offset)))
    return total, [dict(zip(("customer_id", "name", "email", "phone", "country"), row)) for row in found]


MESSAGE_FIELDS = ("playbook", "step", "channel", "status", "reason", "due_at", "sent_at")


def customer_messages(store: Store, customer_id: int) -> list[dict]:
    """The customer's outbox rows (messages, and manager tasks on channel ``task``), newest first:
    playbook, step, channel, status, reason, the subject and text they say, when due and when sent."""
    found = store.fetchall(
        "SELECT playbook, step, channel, status, reason, due_at, CASE WHEN status = 'sent' THEN finished_at END, "
        "payload FROM outbox WHERE customer_id = ? ORDER BY due_at DESC, playbook, step DESC, channel",
        (customer_id,))
    listed = []
    for row in found:
        said = json.loads(row[-1])
        listed.append({**dict(zip(MESSAGE_FIELDS, row)), "subject": said.get("subject"), "text": said.get("text")})
    return listed
