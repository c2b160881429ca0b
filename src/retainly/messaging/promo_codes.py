"""Promo codes: pools of codes, one per customer and pool, given out by the messages that name them.

A shop fills a pool with its own codes (imported: the ones its shop system accepts) or generated
ones, which it then loads into its shop system. A message step with ``promo_pool`` may say
``{{ promo_code }}``: a run gives each customer it plans the step for their code of that pool,
the one given before or else the next free one (in code order), and writes the assignments in
the same transaction as the outbox rows, so a code is never given twice nor lost. A customer for
whom the pool has no code left is skipped, with the reason. An order placed with a given code is
matched to the message that gave it (retainly.playbooks.attribution).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from retainly.errors import ConflictError, InputError
from retainly.store.backends import Store

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$")
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$")
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or typed from a phone
GENERATED_LENGTH = 8


def checked_pool(pool: str, parameter: str = "pool") -> str:
    if not isinstance(pool, str) or not NAME.match(pool):
        raise InputError(f"promo pool {pool!r}: name it with 2-64 letters, digits, - or _", parameter=parameter)
    return pool


def generated(count: int, prefix: str = "") -> list[str]:
    """``count`` random codes (``prefix`` and 8 characters of an unambiguous alphabet), all different."""
    if count < 1 or count > 1_000_000:
        raise InputError(f"`count` {count}: generate from 1 to 1,000,000 codes at a time", parameter="count")
    found: set[str] = set()
    while len(found) < count:
        found.add(prefix + "".join(secrets.choice(ALPHABET) for _ in range(GENERATED_LENGTH)))
    return sorted(found)


def add_codes(store: Store, pool: str, codes: Iterable[str], now: datetime, where: str = "codes") -> tuple[int, int]:
    """Add ``codes`` to ``pool`` (all or none); (added, already there). A bad code is named with its place."""
    pool = checked_pool(pool)
    cleaned = []
    for number, code in enumerate(codes, start=1):
        code = str(code).strip()
        if not CODE.match(code):
            raise InputError(f"{where}: code {number} {code!r} is not a promo code: 3-64 letters, digits, - or _",
                             parameter="codes")
        cleaned.append(code)
    unique = pa.table({"code": pa.array(list(dict.fromkeys(cleaned)), pa.string())})
    # One statement for a pool of any size, all or none. The conflict target is the code: without it
    # DuckDB 1.5 takes the free codes' (pool, NULL) pairs of one batch for conflicts and keeps one.
    with store.staged(unique) as staged:
        added = store.changed(f'INSERT INTO promo_codes (code, pool, created_at) SELECT code, ?, ? FROM "{staged}" '
                              "ON CONFLICT (code) DO NOTHING", (pool, now))
    return added, len(cleaned) - added


def read_codes(path: Path) -> list[str]:
    """The codes of a file: one a line, or a CSV's first column; a first line ``code`` is a header."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the codes ({exc}); give a UTF-8 text file, one code a line",
                         parameter="path") from None
    codes = [line.split(",")[0].strip().strip('"') for line in lines if line.strip()]
    if codes and codes[0].lower() in ("code", "codes", "promo_code"):
        codes = codes[1:]
    if not codes:
        raise InputError(f"{path}: no codes in it; give one code a line", parameter="path")
    return codes


def pools(store: Store) -> list[dict]:
    """Each pool: its codes, those given and those free."""
    return [{"pool": pool, "codes": int(codes), "given": int(given), "free": int(codes) - int(given)}
            for pool, codes, given in store.fetchall(
                "SELECT pool, COUNT(*), COUNT(customer_id) FROM promo_codes GROUP BY pool ORDER BY pool")]


def code_of(store: Store, pool: str, customer_id: int) -> str | None:
    """The code of ``pool`` given to the customer, if any."""
    found = store.fetchall("SELECT code FROM promo_codes WHERE pool = ? AND customer_id = ?", (pool, customer_id))
    return found[0][0] if found else None


class CodePlan:
    """The codes a run gives out, decided in memory while it plans and written with its outbox rows."""

    def __init__(self, store: Store):
        self.store = store
        self._given: dict[str, dict[int, str]] = {}  # pool -> customer -> code (before this run, or in it)
        self._free: dict[str, list[str]] = {}
        self._new: list[tuple[str, int, str]] = []  # (code, customer, message key) given by this run

    def take(self, pool: str, customer_ids: np.ndarray, keys: list[str]) -> np.ndarray:
        """Each row's code of ``pool`` (None where the pool has none left for its customer)."""
        if pool not in self._given:
            self._given[pool] = {int(c): code for code, c in self.store.fetchall(
                "SELECT code, customer_id FROM promo_codes WHERE pool = ? AND customer_id IS NOT NULL", (pool,))}
            self._free[pool] = [code for (code,) in self.store.fetchall(
                "SELECT code FROM promo_codes WHERE pool = ? AND customer_id IS NULL ORDER BY code DESC", (pool,))]
        given, free = self._given[pool], self._free[pool]
        codes = np.empty(len(customer_ids), object)
        for row, (customer, key) in enumerate(zip(customer_ids.tolist(), keys, strict=True)):
            code = given.get(customer)
            if code is None and free:
                code = given[customer] = free.pop()  # the lowest free code
                self._new.append((code, customer, key))
            codes[row] = code
        return codes

    def write(self, now: datetime) -> None:
        """Write this run's codes (in the caller's transaction); ConflictError if another run took one meanwhile."""
        if not self._new:
            return
        given = pa.table({name: pa.array(values, kind) for name, values, kind in zip(
            ("code", "customer_id", "message_key"), zip(*self._new), (pa.string(), pa.int64(), pa.string()))})
        with self.store.staged(given) as staged:
            written = self.store.changed(
                f'UPDATE promo_codes SET customer_id = s.customer_id, message_key = s.message_key, assigned_at = ? '
                f'FROM "{staged}" AS s WHERE promo_codes.code = s.code AND promo_codes.customer_id IS NULL', (now,))
        if written != len(self._new):
            raise ConflictError(f"{len(self._new) - written} of this run's promo codes were given by another run "
                                "meanwhile; nothing of this run was written: run it again")
        self._new = []
