"""Who an export takes, as of a day, and which of them may be sent.

* ``audience:<name>``: the customers the saved audience's rule matches as of the day
  (retainly.audiences: the same rule, compiled in the engine; nothing is written).
* ``playbook:<name>``: the customers the playbook's export steps naming this export reached (their
  outbox rows on channel ``export`` sent), while the enrolment's goal window lasts: from the day
  they were enrolled to ``goal_days`` later. Someone whose window has passed leaves the source,
  and an incremental export removes them from the target.

Consent comes last and always (``consenting``): email services take customers with email consent
and no suppression on ``email`` or ``all``; ad platforms customers with consent to advertising
and no suppression on ``ads`` or ``all``; a generic file the consent its options name. A
suppression always wins over the consent imported with the customers.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from retainly.audiences import membership
from retainly.audiences.compile import matching
from retainly.audiences.fields import CATALOG
from retainly.audiences.tree import Rule
from retainly.audiences.validate import validate
from retainly.exports.definitions import Export, parse_source
from retainly.playbooks import saved
from retainly.store.backends import Store

# The consent column, and the suppression channels besides "all", each kind of export needs.
CONSENT = {"email": ("email_consent", "email"), "sms": ("sms_consent", "sms"), "ads": ("ads_consent", "ads")}
CUSTOMERS = pa.schema([("customer_id", pa.int64()), ("external_id", pa.string()), ("name", pa.string()),
                       ("email", pa.string()), ("phone", pa.string()), ("country", pa.string()),
                       ("zip", pa.string()), ("birthday", pa.date32())])


def audience_rule(store: Store, source: str) -> Rule | None:
    """The checked rule of an ``audience:`` source (None for a playbook's): what its fields read must
    be computed for the day first (the service does that)."""
    kind, name = parse_source(source)
    return validate(membership.get(store, name).rule, CATALOG) if kind == "audience" else None


def source_customers(store: Store, export: Export, as_of: date) -> pa.Array:
    """The retainly ids of the customers ``export``'s source holds as of ``as_of``, ascending."""
    kind, name = parse_source(export.source)
    if kind == "audience":
        found = matching(store, audience_rule(store, export.source), as_of).to_pyarrow()["customer_id"]
    else:
        found = _reached_by_playbook(store, name, export.name, as_of)
    ids = pc.unique(pc.cast(found, pa.int64()))
    return pc.take(ids, pc.sort_indices(ids))


def _reached_by_playbook(store: Store, playbook: str, export_name: str, as_of: date) -> pa.Array:
    steps = [number for number, step in enumerate(saved.get(store, playbook).steps, start=1)
             if step.action == "export" and step.export == export_name]
    if not steps:
        return pa.array([], pa.int64())
    rows = store.fetch_arrow(
        "SELECT o.customer_id, e.enrolled_on, e.goal_days FROM outbox o JOIN enrolments e ON e.playbook = o.playbook "
        "AND e.customer_id = o.customer_id AND e.occurrence = o.occurrence WHERE o.playbook = ? AND o.channel = ? "
        f"AND o.status = 'sent' AND o.step IN ({', '.join('?' * len(steps))}) AND e.enrolled_on <= ?",
        (playbook, "export", *steps, as_of))
    if not rows.num_rows:
        return pa.array([], pa.int64())
    since = pc.cast(rows["enrolled_on"], pa.date32()).combine_chunks()
    days = (pa.scalar(as_of, pa.date32()).cast(pa.int32()).as_py() - pc.cast(since, pa.int32()).to_numpy())
    inside = days <= pc.fill_null(pc.cast(rows["goal_days"], pa.int64()), 0).to_numpy()
    return pc.filter(rows["customer_id"], pa.array(inside)).combine_chunks()


def consenting(store: Store, customer_ids: pa.Array, consent: str) -> pa.Table:
    """The customers among ``customer_ids`` who may be sent under ``consent`` (email, sms or ads), with
    what exports read of them (``CUSTOMERS``), in id order."""
    column, channel = CONSENT[consent]
    if not len(customer_ids):
        return CUSTOMERS.empty_table()
    with store.staged(pa.table({"customer_id": pa.array(customer_ids, pa.int64())})) as staged:
        found = store.fetch_arrow(
            "SELECT c.customer_id, c.external_id, c.name, c.email, c.phone, c.country, c.postal_code AS zip, "
            f'c.birthday FROM customers c JOIN "{staged}" s ON s.customer_id = c.customer_id '
            f"WHERE c.{column} = TRUE AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.customer_id = c.customer_id "
            "AND x.channel IN ('all', ?)) ORDER BY c.customer_id", (channel,))
    return found.select(CUSTOMERS.names).cast(CUSTOMERS)
