"""What exports record: each run (``export_runs``), what it sent (``export_changes``) and who each
target holds after its last completed run, with the identifiers it was sent (``export_members``).

A completed run is written in one transaction: its row, its changes and the target's new members
together, after the file was written or the platform answered. A failed run writes its row alone
(with the platform's answer), in a transaction of its own: nothing is recorded as sent, so the
next run sends it all again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from retainly.store.backends import Store, repeated

COMPLETED, FAILED = "completed", "failed"
RUN_COLUMNS = ("run_id", "export_name", "started_at", "finished_at", "status", "added", "removed", "kept",
               "match_keys", "destination", "message")


@dataclass(frozen=True)
class RunRow:
    run_id: int
    export_name: str
    started_at: datetime
    finished_at: datetime
    status: str
    added: int
    removed: int
    kept: int
    match_keys: dict
    destination: str | None
    message: str | None

    def values(self) -> tuple:
        return (self.run_id, self.export_name, self.started_at, self.finished_at, self.status, self.added,
                self.removed, self.kept, json.dumps(self.match_keys), self.destination, self.message)


def next_run_id(store: Store) -> int:
    return int(store.fetchone("SELECT nextval('export_run_ids')")[0])


def held(store: Store, export_name: str) -> dict[int, str]:
    """Who the export's target holds: customer id -> the identifiers (JSON text) it was sent."""
    return {int(cid): identifiers for cid, identifiers in store.fetchall(
        "SELECT customer_id, identifiers FROM export_members WHERE export_name = ?", (export_name,))}


def record_completed(store: Store, run: RunRow, changes: list[tuple[int, str]], gone: list[int],
                     members: list[tuple[int, str]]) -> None:
    """``run`` with what it sent (customer, ``add`` or ``remove``), the members it removed (``gone``) and
    those it added or sent anew (customer, identifiers), in one transaction."""
    with store.transaction():
        _insert_run(store, run)
        if changes:
            store.insert_arrow("export_changes", pa.table({
                "run_id": repeated(run.run_id, pa.int64(), len(changes)),
                "customer_id": pa.array([cid for cid, _ in changes], pa.int64()),
                "change": pa.array([change for _, change in changes], pa.string())}))
        replaced = gone + [cid for cid, _ in members]
        if replaced:
            with store.staged(pa.table({"customer_id": pa.array(replaced, pa.int64())})) as staged:
                store.execute(f'DELETE FROM export_members WHERE export_name = ? AND customer_id IN '
                              f'(SELECT customer_id FROM "{staged}")', (run.export_name,))
        if members:
            store.insert_arrow("export_members", pa.table({
                "export_name": repeated(run.export_name, pa.string(), len(members)),
                "customer_id": pa.array([cid for cid, _ in members], pa.int64()),
                "identifiers": pa.array([identifiers for _, identifiers in members], pa.string()),
                "run_id": repeated(run.run_id, pa.int64(), len(members))}))


def record_failed(store: Store, run: RunRow) -> None:
    """A failed run's row alone: nothing it tried is recorded as sent."""
    with store.transaction():
        _insert_run(store, run)


def _insert_run(store: Store, run: RunRow) -> None:
    store.execute(f"INSERT INTO export_runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * len(RUN_COLUMNS))})",
                  run.values())


def runs(store: Store, export_name: str, limit: int = 20) -> list[dict]:
    """The export's latest runs, newest first, ``match_keys`` as a dict."""
    rows = store.fetchall(f"SELECT {', '.join(RUN_COLUMNS)} FROM export_runs WHERE export_name = ? "
                          f"ORDER BY run_id DESC LIMIT {int(limit)}", (export_name,))
    found = [dict(zip(RUN_COLUMNS, row)) for row in rows]
    for row in found:
        row["match_keys"] = json.loads(row["match_keys"]) if row["match_keys"] else {}
    return found


def sent(store: Store, run_id: int) -> dict[str, list[int]]:
    """What a run sent: ``add`` and ``remove`` -> the customers (retainly ids), ascending."""
    found: dict[str, list[int]] = {"add": [], "remove": []}
    for cid, change in store.fetchall("SELECT customer_id, change FROM export_changes WHERE run_id = ? "
                                      "ORDER BY customer_id", (run_id,)):
        found[change].append(int(cid))
    return found


def overview(store: Store) -> dict[str, tuple[int, str | None, datetime | None]]:
    """Per export: (customers its target holds, the last run's status, when it ended)."""
    counts = dict(store.fetchall("SELECT export_name, COUNT(*) FROM export_members GROUP BY export_name"))
    last = {name: (status, finished) for name, status, finished in store.fetchall(
        "SELECT r.export_name, r.status, r.finished_at FROM export_runs r WHERE r.run_id = "
        "(SELECT MAX(q.run_id) FROM export_runs q WHERE q.export_name = r.export_name)")}
    names = set(counts) | set(last)
    return {name: (int(counts.get(name, 0)), *last.get(name, (None, None))) for name in names}
