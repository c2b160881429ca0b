"""Erasing a customer's personal data, and keeping it erased when old files are imported again.

Erasure clears every field that describes the person and keeps the anonymous rest, so the
shop's figures do not change: the customer row stays (with its acquisition channel and
first-seen time) and so do their orders, returns, contacts and site events, minus their free
text. The shop's customer id is personal too (Shopify's is the e-mail address): it becomes a
pseudonym, ``erased-`` and the first 12 hex digits of the SHA-256 of the normalised id.
``erasures`` keeps that hash, so an import meeting the old id again (an old export, a later
file) attaches its rows to the same anonymous customer and stores no personal value:
``forget_erased`` maps the ids before the merge, ``scrub_import`` clears what the merge wrote.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import pandas as pd

from retainly.errors import NotFoundError
from retainly.ingest.values import normalise_id, normalise_ids
from retainly.store.backends import Store
from retainly.tasks.work import erase_tasks

# Columns of `customers` that describe the person (everything but the ids, the acquisition
# channel and first-seen time, which the figures need, and the bookkeeping import id).
PERSONAL = ("name", "email", "phone", "gender", "birthday", "country", "city",
            "email_consent", "email_consent_at", "sms_consent", "sms_consent_at", "postal_code", "ads_consent",
            "ads_consent_at")
# Free text and identifiers in the customer's other rows: table -> column.
FREE_TEXT = {"interactions": "note", "returns": "reason", "site_events": "session_id"}
PSEUDONYM_PREFIX = "erased-"
# Entities of a batch that name a customer, and the column that does.
_REFERENCES = {"customers": "external_id", "orders": "customer_ref", "returns": "customer_ref",
               "interactions": "customer_ref", "events": "customer_ref", "truth": "customer_ref"}
# A personal value this short is matched in rejects only as a whole value, never inside text.
_SHORTEST_IN_TEXT = 4
ERASED_REASON = "(erased: this reason quoted personal data of an erased customer)"


def id_hash(external_id: str) -> str:
    """SHA-256 (hex) of the shop's customer id, normalised as imports normalise ids."""
    return hashlib.sha256(normalise_id(external_id).encode("utf-8")).hexdigest()


def find_customers(store: Store, keys: list[str]) -> tuple[dict[str, int], list[str]]:
    """({key: customer_id}, [keys not found]) for the shop's customer ids: as stored, normalised,
    or, for an erased customer, their old id (by its hash) or their pseudonym."""
    found: dict[str, int] = {}
    for key in keys:
        candidates = list(dict.fromkeys([key, key.strip(), normalise_id(key)]))
        marks = ", ".join("?" for _ in candidates)
        row = store.fetchone(f"SELECT customer_id FROM customers WHERE external_id IN ({marks}) "
                             f"ORDER BY customer_id LIMIT 1", candidates)
        if row is None and normalise_id(key):
            row = store.fetchone("SELECT e.customer_id FROM erasures e JOIN customers c ON c.customer_id = e.customer_id "
                                 "WHERE e.external_id_hash = ?", (id_hash(key),))
        if row is not None:
            found[key] = int(row[0])
    return found, [key for key in keys if key not in found]


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


def erase_customer(store: Store, key: str, *, dry_run: bool = False) -> dict:
    """Erase one customer's personal data in one transaction; return what was erased (with
    ``dry_run``, what would be: the transaction is rolled back).

    Erasing an erased customer again clears anything that came back some other way and keeps
    the first erasure's time and hash."""
    done: dict = {}
    try:
        with store.transaction():
            done = _erase(store, key, datetime.now())
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return done


def _erase(store: Store, key: str, now: datetime) -> dict:
    found, missing = find_customers(store, [key])
    if missing:
        raise NotFoundError(f"no customer with id {key!r}; use the shop's customer id, as in the import "
                            "(see `retainly customer show`); nothing was erased", parameter="key")
    customer_id = found[key]
    columns = ("external_id", *PERSONAL)
    row = dict(zip(columns, store.fetchone(f"SELECT {', '.join(columns)} FROM customers WHERE customer_id = ?",
                                           (customer_id,))))
    before = store.fetchone("SELECT external_id_hash, erased_at, erased_fields FROM erasures WHERE customer_id = ?",
                            (customer_id,))
    digest = before[0] if before else id_hash(row["external_id"])
    pseudonym = row["external_id"] if before else _free_pseudonym(store, digest)
    fields = [] if before else ["external_id"]
    fields += [name for name in PERSONAL if row[name] is not None]
    changed = {"customers": 1}
    store.execute(f"UPDATE customers SET external_id = ?, {', '.join(f'{name} = NULL' for name in PERSONAL)} "
                  "WHERE customer_id = ?", (pseudonym, customer_id))
    for table, column in FREE_TEXT.items():
        count = _clear_free_text(store, table, column, str(int(customer_id)))
        if count:
            fields.append(f"{table}.{column}")
            changed[table] = count
    changed.update(_erase_actions(store, customer_id, now))
    known = [str(row[name]) for name in ("external_id", "name", "email", "phone", "birthday", "city")
             if row[name] is not None and not (before and name == "external_id")]
    rejects = _scrub_rejects(store, known)
    if rejects:
        changed["import_rejects"] = rejects
    erased_at = before[1] if before else now
    if before:
        merged = list(dict.fromkeys([*before[2].split(","), *fields]))
        store.execute("UPDATE erasures SET erased_fields = ? WHERE customer_id = ?", (",".join(merged), customer_id))
    else:
        store.execute("INSERT INTO erasures (customer_id, external_id_hash, erased_at, erased_fields) VALUES (?, ?, ?, ?)",
                      (customer_id, digest, erased_at, ",".join(fields)))
    return {"customer_id": customer_id, "external_id": pseudonym, "fields": fields, "rows_changed": changed,
            "erased_at": erased_at, "already_erased": before is not None}


def _erase_actions(store: Store, customer_id: int, now: datetime) -> dict[str, int]:
    """The action layer's personal data: the shop's attributes go, messages keep no copy of the
    name, email or phone they carried, and an `erased` suppression on every channel makes sure
    nothing reaches the customer again (the run loop also finds no address)."""
    changed = {}
    attributes = int(store.fetchone("SELECT COUNT(*) FROM customer_attributes WHERE customer_id = ?",
                                    (customer_id,))[0])
    if attributes:
        store.execute("DELETE FROM customer_attributes WHERE customer_id = ?", (customer_id,))
        changed["customer_attributes"] = attributes
    messages = int(store.fetchone("SELECT COUNT(*) FROM outbox WHERE customer_id = ?", (customer_id,))[0])
    if messages:  # the payload is JSON text: replaced by a note, the row (and its status) stays for the proof
        store.execute("UPDATE outbox SET payload = ? WHERE customer_id = ?", ('{"erased": true}', customer_id))
        changed["outbox"] = messages
    tasks = erase_tasks(store, customer_id, now)  # reasons and notes quoted them; open ones cancelled
    if tasks:
        changed["tasks"] = tasks
    store.execute("DELETE FROM suppressions WHERE customer_id = ? AND channel = 'all'", (customer_id,))
    store.execute("INSERT INTO suppressions (customer_id, channel, reason, source, created_at) "
                  "VALUES (?, 'all', 'erased', 'erasure', ?)", (customer_id, now))
    return changed


def _free_pseudonym(store: Store, digest: str) -> str:
    """``erased-`` and 12 hex digits of the hash; more digits in the unlikely case those are taken."""
    for length in range(12, len(digest) + 1, 4):
        candidate = PSEUDONYM_PREFIX + digest[:length]
        if store.fetchone("SELECT 1 FROM customers WHERE external_id = ?", (candidate,)) is None:
            return candidate
    raise RuntimeError(f"every pseudonym of hash {digest} is taken")


def _clear_free_text(store: Store, table: str, column: str, who: str, only: str = "TRUE") -> int:
    """Clear ``table.column`` in the rows of the customers ``who`` (SQL giving customer ids) that
    match ``only``; return how many rows held a value."""
    mine = f"customer_id IN ({who})"
    if table == "returns":  # a return is the customer's by its customer id, or by the order it returns
        mine = f"({mine} OR order_id IN (SELECT order_id FROM orders WHERE customer_id IN ({who})))"
    where = f"{column} IS NOT NULL AND {only} AND {mine}"
    count = int(store.fetchone(f"SELECT COUNT(*) FROM {table} WHERE {where}")[0])
    if count:
        store.execute(f"UPDATE {table} SET {column} = NULL WHERE {where}")
    return count


def _scrub_rejects(store: Store, values: list[str]) -> int:
    """Clear rejected values (a cell, or a whole malformed line) and reasons that hold a personal value."""
    values = [value for value in dict.fromkeys(values) if value.strip()]
    if not values:
        return 0
    marks = ", ".join("?" for _ in values)
    quoting = [value for value in values if len(value) >= _SHORTEST_IN_TEXT]

    def holds(column: str) -> str:
        return " OR ".join([f"{column} IN ({marks})", *(f"STRPOS({column}, ?) > 0" for _ in quoting)])

    params = (*values, *quoting)
    where = f"({holds('value')}) OR ({holds('reason')})"
    count = int(store.fetchone(f"SELECT COUNT(*) FROM import_rejects WHERE {where}", params * 2)[0])
    if count:
        store.execute(f"UPDATE import_rejects SET value = CASE WHEN {holds('value')} THEN NULL ELSE value END, "
                      f"reason = CASE WHEN {holds('reason')} THEN '{ERASED_REASON}' ELSE reason END "
                      f"WHERE {where}", params * 4)
    return count


# -- imports -----------------------------------------------------------------------------------
def erased_ids(store: Store) -> dict[str, str]:
    """{hash of an erased customer's old id: the id their rows are stored under now}."""
    rows = store.fetchall("SELECT e.external_id_hash, c.external_id FROM erasures e "
                          "LEFT JOIN customers c ON c.customer_id = e.customer_id")
    return {digest: current or PSEUDONYM_PREFIX + digest[:12] for digest, current in rows}


def forget_erased(store: Store, entities: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The batch with every customer id of an erased customer replaced by their pseudonym, so the
    merge finds the anonymous customer instead of making a new one under the personal id."""
    erased = erased_ids(store)
    if not erased:
        return entities
    named = [normalise_ids(entities[name][column]).dropna() for name, column in _REFERENCES.items()
             if name in entities]
    distinct = pd.concat(named, ignore_index=True).unique() if named else []
    mapping = {key: erased[digest] for key in distinct
               if (digest := hashlib.sha256(str(key).encode("utf-8")).hexdigest()) in erased}
    if not mapping:
        return entities
    out = dict(entities)
    for name, column in _REFERENCES.items():
        if name in out:
            frame = out[name].copy()
            ids = normalise_ids(frame[column])
            hit = ids.isin(list(mapping)).fillna(False).to_numpy(dtype=bool)
            frame.loc[hit, column] = ids[hit].map(mapping).to_numpy()
            if name == "customers":
                frame.loc[hit, list(PERSONAL)] = None
            out[name] = frame
    return out


def scrub_import(store: Store, import_id: int) -> None:
    """Clear, in the rows import ``import_id`` wrote, the personal data of erased customers
    (inside the import's transaction; a no-op without erasures)."""
    if store.fetchone("SELECT 1 FROM erasures LIMIT 1") is None:
        return
    # An erased customer deleted since comes back from an old file as a new anonymous customer
    # under the pseudonym: the erasure follows them there.
    store.execute(f"UPDATE erasures SET customer_id = c.customer_id FROM customers c "
                  f"WHERE c.external_id = '{PSEUDONYM_PREFIX}' || SUBSTR(erasures.external_id_hash, 1, 12) "
                  "AND NOT EXISTS (SELECT 1 FROM customers x WHERE x.customer_id = erasures.customer_id)")
    # A merge updates a customer without marking the row, so every erased customer is checked.
    filled = " OR ".join(f"{name} IS NOT NULL" for name in PERSONAL)
    store.execute(f"UPDATE customers SET {', '.join(f'{name} = NULL' for name in PERSONAL)} "
                  f"WHERE customer_id IN (SELECT customer_id FROM erasures) AND ({filled})")
    written = f"import_id = {int(import_id)}"
    for table, column in FREE_TEXT.items():
        _clear_free_text(store, table, column, "SELECT customer_id FROM erasures", written)
