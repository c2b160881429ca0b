"""Deleting rows: orders, customers or returns by id, or everything one import wrote.

One transaction; the ids are checked first, so an unknown id deletes nothing. Each deletion
is recorded in the imports ledger as a completed entry of kind ``delete``: derived results
are recomputed when they are older than the last ledger entry, so every stored score, stage
and segment computed before the deletion is recomputed when next asked for. The ``purchases``
table loses the deleted orders' rows in the same transaction, and ``customer_months`` their months.

What goes with what:

* an **order** takes its lines (and its ``purchases`` row); returns are their own records and
  stay (the result's notes count those that refer to a deleted order);
* a **return** takes all its lines;
* a **customer** takes their orders (with lines), their returns and the returns of their
  orders, their contacts and site events, the generator's truth about them, and their rows
  in every derived table; the ``erasures`` record of an erased customer stays, so an old file
  imported later still cannot bring their personal data back;
* an **import** (``undo``) takes the rows whose current version it wrote: orders, returns,
  spend, contacts, events, promotions, its rejects and (sent to the API) its events' idempotency
  keys; the customers and products it wrote
  when nothing left in the store refers to them. Rows a later import replaced are that later
  import's and stay; rows this import had replaced are gone with it (the store keeps no
  history: import the earlier file again, with ``force``, to bring them back). The import's
  ledger entry is marked ``undone``, so its file can be imported again.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from retainly.errors import ConflictError, InputError, NotFoundError
from retainly.ingest.erasure import find_customers
from retainly.ingest.load import LedgerEntry, record_entry
from retainly.ingest.values import normalise_id
from retainly.store import customer_months
from retainly.store.backends import Store

KINDS = ("orders", "customers", "returns")
# Tables holding rows per customer that are computed from the data, never imported.
DERIVED_PER_CUSTOMER = ("rfm_scores", "customer_scores", "lifecycle_stages", "lifecycle_transitions",
                        "churn_signals", "buyer_types", "reorders_due", "next_products")
# The action layer's rows about a customer (migration 11): a deleted customer leaves none behind.
ACTIONS_PER_CUSTOMER = ("customer_attributes", "audience_members", "enrolments", "outbox", "suppressions")
# How many unknown ids an error names before "and N more".
_NAMED = 10
_IDS = "stage_deleted_ids"


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


def delete(store: Store, kind: str, ids: list[str], *, dry_run: bool = False) -> dict:
    """Delete the ``kind`` rows with these shop ids, and what goes with them (module docstring)."""
    if kind not in KINDS:
        raise InputError(f"cannot delete {kind!r}; choose one of: {', '.join(KINDS)} (or undo an import by its id)",
                         parameter="kind")
    ids = list(dict.fromkeys(str(value) for value in ids))
    if not ids:
        raise InputError(f"name the {kind} to delete by their ids", parameter="ids")
    return _run(store, lambda: _delete_by_id(store, kind, ids), f"{kind} {_listed(ids)}", len(ids), dry_run)


def undo_import(store: Store, import_id: int, *, dry_run: bool = False) -> dict:
    """Delete what import ``import_id`` wrote (module docstring) and mark it undone."""
    return _run(store, lambda: _undo(store, int(import_id)), f"import #{int(import_id)}", 1, dry_run)


def _run(store: Store, work, what: str, asked: int, dry_run: bool) -> dict:
    started = datetime.now().replace(microsecond=0)
    outcome: dict = {}
    try:
        with store.transaction():
            outcome = work()
            if dry_run:
                raise _DryRun
            removed = {table: count for table, count in outcome["rows_removed"].items() if count}
            outcome["ledger_id"] = record_entry(store, LedgerEntry(
                kind="delete", source=f"delete {what}", preset="-", content_hash="-", options=None,
                rows_read=asked, rows_accepted=sum(removed.values()), rows_rejected=0, started_at=started,
                message=", ".join(f"{table} {count}" for table, count in removed.items()) or "nothing"))
    except _DryRun:
        outcome["ledger_id"] = None
    outcome["rows_removed"] = {table: count for table, count in outcome["rows_removed"].items() if count}
    return outcome


def _delete_by_id(store: Store, kind: str, ids: list[str]) -> dict:
    if kind == "customers":
        found, missing = find_customers(store, ids)
        _refuse_missing(kind, missing)
        store.stage(_IDS, pa.table({"id": pa.array(sorted(set(found.values())), pa.int64())}))
        try:
            return {"rows_removed": _remove_customers(store, f"SELECT id FROM {_IDS}"), "notes": []}
        finally:
            store.unstage(_IDS)
    key, table = ("order_id", "orders") if kind == "orders" else ("return_id", "returns")
    # An id as typed, or normalised as imports normalise ids.
    given = [(value, candidate) for value in ids for candidate in dict.fromkeys([value, normalise_id(value)])]
    store.stage(_IDS, pa.table({"given": pa.array([g for g, _ in given], pa.string()),
                                "id": pa.array([c for _, c in given], pa.string())}))
    try:
        found = {row[0] for row in store.fetchall(
            f"SELECT DISTINCT s.given FROM {_IDS} s JOIN {table} t ON t.{key} = s.id")}
        _refuse_missing(kind, [value for value in ids if value not in found])
        chosen = f"SELECT id FROM {_IDS}"
        if kind == "returns":
            return {"rows_removed": {"returns": _remove(store, "returns", f"return_id IN ({chosen})")}, "notes": []}
        left = _count(store, "returns", f"order_id IN ({chosen})")
        notes = [(f"{left:,} returns refer to the deleted orders and stay; delete them with "
                  "`retainly delete returns ID...` if they should go too")] if left else []
        return {"rows_removed": _remove_orders(store, chosen), "notes": notes}
    finally:
        store.unstage(_IDS)


def _undo(store: Store, import_id: int) -> dict:
    row = store.fetchone("SELECT kind, status FROM imports WHERE import_id = ?", (import_id,))
    if row is None:
        raise NotFoundError(f"no import #{import_id} in the store; see `retainly imports` for the ids; "
                            "nothing was deleted", parameter="import_id")
    kind, status = row
    if kind == "delete":
        raise InputError(f"import #{import_id} is a deletion, not an import: it cannot be undone; nothing was deleted",
                         parameter="import_id")
    if status != "completed":
        raise ConflictError(f"import #{import_id} is {status}, not completed: there is nothing of it to undo; "
                            "nothing was deleted", parameter="import_id")
    mine = f"import_id = {import_id}"
    removed = _remove_orders(store, f"SELECT order_id FROM orders WHERE {mine}")
    # An API import's idempotency keys go with it: the same events sent again are written again.
    for table in ("returns", "marketing_spend", "interactions", "site_events", "promotions", "import_rejects",
                  "event_keys"):
        removed[table] = removed.get(table, 0) + _remove(store, table, mine)
    orphan = (f"{mine} AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = customers.customer_id) "
              + "".join(f"AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.customer_id = customers.customer_id) "
                        for table in ("returns", "interactions", "site_events")))
    kept_customers = _count(store, "customers", mine) - _count(store, "customers", orphan)
    for table, count in _remove_customers(store, f"SELECT customer_id FROM customers WHERE {orphan}").items():
        removed[table] = removed.get(table, 0) + count
    # NOT IN over the (non-null) SKUs in use: one hashed lookup, where PostgreSQL would scan the
    # lines once per product for a correlated NOT EXISTS (order_lines has no index on sku).
    unused = (f"{mine} AND sku NOT IN (SELECT sku FROM order_lines WHERE sku IS NOT NULL) "
              "AND sku NOT IN (SELECT sku FROM returns WHERE sku IS NOT NULL)")
    kept_products = _count(store, "products", mine) - _count(store, "products", unused)
    removed["generator_product_truth"] = _remove(store, "generator_product_truth",
                                                 f"sku IN (SELECT sku FROM products WHERE {unused})")
    removed["products"] = _remove(store, "products", unused)
    store.execute("UPDATE imports SET status = 'undone' WHERE import_id = ?", (import_id,))
    notes = []
    if kept_customers:
        notes.append(f"{kept_customers:,} customers this import wrote stay: rows of other imports refer to them")
    if kept_products:
        notes.append(f"{kept_products:,} products this import wrote stay: order lines or returns of other imports "
                     "refer to them")
    return {"rows_removed": removed, "notes": notes}


def _remove_orders(store: Store, chosen: str) -> dict[str, int]:
    """Delete the orders whose ids ``chosen`` (SQL) gives, with their lines and purchases rows (and
    so their customers' months are rewritten)."""
    with customer_months.following(store, chosen):
        return {"order_lines": _remove(store, "order_lines", f"order_id IN ({chosen})"),
                "purchases": _remove(store, "purchases", f"order_id IN ({chosen})"),
                "orders": _remove(store, "orders", f"order_id IN ({chosen})")}


def _remove_customers(store: Store, chosen: str) -> dict[str, int]:
    """Delete the customers whose ids ``chosen`` (SQL) gives, and everything of theirs."""
    theirs = f"customer_id IN ({chosen})"
    their_orders = f"SELECT order_id FROM orders WHERE {theirs}"
    removed = {"returns": _remove(store, "returns", f"{theirs} OR order_id IN ({their_orders})")}
    removed.update(_remove_orders(store, their_orders))
    for table in ("interactions", "site_events", "generator_truth", *DERIVED_PER_CUSTOMER, *ACTIONS_PER_CUSTOMER):
        removed[table] = _remove(store, table, theirs)
    removed["customers"] = _remove(store, "customers", theirs)
    return removed


def _count(store: Store, table: str, where: str) -> int:
    return int(store.fetchone(f"SELECT COUNT(*) FROM {table} WHERE {where}")[0])


def _remove(store: Store, table: str, where: str) -> int:
    count = _count(store, table, where)
    if count:
        store.execute(f"DELETE FROM {table} WHERE {where}")
    return count


def _refuse_missing(kind: str, missing: list[str]) -> None:
    if missing:
        raise NotFoundError(f"no {kind} with id {_listed(missing)} in the store; nothing was deleted "
                            "(use the shop's ids, as in the import)", parameter="ids")


def _listed(ids: list[str]) -> str:
    named = ", ".join(repr(value) for value in ids[:_NAMED])
    return named + (f" and {len(ids) - _NAMED:,} more" if len(ids) > _NAMED else "")
