"""Released migrations are frozen: a checksum of each one's schema changes is pinned here.

A store records only the version numbers it has applied, so a migration edited after release
leaves the stores made before the edit "up to date" without the change (v6 was edited so once,
and v8 repairs that). A schema change is a new migration; when it ships, pin its checksum here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from retainly.store.migrations import LATEST_VERSION, MIGRATIONS, Migration

# sha256 of each released migration's statements, derived tables and sequences (see `checksum`).
RELEASED = {
    1: "6217e2cb94cfb8fccf62b7e0e3daba60e3005485d9d2b84cfe515c38b026ea15",
    2: "67035e52fe820be9096cd589b49c36c209bca2b667f8477d726650624cabeb14",
    3: "ee6bfec50295de0ca0c0d30908f2094cf090aae699515c2a03d30730e1a86246",
    4: "6fcd96c8140a67d95074507e5525f4afeb45a6352b324d8ab184129fee765689",
    5: "724bcf31eca390cbdfce389478088b424dd3a9ef138e03f9fe06a175f8c2d14a",
    6: "e44ecd039d75e3bfe15abf4e8411811e84153fd21bf15b2421f4dfe2d0eca251",
    7: "e483f37b9e1cd20d2037344bc8b9b1646ab79878cc44808c495c5dcc2bca5358",
    8: "1f9f4876096e16944caa559fa21b29847efc5a4439764482deb2db50f1c1196b",
    9: "1aaea227e1c59bd7440e5edd918b36ba817db9900ba9d2076ed633d21d98c70f",
    10: "e435853b6afdbb79d1c532a568a1ad5e45a1d7648cea6c0cf55e42de48b35f4a",
    11: "25270d10d57834c825d3a2fb4089e36b0a53424ac8e9a32995f1b2778223caf3",
    12: "896aaf6cdb6d7f626e6ceb08b5e1535ae0f1267365dd936e55e1f0c7ffd91cb5",
    13: "e3a7dddcb424fe1319c4f924ebf7060399d3fcd2800f1a567bdfa501af54385c",
    14: "a02e8ffdf3cc5abba0225f2b78f94b08b5b149541c4ab38281e993ef09a16410",
    15: "abd62bbad0d8d59dabe4730c70389887a03b9f699b6aff02f1f2be7a5e49651e",
    16: "e2b70f118fa993e9d82a2011410e39d748cf3c1e6a421de9a84c85c6fe32fba3",
    17: "effb969d3b2b98550f90e2c3252e712e8891adef3bfcf866b3d23bdaafe0e0b2",
    18: "b5809193e9ae2ce7bbd3ef85b268ea2a50b661fdadf75061512b902829f77bf3",
    19: "a2e95c34b4f33d5ef49634e01573b62b1277b4d0d6e1e9b0e49032ce04e806d2",
    20: "3a473c3da0fdf3f0f0505d61e9e4f21a29868a6d458611becb076954745a2a7f",
    21: "45af98ad9a6132c1e0630cdf790ba44d46a5c01b5c3cc9bc95039a89f57a2b94",
    22: "6847d786b7cf93fc7b2a04b0d5cffada9f3cf1f315c233b17e65df0ac22f8275",
}


def checksum(migration: Migration) -> str:
    """What a migration does to a store, as one hash: its name and timestamps aside."""
    parts = {
        "statements": list(migration.statements),
        "derived": list(migration.derived),
        "sequences": [list(sequence) for sequence in migration.sequences],
    }
    if migration.engines != Migration.engines:  # counted only where set, so older checksums stand
        parts["engines"] = list(migration.engines)
    payload = json.dumps(parts)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def frozen_problems(migrations) -> list[str]:
    """Every released migration that changed or went missing, and every one not pinned yet."""
    problems = []
    known = {m.version: m for m in migrations}
    for version, pinned in RELEASED.items():
        if version not in known:
            problems.append(f"v{version} is gone")
        elif checksum(known[version]) != pinned:
            problems.append(f"v{version} changed")
    problems += [f"v{v} has no pinned checksum (pin it when it ships: {checksum(known[v])})"
                 for v in sorted(known) if v not in RELEASED]
    return problems


def test_released_migrations_are_unchanged():
    problems = frozen_problems(MIGRATIONS)
    assert not problems, f"released migrations are frozen: add a new migration ({'; '.join(problems)})"


def test_an_edit_to_a_released_migration_is_caught():
    v6 = next(m for m in MIGRATIONS if m.version == 6)
    edited = dataclasses.replace(v6, statements=(*v6.statements, "CREATE TABLE afterthought (x INTEGER)"))
    assert frozen_problems([edited if m is v6 else m for m in MIGRATIONS]) == ["v6 changed"]
    renamed = dataclasses.replace(v6, name="a better name")  # the name is what `db status` shows, not the schema
    assert frozen_problems([renamed if m is v6 else m for m in MIGRATIONS]) == []
    unpinned = Migration(LATEST_VERSION + 1, "next", ("CREATE TABLE next_one (x INTEGER)",))
    assert frozen_problems([*MIGRATIONS, unpinned])[0].startswith(f"v{LATEST_VERSION + 1} has no pinned checksum")
    v12 = next(m for m in MIGRATIONS if m.version == 12)  # runs on DuckDB only
    moved = dataclasses.replace(v12, engines=("duckdb", "postgres"))  # the engines it runs on are part of it
    assert frozen_problems([moved if m is v12 else m for m in MIGRATIONS]) == ["v12 changed"]
