"""A batch of events written once per idempotency key, even when two clients race the same keys.

The steps of ``ingest``:
1. Each item needs an ``idempotency_key`` (a string of 1 to 200 characters). An item whose key
   came earlier in the same batch answers as that item did.
2. Keys already in ``event_keys`` answer with their first result; their items are not even checked.
3. The other items are checked (``retainly.ingest.events``); the invalid ones are answered with
   their problems and written nowhere.
4. The valid ones are merged by ``load_batch`` (the file import's one-transaction loader, with an
   imports ledger row), and in that same transaction their keys are inserted with ON CONFLICT
   DO NOTHING. A key that is not inserted was written by someone else since step 2 (another
   client, another server process): the transaction is rolled back and those items answer as
   duplicates, the rest are written again. So a key lands once, whatever the timing.

Batches that arrive together (a server's requests waiting for the store) may go through these
steps as one (``ingest_together``): a merge costs nearly as much for 100 items as for 400.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from datetime import date, datetime
from typing import Any

import pandas as pd

from retainly.errors import InputError
from retainly.ingest.events import (KEY, KEY_LENGTH_LIMIT, KINDS, MAX_ITEMS, RECORD_FIELD, Checked, check_items,
                                    is_text)
from retainly.ingest.load import LedgerEntry, load_batch
from retainly.ingest.presets.base import Options
from retainly.ingest.values import DateRange
from retainly.results.events import EventBatch, ItemError, ItemOutcome
from retainly.settings import ImportSettings
from retainly.store.backends import Store

# The imports ledger's kind for each kind of event (the file import's kinds).
LEDGER_KIND = {"orders": "orders", "returns": "returns", "interactions": "interactions", "site_events": "events",
               "customers": "customers", "consent": "customers"}
_LIST = "unnest(CAST(? AS TEXT[]))"  # a list parameter as rows, on both engines
_ATTEMPTS = 5  # writes retried after losing a race; each loses only to a key written meanwhile


class _Raced(Exception):
    """Some keys were written by another transaction after they were looked up."""


def refuse_bad_batch(kind: str, items: Any) -> None:
    """Raise unless ``items`` is a list of at most ``MAX_ITEMS`` and ``kind`` one of ``KINDS``
    (what refuses a batch whole; everything else is answered item by item)."""
    if kind not in KINDS:
        raise InputError(f"unknown kind of event {kind!r}; choose one of: {', '.join(KINDS)}", parameter="kind")
    if not isinstance(items, list):
        raise InputError("`items` must be a list of objects, one per event", parameter="items")
    if len(items) > MAX_ITEMS:
        raise InputError(f"{len(items):,} items in one batch; send at most {MAX_ITEMS:,} a batch (split it)",
                         parameter="items")


def ingest(store: Store, kind: str, items: Any, settings: ImportSettings | None = None,
           today: date | None = None) -> EventBatch:
    """Write the valid items of ``items`` (JSON objects of ``kind``) once per key; see the module docstring."""
    return ingest_together(store, kind, [items], settings, today)[0]


def ingest_together(store: Store, kind: str, batches: list[Any], settings: ImportSettings | None = None,
                    today: date | None = None) -> list[EventBatch]:
    """Several batches of ``kind`` (requests that arrived at the same time), each answered as if it came
    alone, but checked and written together where they can be: a merge costs much the same for 100
    items as for 400. Batches that share an idempotency key or a record id are written one after the
    other, in the order given, so that which comes first stays clear."""
    for items in batches:
        refuse_bad_batch(kind, items)
    settings = settings or ImportSettings()
    options = Options(date_format="ISO8601", dates=DateRange.for_events(
        settings.earliest_date, settings.latest_days_ahead, today or date.today()))
    answers: list[EventBatch | None] = [None] * len(batches)
    for group in _groups(kind, batches):
        outcomes = _ingest_items(store, kind, [item for number in group for item in batches[number]], options)
        offset = 0
        for number in group:
            mine = outcomes[offset:offset + len(batches[number])]
            answers[number] = _answer(kind, [_shifted(outcome, offset) for outcome in mine])
            offset += len(batches[number])
    return answers


def _groups(kind: str, batches: list[list]) -> list[list[int]]:
    """The batches in runs that share no idempotency key and no record id (as sent)."""
    groups: list[list[int]] = []
    taken: set = set()
    for number, items in enumerate(batches):
        marks = {mark for item in items if isinstance(item, dict) for mark in _marks(kind, item)}
        if not groups or marks & taken:
            groups.append([])
            taken = set()
        groups[-1].append(number)
        taken |= marks
    return groups


def _marks(kind: str, item: dict) -> list[tuple]:
    key = item.get(KEY)
    record = item.get(RECORD_FIELD[kind]) if kind not in ("interactions", "site_events") \
        else item.get(RECORD_FIELD[kind]) or key
    if kind == "consent":
        record = (record, str(item.get("channel")).strip().lower())
    marks = [("key", key)] if isinstance(key, str) else []
    return marks + [("record", str(record).strip())] if record is not None else marks


def _shifted(outcome: ItemOutcome, offset: int) -> ItemOutcome:
    """An outcome of a combined run as its own batch numbers its items."""
    if not offset:
        return outcome

    def renumber(text: str) -> str:
        return re.sub(r"items\[(\d+)\]", lambda match: f"items[{int(match.group(1)) - offset}]", text)

    errors = [ItemError(path=renumber(e.path), message=renumber(e.message)) for e in outcome.errors]
    return dataclasses.replace(outcome, index=outcome.index - offset, errors=errors)


def _answer(kind: str, answers: list[ItemOutcome]) -> EventBatch:
    count = {status: sum(a.status == status for a in answers) for status in ("accepted", "duplicate", "invalid")}
    return EventBatch(kind=kind, accepted=count["accepted"], duplicates=count["duplicate"], invalid=count["invalid"],
                      items=answers)


def _ingest_items(store: Store, kind: str, items: list, options: Options) -> list[ItemOutcome]:
    """Each item's outcome, in order (module docstring, steps 1 to 4)."""
    outcomes: dict[int, ItemOutcome] = {}
    first_with: dict[str, int] = {}
    repeats: dict[int, int] = {}
    for index, item in enumerate(items):
        problem = _key_problem(item)
        if problem:
            outcomes[index] = _invalid(index, item, [(f"items[{index}].{KEY}", problem)])
        elif item[KEY] in first_with:
            repeats[index] = first_with[item[KEY]]
        else:
            first_with[item[KEY]] = index
    for key, result in first_results(store, kind, list(first_with)).items():
        index = first_with.pop(key)
        outcomes[index] = _duplicate(index, key, result)
    if first_with:
        fresh = {index: items[index] for index in first_with.values()}
        received = datetime.now()
        checked = check_items(kind, fresh, options, received.isoformat(sep=" "),
                              lambda ids: known_customers(store, ids))
        for index, errors in checked.errors.items():
            outcomes[index] = _invalid(index, items[index], errors)
        refused = [outcome for outcome in outcomes.values() if outcome.status == "invalid"]
        outcomes.update(_write(store, kind, items, checked, _rejects(kind, refused)))
    for index, first in repeats.items():
        outcomes[index] = _repeat(index, outcomes[first])
    return [outcomes[index] for index in range(len(items))]


def _write(store: Store, kind: str, items: list, checked: Checked, rejects: pd.DataFrame | None
           ) -> dict[int, ItemOutcome]:
    """Write the valid items, each key once (module docstring, step 4); their outcomes."""
    outcomes: dict[int, ItemOutcome] = {}
    pending = sorted(checked.records)
    for _attempt in range(_ATTEMPTS):
        if not pending:
            return outcomes
        keys = [items[index][KEY] for index in pending]
        received = datetime.now()
        ledger = LedgerEntry(LEDGER_KIND[kind], f"api events/{kind}", "api",
                             hashlib.sha256("\n".join(keys).encode()).hexdigest(), json.dumps({"api": kind}),
                             len(items), len(pending), 0 if rejects is None else rejects["line"].nunique(),
                             received.replace(microsecond=0))
        try:
            with store.transaction():
                import_id = load_batch(store, checked.batch(pending), ledger, rejects)
                entries = [(items[index][KEY], checked.records[index]) for index in pending]
                if claim(store, kind, entries, import_id, received) < len(entries):
                    raise _Raced
        except _Raced:
            for key, result in first_results(store, kind, keys).items():
                index = pending[keys.index(key)]
                outcomes[index] = _duplicate(index, key, result)
            pending = [index for index in pending if index not in outcomes]
            continue
        for index in pending:
            outcomes[index] = ItemOutcome(index=index, idempotency_key=items[index][KEY], status="accepted",
                                          id=checked.records[index], import_id=import_id, received_at=received)
        return outcomes
    raise InputError("the keys of this batch kept being written by other clients at the same time; send it again "
                     "(what was written answers as duplicate)", parameter="items")  # pragma: no cover


def claim(store: Store, kind: str, entries: list[tuple[str, str]], import_id: int, received: datetime) -> int:
    """Insert the keys (with the ids they wrote) in the caller's transaction; how many were new."""
    # Lists as array parameters, unnested side by side: one statement of six parameters, however many keys
    # (thousands of placeholders cost the driver more to send than the insert costs the server).
    keys = [key for key, _ in entries]
    records = [record for _, record in entries]
    results = [json.dumps({"id": record, "import_id": import_id, "received_at": received.isoformat(sep=" ")})
               for record in records]
    inserted = store.fetchall(
        "INSERT INTO event_keys (kind, idempotency_key, record_id, result, import_id, received_at) "
        f"SELECT ?, k, r, v, ?, ? FROM (SELECT {_LIST} AS k, {_LIST} AS r, {_LIST} AS v) new_keys "
        "ON CONFLICT DO NOTHING RETURNING idempotency_key", [kind, import_id, received, keys, records, results])
    return len(inserted)


def first_results(store: Store, kind: str, keys: list[str]) -> dict[str, dict]:
    """The first result of each of ``keys`` written before (the others are absent)."""
    if not keys:
        return {}
    rows = store.fetchall("SELECT idempotency_key, result FROM event_keys WHERE kind = ? AND idempotency_key IN "
                          f"(SELECT {_LIST})", [kind, keys])
    return {key: json.loads(result) for key, result in rows}


def known_customers(store: Store, ids: list[str]) -> set[str]:
    """Which of the shop's customer ids ``ids`` the store holds."""
    rows = store.fetchall(f"SELECT external_id FROM customers WHERE external_id IN (SELECT {_LIST})", [ids])
    return {row[0] for row in rows}


def _key_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "every item is a JSON object with an idempotency_key; this one is not an object"
    key = item.get(KEY)
    if key is None:
        return "required value is missing; give every item a key of your own (such as a UUID), unique per event"
    if not isinstance(key, str) or not key:
        return "must be a non-empty string (such as a UUID)"
    if not is_text(key) or "\x00" in key:
        return "must be text without NUL bytes or lone surrogates (such as a UUID)"
    if len(key) > KEY_LENGTH_LIMIT:
        return f"{len(key)} characters; a key may have at most {KEY_LENGTH_LIMIT}"
    return None


def _invalid(index: int, item: Any, errors: list[tuple[str, str]]) -> ItemOutcome:
    key = item.get(KEY) if isinstance(item, dict) and isinstance(item.get(KEY), str) else None
    return ItemOutcome(index=index, idempotency_key=key, status="invalid",
                       errors=[ItemError(path=path, message=message) for path, message in errors])


def _duplicate(index: int, key: str, result: dict) -> ItemOutcome:
    return ItemOutcome(index=index, idempotency_key=key, status="duplicate", id=result["id"],
                       import_id=result["import_id"], received_at=datetime.fromisoformat(result["received_at"]))


def _repeat(index: int, first: ItemOutcome) -> ItemOutcome:
    """An item whose key an earlier item of the batch has: answered as that one was."""
    if first.status == "invalid":
        return ItemOutcome(index=index, idempotency_key=first.idempotency_key, status="invalid", errors=[ItemError(
            path=f"items[{index}].{KEY}", message=f"the key of items[{first.index}], which is invalid; fix that item "
                                                   "and send one item per key")])
    return ItemOutcome(index=index, idempotency_key=first.idempotency_key, status="duplicate", id=first.id,
                       import_id=first.import_id, received_at=first.received_at)


def _rejects(kind: str, refused: list[ItemOutcome]) -> pd.DataFrame | None:
    """The invalid items' problems, recorded with the import as a file's rejects are (line: the item's index)."""
    rows = [(f"api events/{kind}", None, outcome.index, error.path, None, error.message)
            for outcome in sorted(refused, key=lambda o: o.index) for error in outcome.errors]
    if not rows:
        return None
    return pd.DataFrame(rows, columns=["source", "sheet", "line", "column", "value", "reason"])
