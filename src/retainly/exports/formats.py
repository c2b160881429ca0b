"""The customers an export starts from, normalised for one platform; audience sizes, match keys, plain files.

The caller reads an audience from the store and hands it over as an Arrow table with the
columns of ``COLUMNS``. ``prepare`` normalises it once for a platform (retainly.exports.normalise)
and keeps, per customer, why a phone given could not be used: that customer is exported
without it. The platforms' own files and API bodies are built from the result
(retainly.exports.platforms).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from retainly.csv_cells import neutralise_cell
from retainly.errors import InputError
from retainly.exports.normalise import (
    check_platform,
    normalise_countries,
    normalise_emails,
    normalise_names,
    normalise_phones,
    normalise_zips,
)

COLUMNS = ("customer", "name", "email", "phone", "country", "zip", "birthday")
PREPARED = ("customer", "email", "phone", "first_name", "last_name", "country", "zip", "birthday")
# The smallest list each platform accepts or serves: VK refuses lists under about 2,000 items,
# Google serves Customer Match lists from 1,000 members, Meta from 100; the email services take one.
MINIMUM_SIZE = {"google": 1000, "meta": 100, "vk": 2000, "mailchimp": 1, "unisender": 1}
FILE_FORMATS = ("csv", "parquet")


class PhoneProblem(NamedTuple):
    """A customer whose phone could not be normalised: exported without it, reported with the reason."""

    customer: object
    phone: str
    reason: str


class Prepared(NamedTuple):
    """An audience normalised (not hashed) for ``platform``: columns ``PREPARED``, and the phones set aside."""

    platform: str
    table: pa.Table
    problems: list[PhoneProblem]


class MatchKeys(NamedTuple):
    """How many customers have each identifier after normalisation, to judge the match rate to expect.

    ``name``: first and last name; ``address``: those with country and zip (Google's and Meta's
    mailing-address key); ``usable``: the rows the platform's export will hold."""

    rows: int
    email: int
    phone: int
    name: int
    address: int
    usable: int


def check_columns(customers: pa.Table, needed: Iterable[str] = COLUMNS) -> None:
    missing = [name for name in needed if name not in customers.column_names]
    if missing:
        raise InputError(f"the customers to export lack the column(s) {', '.join(missing)}; "
                         f"an export needs {', '.join(COLUMNS)} (null where unknown)")


def prepare(customers: pa.Table, platform: str, default_country: str) -> Prepared:
    """``customers`` normalised as ``platform`` matches them; phones read in ``default_country`` (ISO-2)."""
    check_platform(platform)
    check_columns(customers)
    phones, reasons = normalise_phones(customers["phone"], platform, default_country)
    first, last = normalise_names(customers["name"], platform)
    table = pa.table({
        "customer": customers["customer"],
        "email": normalise_emails(customers["email"], platform),
        "phone": phones,
        "first_name": first,
        "last_name": last,
        "country": normalise_countries(customers["country"], platform),
        "zip": normalise_zips(customers["zip"], platform),
        "birthday": _dates(customers["birthday"]),
    })
    failed = pc.is_valid(reasons)
    problems = [PhoneProblem(*row) for row in zip(customers["customer"].filter(failed).to_pylist(),
                                                  customers["phone"].filter(failed).to_pylist(),
                                                  reasons.filter(failed).to_pylist())]
    return Prepared(platform, table, problems)


def usable(prepared: Prepared) -> pa.Array:
    """Which rows the platform can match or import: an email, a phone, or (ad platforms) a full address."""
    table = prepared.table
    email, phone = pc.is_valid(table["email"]), pc.is_valid(table["phone"])
    if prepared.platform == "mailchimp":  # a Mailchimp audience is a list of email addresses
        return email.combine_chunks()
    keep = pc.or_(email, phone)
    if prepared.platform in ("google", "meta"):
        keep = pc.or_(keep, _address(table))
    return keep.combine_chunks()


def match_keys(prepared: Prepared) -> MatchKeys:
    """Counts of the identifiers the prepared audience holds (``MatchKeys``)."""
    table = prepared.table
    name = pc.and_(pc.is_valid(table["first_name"]), pc.is_valid(table["last_name"]))
    return MatchKeys(rows=table.num_rows, email=_count(pc.is_valid(table["email"])),
                     phone=_count(pc.is_valid(table["phone"])), name=_count(name),
                     address=_count(_address(table)), usable=_count(usable(prepared)))


def check_audience_size(platform: str, size: int) -> None:
    """Raise if an audience of ``size`` customers is smaller than ``platform`` accepts (``MINIMUM_SIZE``)."""
    minimum = MINIMUM_SIZE[check_platform(platform)]
    if size < minimum:
        raise InputError(f"{platform} needs an audience of at least {minimum:,} customers and this one has "
                         f"{size:,}; widen the audience's rule or export it to another platform")


def check_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Tags as written into one comma-separated cell: each non-empty and without a comma."""
    tags = tuple(tags)
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip() or "," in tag:
            raise InputError(f"`tags`: {tag!r} is not a tag; a tag is a non-empty text without commas",
                             parameter="tags")
    return tuple(tag.strip() for tag in tags)


def select_fields(customers: pa.Table, fields: Sequence[str]) -> pa.Table:
    """The chosen columns of ``customers`` in the order given, as they are (neither normalised nor hashed)."""
    if not fields:
        raise InputError(f"`fields` is empty; choose any of {', '.join(COLUMNS)}", parameter="fields")
    for field in fields:
        if field not in COLUMNS:
            raise InputError(f"`fields`: unknown field {field!r}; the known fields are {', '.join(COLUMNS)}",
                             parameter="fields")
    doubled = sorted({field for field in fields if list(fields).count(field) > 1})
    if doubled:
        raise InputError(f"`fields` names {', '.join(doubled)} more than once; name each field once",
                         parameter="fields")
    check_columns(customers, fields)
    return customers.select(list(fields))


def write_fields(customers: pa.Table, path: str | Path, fields: Sequence[str], file_format: str = "csv") -> int:
    """The chosen columns of ``customers`` written to ``path`` as CSV (UTF-8) or Parquet; the rows written."""
    if file_format not in FILE_FORMATS:
        raise InputError(f"`file_format` {file_format!r} is not one retainly writes; use one of "
                         f"{', '.join(FILE_FORMATS)}", parameter="file_format")
    table = select_fields(customers, fields)
    if file_format == "csv":
        return write_csv(path, table.column_names, table.columns)
    _folder(path)
    pq.write_table(table, str(path))
    return table.num_rows


def write_csv(path: str | Path, header: Sequence[str], columns: Sequence) -> int:
    """A UTF-8 CSV of ``columns`` (Arrow arrays) under exactly ``header``, nulls as empty cells; the rows written.

    Every cell passes through ``neutralise_cell``: a name such as ``=HYPERLINK(...)`` must not run when
    the shop opens the file in a spreadsheet (hashes, codes and E.164 phones are never touched)."""
    _folder(path)
    values = [column.to_pylist() for column in columns]
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows([neutralise_cell(cell) for cell in row] for row in zip(*values))
    return len(values[0]) if values else 0


def chunks(rows: Sequence, size: int) -> list:
    """``rows`` in consecutive pieces of at most ``size`` (none for no rows): a platform's per-call limit."""
    return [rows[start:start + size] for start in range(0, len(rows), size)]


def _folder(path: str | Path) -> None:
    folder = Path(path).parent
    if not folder.is_dir():
        raise InputError(f"cannot write {path}: the folder {folder} does not exist; create it or choose another path",
                         parameter="path")


def _address(table: pa.Table):
    valid = [pc.is_valid(table[name]) for name in ("first_name", "last_name", "country", "zip")]
    return pc.and_(pc.and_(valid[0], valid[1]), pc.and_(valid[2], valid[3]))


def _count(mask) -> int:
    return pc.sum(mask).as_py() or 0


def _dates(values) -> pa.ChunkedArray | pa.Array:
    """Birthdays as dates, whatever date-like type the caller had (dates, timestamps, ISO texts)."""
    if values.type == pa.date32():
        return values
    try:
        return values.cast(pa.date32())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise InputError(f"the birthday column cannot be read as dates ({error}); give dates or ISO texts "
                         "(YYYY-MM-DD)") from error
