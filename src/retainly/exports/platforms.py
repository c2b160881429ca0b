"""Each platform's upload file and API bodies, built from an audience ``prepare``d for it.

    Google Ads Customer Match   CSV: Email, Phone, First Name, Last Name (SHA-256), Country, Zip (clear)
    Meta Custom Audiences       {"schema": [...], "data": [[...]]}, at most 10,000 rows a call; a CSV of the same
    VK Ads                      one identifier type per file, one per line, header ``id``
    Mailchimp                   the import CSV; upserts keyed by md5(lowercased email), 500 members a batch
    Unisender                   importContacts bodies, at most 500 rows a call

Rows with nothing to match on are left out (``formats.usable``). Check the audience's size
against the platform's minimum with ``formats.check_audience_size`` before uploading. Sending
these is the caller's part; nothing here opens a connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from retainly.errors import InputError
from retainly.exports.formats import Prepared, check_tags, chunks, usable, write_csv
from retainly.exports.normalise import hash_column

GOOGLE_HEADER = ("Email", "Phone", "First Name", "Last Name", "Country", "Zip")
META_SCHEMA = ("EMAIL", "PHONE", "FN", "LN", "COUNTRY", "ZIP")
META_CSV_HEADER = ("email", "phone", "fn", "ln", "country", "zip")  # the column names of Meta's file template
META_ROWS_PER_CALL = 10_000
VK_IDENTIFIERS = {"email": ("email", None), "phone": ("phone", None),
                  "email_md5": ("email", "md5"), "phone_md5": ("phone", "md5")}
MAILCHIMP_HEADER = ("Email Address", "First Name", "Last Name", "Phone Number", "Birthday", "Tags")
MAILCHIMP_MEMBERS_PER_BATCH = 500
# Statuses a *new* member may get. The status of an existing member is never sent, so nobody
# who unsubscribed (or was cleaned) is ever subscribed again by an export.
MAILCHIMP_NEW_STATUSES = ("subscribed", "pending", "transactional")
UNISENDER_ROWS_PER_CALL = 500
_HASHED = ("email", "phone", "first_name", "last_name")


def google_table(prepared: Prepared) -> pa.Table:
    """The Customer Match rows under ``GOOGLE_HEADER``: identifiers SHA-256 hex, country and zip in clear."""
    table = _rows(prepared, "google")
    columns = [hash_column(table[name]) for name in _HASHED] + [table["country"].combine_chunks(),
                                                                 table["zip"].combine_chunks()]
    return pa.table(dict(zip(GOOGLE_HEADER, columns)))


def write_google_csv(prepared: Prepared, path: str | Path) -> int:
    """The Customer Match upload file (UTF-8); the rows written."""
    table = google_table(prepared)
    return write_csv(path, GOOGLE_HEADER, table.columns)


def meta_rows(prepared: Prepared) -> list[list[str]]:
    """The Custom Audience rows in ``META_SCHEMA`` order, every value SHA-256 hex, "" where unknown."""
    table = _rows(prepared, "meta")
    columns = [hash_column(table[name]).fill_null("").to_pylist() for name in (*_HASHED, "country", "zip")]
    return [list(row) for row in zip(*columns)]


def meta_payloads(prepared: Prepared) -> list[dict]:
    """The ``payload`` of each call adding the audience (the same body with DELETE removes it), 10,000 rows a call."""
    return [{"schema": list(META_SCHEMA), "data": data} for data in chunks(meta_rows(prepared), META_ROWS_PER_CALL)]


def write_meta_csv(prepared: Prepared, path: str | Path) -> int:
    """The Custom Audience file: the same hashed values as ``meta_payloads``, empty cells where unknown."""
    rows = meta_rows(prepared)
    columns = [pa.array([row[i] or None for row in rows], pa.string()) for i in range(len(META_SCHEMA))]
    return write_csv(path, META_CSV_HEADER, columns)


def vk_ids(prepared: Prepared, identifier: str) -> pa.Array:
    """The distinct values of one identifier (``VK_IDENTIFIERS``) in the audience, in order of appearance."""
    _expect(prepared, "vk")
    if identifier not in VK_IDENTIFIERS:
        raise InputError(f"`identifier` {identifier!r} is not one VK takes; use one of {', '.join(VK_IDENTIFIERS)}",
                         parameter="identifier")
    column, algorithm = VK_IDENTIFIERS[identifier]
    values = pc.drop_null(prepared.table[column]).combine_chunks()
    if algorithm:
        values = hash_column(values, algorithm)
    return pc.unique(values)


def write_vk_csv(prepared: Prepared, path: str | Path, identifier: str) -> int:
    """A VK list file: header ``id``, one identifier a line (UTF-8); the identifiers written."""
    return write_csv(path, ("id",), [vk_ids(prepared, identifier)])


def write_mailchimp_csv(prepared: Prepared, path: str | Path, tags: Iterable[str] = ()) -> int:
    """The Mailchimp import file; Birthday as MM/DD, the tags comma-separated in one cell; the rows written."""
    table = _rows(prepared, "mailchimp")
    cell = ",".join(check_tags(tags)) or None
    columns = [table[name] for name in ("email", "first_name", "last_name", "phone")]
    columns += [_month_day(table["birthday"]), pa.array([cell] * table.num_rows, pa.string())]
    return write_csv(path, MAILCHIMP_HEADER, columns)


def mailchimp_members(prepared: Prepared, tags: Iterable[str] = (), status_if_new: str = "subscribed") -> list[list]:
    """The members to upsert, 500 a batch, each keyed by its subscriber hash (md5 of the lowercased email).

    A member carries ``status_if_new`` and never ``status``: an existing member keeps the status they chose."""
    if status_if_new not in MAILCHIMP_NEW_STATUSES:
        raise InputError(f"`status_if_new` {status_if_new!r} is not a status for new members; use one of "
                         f"{', '.join(MAILCHIMP_NEW_STATUSES)}", parameter="status_if_new")
    tags = list(check_tags(tags))
    table = _rows(prepared, "mailchimp")
    emails = table["email"].to_pylist()
    hashes = hash_column(table["email"], "md5").to_pylist()  # emails are lowercased by the normalisation
    merge = {"FNAME": table["first_name"].to_pylist(), "LNAME": table["last_name"].to_pylist(),
             "PHONE": table["phone"].to_pylist(), "BIRTHDAY": _month_day(table["birthday"]).to_pylist()}
    members = []
    for i, (email, subscriber_hash) in enumerate(zip(emails, hashes)):
        fields = {key: values[i] for key, values in merge.items() if values[i] is not None}  # unknown: left as is
        members.append({"subscriber_hash": subscriber_hash, "email_address": email, "status_if_new": status_if_new,
                        "merge_fields": fields, "tags": tags})
    return chunks(members, MAILCHIMP_MEMBERS_PER_BATCH)


def mailchimp_batch(list_id: str, members: list[dict]) -> dict:
    """The body of one ``POST /batches`` for a batch of ``mailchimp_members``.

    Each member is a ``PUT /lists/{list_id}/members/{hash}`` (create or update, status only if new)
    and, with tags, a ``POST .../tags`` (a member update does not set tags)."""
    if not isinstance(list_id, str) or not list_id.isalnum():
        raise InputError(f"`list_id` {list_id!r} is not a Mailchimp audience id; copy it from the audience's "
                         "settings (letters and digits)", parameter="list_id")
    operations = []
    for member in members:
        path = f"/lists/{list_id}/members/{member['subscriber_hash']}"
        body = {key: member[key] for key in ("email_address", "status_if_new", "merge_fields")}
        operations.append({"method": "PUT", "path": path, "operation_id": member["subscriber_hash"],
                           "body": json.dumps(body, ensure_ascii=False)})
        if member["tags"]:
            tags = [{"name": tag, "status": "active"} for tag in member["tags"]]
            operations.append({"method": "POST", "path": f"{path}/tags", "body": json.dumps({"tags": tags},
                                                                                              ensure_ascii=False)})
    return {"operations": operations}


def unisender_imports(prepared: Prepared, list_ids: Iterable[int] = (), tags: Iterable[str] = ()) -> list[dict]:
    """The ``importContacts`` bodies (``field_names``, ``data``), 500 rows a call; every row has an email or a phone.

    No status field is sent, so the import never changes whether a contact is subscribed."""
    list_ids = list(list_ids)
    for list_id in list_ids:
        if isinstance(list_id, bool) or not isinstance(list_id, int) or list_id <= 0:
            raise InputError(f"`list_ids`: {list_id!r} is not a Unisender list id (a positive whole number)",
                             parameter="list_ids")
    tags = check_tags(tags)
    table = _rows(prepared, "unisender")
    names = pc.binary_join_element_wise(table["first_name"], table["last_name"].fill_null(""), " ")
    field_names = ["email", "phone", "Name"]
    columns = [table["email"].fill_null(""), table["phone"].fill_null(""), pc.utf8_rtrim_whitespace(names)]
    data = [list(row) for row in zip(*(column.fill_null("").to_pylist() for column in columns))]
    extra = []
    if list_ids:
        field_names.append("email_list_ids")
        extra.append(",".join(str(list_id) for list_id in list_ids))
    if tags:
        field_names.append("tags")
        extra.append(",".join(tags))
    data = [row + extra for row in data]
    return [{"field_names": list(field_names), "data": rows} for rows in chunks(data, UNISENDER_ROWS_PER_CALL)]


def _expect(prepared: Prepared, platform: str) -> None:
    if prepared.platform != platform:
        raise InputError(f"this audience was prepared for {prepared.platform}, not {platform}: each platform "
                         f"normalises differently; prepare it for {platform}")


def _rows(prepared: Prepared, platform: str) -> pa.Table:
    """The prepared rows the platform can use."""
    _expect(prepared, platform)
    return prepared.table.filter(usable(prepared))


def _month_day(dates) -> pa.Array:
    """Dates as Mailchimp's birthday merge field writes them: MM/DD (the year is not kept)."""
    dates = dates.combine_chunks() if isinstance(dates, pa.ChunkedArray) else dates
    return pc.strftime(dates.cast(pa.timestamp("s")), format="%m/%d")
