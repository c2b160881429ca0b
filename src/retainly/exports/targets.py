"""What each target is sent for each customer, built from the consenting customers of a run.

``build`` normalises the customers for the target's platform (retainly.exports.formats.prepare)
and lays each usable one out as the target takes them (retainly.exports.platforms): a row of
the file, or an item of the API call. Beside each row it keeps the customer's **identifiers**:
what the target was sent to match them on, hashed where the platform hashes, which
``export_members`` stores so a later run can remove them even after their address changed or
was erased. ``removal_rows`` lays identifiers out as a removal (the "remove" file, the
platform's delete call); ``write_file`` writes rows under the target's header.

    target          rows (header or item)                                   identifiers
    google_csv      Email, Phone, First Name, Last Name (SHA-256), Country, Zip   the row
    meta_csv/_api   EMAIL, PHONE, FN, LN, COUNTRY, ZIP, all SHA-256               the row
    vk_csv          id: MD5 of the email or the phone (digits)                    the row
    mailchimp_*     the import CSV's columns / a member upserted by its hash      email, subscriber hash
    unisender_*     email, phone, Name (email_list_ids, tags)                     email, phone
    csv, parquet    the chosen fields, as stored                                  the row
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from retainly.exports.definitions import Export
from retainly.exports.formats import COLUMNS, MatchKeys, match_keys, prepare, usable, write_csv
from retainly.exports.normalise import hash_column
from retainly.exports.platforms import (
    GOOGLE_HEADER,
    MAILCHIMP_HEADER,
    META_CSV_HEADER,
    META_SCHEMA,
    google_table,
    mailchimp_members,
    meta_rows,
    unisender_imports,
)

MAILCHIMP_IDENTIFIERS = ("email_address", "subscriber_hash")
UNISENDER_REMOVAL = ("email", "phone", "delete")  # importContacts deletes a contact whose "delete" is 1


class Built(NamedTuple):
    """The customers a target can take (retainly ids), and per customer its row and identifiers."""

    customers: list[int]
    rows: list[dict]
    identifiers: list[dict]
    match_keys: dict
    problems: list[tuple[str, str, str]]  # (the shop's customer id, the phone, why it could not be used)


def build(export: Export, customers: pa.Table, default_country: str | None) -> Built:
    """``customers`` (retainly.exports.sources.CUSTOMERS) as ``export``'s target takes them."""
    platform, options = export.spec.platform, export.options
    if platform is None:
        return _generic(customers, options["fields"])
    named = customers.rename_columns(["customer" if c == "customer_id" else c for c in customers.column_names])
    prepared = prepare(named.select(list(COLUMNS)), platform, default_country)
    shop_ids = dict(zip(customers["customer_id"].to_pylist(), customers["external_id"].to_pylist()))
    problems = [(shop_ids[p.customer], p.phone, p.reason) for p in prepared.problems]
    keys = match_keys(prepared)._asdict()
    kept = prepared.table.filter(usable(prepared))
    ids = kept["customer"].to_pylist()
    if platform == "google":
        rows = google_table(prepared).to_pylist()
        return Built(ids, rows, rows, keys, problems)
    if platform == "meta":
        rows = [dict(zip(META_SCHEMA, row)) for row in meta_rows(prepared)]
        return Built(ids, rows, rows, keys, problems)
    if platform == "vk":
        column = "email" if options.get("identifier", "email_md5") == "email_md5" else "phone"
        values = hash_column(prepared.table[column], "md5")
        present = pc.is_valid(values)
        ids = prepared.table["customer"].filter(present).to_pylist()
        rows = [{"id": value} for value in values.filter(present).to_pylist()]
        keys["usable"] = len(rows)  # a VK list holds one identifier: who lacks it cannot be in it
        return Built(ids, rows, rows, keys, problems)
    if platform == "mailchimp":
        members = [member for batch in mailchimp_members(prepared, options.get("tags", ()),
                                                         options.get("status_if_new", "subscribed"))
                   for member in batch]
        identifiers = [{key: member[key] for key in MAILCHIMP_IDENTIFIERS} for member in members]
        if export.spec.api:
            return Built(ids, members, identifiers, keys, problems)
        rows = [dict(zip(MAILCHIMP_HEADER, (m["email_address"], m["merge_fields"].get("FNAME"),
                                            m["merge_fields"].get("LNAME"), m["merge_fields"].get("PHONE"),
                                            m["merge_fields"].get("BIRTHDAY"), ",".join(m["tags"]) or None)))
                for m in members]
        return Built(ids, rows, identifiers, keys, problems)
    calls = unisender_imports(prepared, options.get("list_ids", ()), options.get("tags", ()))
    rows = [dict(zip(call["field_names"], row)) for call in calls for row in call["data"]]
    identifiers = [{"email": row["email"] or None, "phone": row["phone"] or None} for row in rows]
    return Built(ids, rows, identifiers, keys, problems)


def _generic(customers: pa.Table, fields: list[str]) -> Built:
    """The chosen fields as stored (the shop's id as ``customer``); every consenting customer is a row."""
    table = customers.rename_columns(["customer" if c == "external_id" else c for c in customers.column_names])
    rows = [{field: _plain(row[field]) for field in fields} for row in table.select(fields).to_pylist()] \
        if table.num_rows else []

    def filled(name: str) -> pa.Array:
        text = pc.utf8_trim_whitespace(pc.cast(table[name], pa.string()))
        return pc.fill_null(pc.greater(pc.utf8_length(text), 0), False)

    count = table.num_rows
    total = (lambda mask: int(pc.sum(mask).as_py() or 0)) if count else (lambda mask: 0)
    keys = MatchKeys(rows=count, email=total(filled("email")), phone=total(filled("phone")),
                     name=total(filled("name")), address=total(pc.and_(filled("country"), filled("zip"))),
                     usable=count)._asdict()
    return Built(customers["customer_id"].to_pylist(), rows, rows, keys, [])


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value


def removal_rows(export: Export, identifiers: list[dict]) -> list[dict]:
    """What a removal sends for customers the target holds, from the identifiers it was sent."""
    platform = export.spec.platform
    if platform == "mailchimp" and not export.spec.api:
        return [{"Email Address": found["email_address"]} for found in identifiers]
    if platform == "unisender":
        return [{"email": found.get("email"), "phone": found.get("phone"), "delete": 1} for found in identifiers]
    return identifiers


def header(export: Export, removal: bool = False) -> tuple[str, ...]:
    """The columns of the target's file (``removal``: of its remove file)."""
    platform = export.spec.platform
    if platform is None:
        return tuple(export.options["fields"])
    if platform == "google":
        return GOOGLE_HEADER
    if platform == "meta":
        return META_SCHEMA  # written under META_CSV_HEADER
    if platform == "vk":
        return ("id",)
    if platform == "mailchimp":
        return ("Email Address",) if removal else MAILCHIMP_HEADER
    if removal:
        return UNISENDER_REMOVAL
    return ("email", "phone", "Name", *(["email_list_ids"] if export.options.get("list_ids") else []),
            *(["tags"] if export.options.get("tags") else []))


def write_file(export: Export, rows: list[dict], path: Path, removal: bool = False) -> int:
    """``rows`` written to ``path`` in the target's format (CSV cells neutralised, UTF-8); the rows written."""
    columns = header(export, removal)
    if export.spec.platform == "vk":  # one identifier a line, each once
        rows = [{"id": value} for value in dict.fromkeys(row["id"] for row in rows)]
    values = {name: [row.get(name) for row in rows] for name in columns}
    if export.target == "parquet":
        table = pa.table({name: pa.array([_cell(v) for v in values[name]], pa.string()) for name in columns})
        if "birthday" in columns:
            table = table.set_column(table.column_names.index("birthday"), "birthday",
                                     pc.cast(table["birthday"], pa.date32()))
        pq.write_table(table, str(path))
        return table.num_rows
    shown = META_CSV_HEADER if export.spec.platform == "meta" else columns
    return write_csv(path, shown, [pa.array([_cell(v) for v in values[name]], pa.string()) for name in columns])


def _cell(value):
    return None if value is None or value == "" else str(value)
