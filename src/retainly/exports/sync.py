"""One run of an export: who the source holds, who may be sent, what changed, sent, then recorded.

1. Everything that can be refused is checked first: the target's key in the environment, the
   default country, the audience's size against the platform's minimum. A refusal raises
   ``InputError`` and leaves nothing behind: no file, no call, no record.
2. The source's customers as of the day, kept only with the consent the target needs and no
   suppression (retainly.exports.sources), are laid out as the target takes them
   (retainly.exports.targets); phones that cannot be read are reported per customer and the
   customer goes without the phone.
3. Compared with who the target holds (``export_members``): who joined, who left (left the
   source, withdrew consent, was suppressed or erased) and whose identifiers changed.
4. Sent: an **incremental** export sends the joiners (and changed) as additions and the leavers
   (and the changed ones' old identifiers) as removals, from the identifiers they were sent, so
   a removal works after an address changed or was erased; files come as an "add" and a
   "remove" file. A **full** export sends everyone it holds now (one file; an API gets them all
   again, and the removals). Nothing to send, nothing sent.
5. Recorded in one transaction: the run, what it sent, the target's new members. Files are
   written under a temporary name and renamed when complete; a failure removes them.

An API that refuses (or cannot be reached) leaves the run ``failed`` with its answer and records
nothing as sent: the next run sends the same again (each platform takes a repeat as the same).
Below the platform's minimum, a target that holds nobody yet is refused; one that holds members
from an earlier run gets the removals only, so that a withdrawn consent still leaves the platform.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from retainly.errors import InputError
from retainly.exports import records, sources, targets
from retainly.exports.clients import CallFailed, client_for
from retainly.exports.definitions import Export
from retainly.exports.formats import MINIMUM_SIZE, check_audience_size
from retainly.store.backends import Store

PROBLEMS_IN_MESSAGE = 20  # phones named in the run's message; the result lists them all


@dataclass
class RunOutcome:
    export: str
    as_of: date
    status: str
    run_id: int | None = None
    added: int = 0
    removed: int = 0
    kept: int = 0
    match_keys: dict = field(default_factory=dict)
    destination: str | None = None
    message: str | None = None
    phone_problems: list[tuple[str, str, str]] = field(default_factory=list)


def credentials(export: Export, environ: Mapping[str, str]) -> str | None:
    """The key of an API target, from the environment variable its options (or the default) name."""
    spec = export.spec
    if not spec.api:
        return None
    variable = export.options.get("credentials_env") or spec.credentials
    secret = (environ.get(variable) or "").strip()
    if not secret:
        raise InputError(f"export {export.name!r} ({export.target}) needs its key in the environment variable "
                         f"{variable}, which is not set; set it (or name another variable with the option "
                         "`credentials_env`); nothing was sent", parameter="credentials_env")
    return secret


def run_export(store: Store, export: Export, as_of: date, default_country: str | None, folder: str,
               environ: Mapping[str, str] | None = None, http: dict | None = None) -> RunOutcome:
    """Run ``export`` as of ``as_of`` (see the module doc). ``default_country`` and ``folder`` are the
    settings' fallbacks for the export's options; ``http`` passes time-outs and retries to the client."""
    started = datetime.now().replace(microsecond=0)
    secret = credentials(export, os.environ if environ is None else environ)
    country = export.options.get("default_country") or default_country
    if export.spec.platform is not None and not country:
        raise InputError(f"export {export.name!r}: phones are read in the shop's country, and none is set; give "
                         "the export the option `default_country` (e.g. US) or set default_country under [exports] "
                         "in retainly.toml", parameter="default_country")
    customers = sources.consenting(store, sources.source_customers(store, export, as_of), export.consent())
    shop_ids = dict(zip(customers["customer_id"].to_pylist(), customers["external_id"].to_pylist()))
    built = targets.build(export, customers, country)
    current = {cid: json.dumps(ids, sort_keys=True, ensure_ascii=False)
               for cid, ids in zip(built.customers, built.identifiers)}
    rows = dict(zip(built.customers, built.rows))
    held = records.held(store, export.name)
    joined = [cid for cid in current if cid not in held]
    left = sorted(cid for cid in held if cid not in current)
    changed = [cid for cid in current if cid in held and held[cid] != current[cid]]
    kept = [cid for cid in current if cid in held and held[cid] == current[cid]]
    notes = []
    minimum = MINIMUM_SIZE.get(export.spec.platform, 0)
    below = len(current) < minimum
    if below:
        if not held:
            try:
                check_audience_size(export.spec.platform, len(current))
            except InputError as error:
                raise InputError(f"export {export.name!r}: {error}; nothing was written or sent") from None
        notes.append(f"{len(current):,} customers, below {export.spec.platform}'s minimum of {minimum:,}: only "
                     "removals sent")
        joined, changed, kept = [], [], [cid for cid in held if cid not in left]
    adds = [] if below else joined + changed if export.incremental else joined + changed + kept
    stale = set(current.values())  # identifiers someone still holds are never removed
    removals = [json.loads(held[cid]) for cid in left + changed if held[cid] not in stale]
    run_id = records.next_run_id(store)
    sent = {shop_ids[cid] for cid in adds} if built.problems else set()
    problems = [problem for problem in built.problems if problem[0] in sent]  # of those sent in this run
    outcome = RunOutcome(export.name, as_of, records.COMPLETED, run_id, len(joined) + len(changed), len(left),
                         len(kept), built.match_keys, phone_problems=problems)
    if problems:
        shown = "; ".join(f"customer {who}: {why}" for who, _phone, why in problems[:PROBLEMS_IN_MESSAGE])
        more = len(problems) - PROBLEMS_IN_MESSAGE
        notes.append(f"{len(problems)} phones could not be read and were sent without them: {shown}"
                     + (f"; and {more} more" if more > 0 else ""))
    written: list[Path] = []
    try:
        if secret is not None:
            destination, detail = _call(export, secret, [rows[cid] for cid in adds],
                                        targets.removal_rows(export, removals), http or {})
            notes += [detail] if detail else []
        else:
            written = _write_files(export, run_id, folder, [rows[cid] for cid in adds],
                                   targets.removal_rows(export, removals))
            destination = ", ".join(str(path) for path in written) or None
    except CallFailed as failure:
        done = f"; {failure.calls_done} earlier calls of this run had been taken, and are sent again next time" \
            if failure.calls_done else ""
        outcome.status, outcome.added, outcome.removed, outcome.kept = records.FAILED, 0, 0, 0
        outcome.message = f"{failure.answer}{done}"
        outcome.destination = export.options.get("base_url") or export.target
        records.record_failed(store, _row(outcome, started))
        return outcome
    outcome.destination = destination
    outcome.message = "; ".join(notes) or None
    changes = [(cid, "add") for cid in joined + changed] + [(cid, "remove") for cid in left]
    members = [(cid, current[cid]) for cid in joined + changed]
    try:
        records.record_completed(store, _row(outcome, started), changes, left, members)
    except BaseException:
        for path in written:  # not recorded, so not sent: no file says otherwise
            path.unlink(missing_ok=True)
        raise
    return outcome


def _row(outcome: RunOutcome, started: datetime) -> records.RunRow:
    return records.RunRow(outcome.run_id, outcome.export, started, datetime.now().replace(microsecond=0),
                          outcome.status, outcome.added, outcome.removed, outcome.kept, outcome.match_keys,
                          outcome.destination, outcome.message)


def _call(export: Export, secret: str, adds: list, removals: list, http: dict) -> tuple[str | None, str]:
    """Send the additions and removals through the target's API: (what was called, the platform's counts)."""
    if not adds and not removals:
        return None, ""
    client = client_for(export.target, export.options, secret, **http)
    try:
        if removals:  # withdrawn consent first: it must leave even if the additions are refused
            client.remove(removals)
        if adds:
            client.add(adds)
        return getattr(client, "base", None) or getattr(client, "url", None), client.detail()
    finally:
        client.close()


def _write_files(export: Export, run_id: int, folder: str, adds: list, removals: list) -> list[Path]:
    """The run's files, each written under a temporary name and renamed once complete: a full export
    one file of everyone, an incremental one an "add" and a "remove" file (each only when not empty)."""
    place = Path(export.options.get("folder") or folder)
    try:
        place.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"export {export.name!r}: cannot make the folder {place} ({error.strerror}); choose "
                         "another with the option `folder`", parameter="folder") from None
    suffix = "parquet" if export.target == "parquet" else "csv"
    wanted = ([("add", adds, False), ("remove", removals, True)] if export.incremental
              else [("", adds, False)])
    done: list[tuple[Path, Path]] = []
    try:
        for part, rows, removal in wanted:
            if not rows:
                continue
            final = place / f"{export.name}-{run_id}{'-' + part if part else ''}.{suffix}"
            partial = final.with_name(f".{final.name}.part")
            done.append((partial, final))
            targets.write_file(export, rows, partial, removal)
        for partial, final in done:
            os.replace(partial, final)
    except BaseException:
        for partial, final in done:
            partial.unlink(missing_ok=True)
            final.unlink(missing_ok=True)
        raise
    return [final for _, final in done]
