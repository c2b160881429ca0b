"""Tables a shop already keeps in its lakehouse, read by Spark in place of the store's copies.

A mapping file (``[analytics] mapping`` in the settings file) names, per retainly table, where
the shop's own table is and how retainly's columns are made from it, in Spark SQL:

    [orders]
    table = "sales.orders"               # a table in Spark's catalog, or files:
    # path = "/lake/sales/orders"        # with format = "parquet" (default), "orc", "json" or "csv"
    [orders.columns]
    order_id = "order_number"
    customer_id = "buyer_email"          # the shop's customer id: matched to the store's customers
    placed_at = "created"
    status = "lower(state)"

A column left out is empty (NULL). Every column is cast to retainly's type. ``customer_id`` is
the shop's own customer id (``customers.external_id``), which retainly turns into its own id
through the store's customers: the people retainly acts on are the ones in the store of record,
and an id the store does not know reads as a guest. Tables derived from others (``purchases``
from orders and their lines) are derived on Spark when their sources are mapped.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retainly.errors import InputError

FORMATS = ("parquet", "orc", "json", "csv")
# Tables whose rows name a customer, and those the lakehouse may hold at all (the shop's data).
MAPPABLE = ("orders", "order_lines", "returns", "marketing_spend", "interactions", "site_events", "products",
            "promotions")
CUSTOMER_ID = "customer_id"


@dataclass(frozen=True)
class MappedTable:
    """Where one retainly table is in the lakehouse and its columns as Spark SQL expressions."""

    name: str
    table: str | None
    path: str | None
    format: str
    columns: dict[str, str]


def load_mapping(path: str | Path, known_columns: dict[str, list[str]]) -> dict[str, MappedTable]:
    """The mapping file at ``path``, checked against retainly's tables and their ``known_columns``."""
    where = Path(path)
    try:
        data = tomllib.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"lakehouse mapping file {where} does not exist; fix [analytics] mapping",
                         parameter="mapping") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: not valid TOML ({exc}); see docs/scale.md for an example",
                         parameter="mapping") from None
    return {name: _table(where, name, section, known_columns) for name, section in data.items()}


def _table(where: Path, name: str, section: Any, known_columns: dict[str, list[str]]) -> MappedTable:
    if name not in MAPPABLE:
        raise InputError(f"{where} [{name}]: retainly reads no such table from a lakehouse; map one of "
                         f"{', '.join(MAPPABLE)}", parameter="mapping")
    if not isinstance(section, dict):
        raise InputError(f"{where} {name}: give a table, e.g. [{name}] with table = \"db.{name}\"",
                         parameter="mapping")
    unknown = sorted(set(section) - {"table", "path", "format", "columns"})
    if unknown:
        raise InputError(f"{where} [{name}] has no key {', '.join(unknown)}; known: table, path, format, columns",
                         parameter="mapping")
    table, path, kind = section.get("table"), section.get("path"), section.get("format", "parquet")
    if (table is None) == (path is None) or not isinstance(table or path, str):
        raise InputError(f"{where} [{name}]: give either table = \"db.table\" or path = \"/lake/folder\"",
                         parameter="mapping")
    if kind not in FORMATS:
        raise InputError(f"{where} [{name}] format = {kind!r}: use one of {', '.join(FORMATS)}", parameter="mapping")
    columns = section.get("columns", {})
    if not isinstance(columns, dict) or not all(isinstance(v, str) and v.strip() for v in columns.values()):
        raise InputError(f"{where} [{name}.columns]: give each of retainly's columns a Spark SQL expression, "
                         "e.g. order_id = \"order_number\"", parameter="mapping")
    extra = sorted(set(columns) - set(known_columns[name]))
    if extra:
        raise InputError(f"{where} [{name}.columns] {extra[0]}: {name} has no such column; its columns are "
                         f"{', '.join(known_columns[name])}", parameter="mapping")
    return MappedTable(name, table, path, kind, dict(columns))


def mapped_frame(session: Any, mapped: MappedTable, schema: dict[str, str], customers: Any, where: str) -> Any:
    """A Spark DataFrame of ``mapped`` with exactly retainly's columns (``schema``: name -> Spark type).

    ``customers`` is a DataFrame of the store's customers (customer_id, external_id) for turning
    the shop's customer ids into retainly's."""
    source = session.table(mapped.table) if mapped.table else session.read.format(mapped.format).load(mapped.path)
    made = []
    for column, kind in schema.items():
        expression = mapped.columns.get(column)
        if column == CUSTOMER_ID and expression:
            made.append(f"CAST(TRIM(CAST({expression} AS STRING)) AS STRING) AS retainly_customer_key")
        else:
            made.append(f"CAST({expression or 'NULL'} AS {kind}) AS `{column}`")
    try:
        frame = source.selectExpr(*made)
        if mapped.columns.get(CUSTOMER_ID):
            keys = customers.selectExpr("customer_id AS retainly_customer_id", "external_id AS retainly_customer_key")
            frame = frame.join(keys, "retainly_customer_key", "left").selectExpr(
                *[f"CAST(retainly_customer_id AS bigint) AS `{c}`" if c == CUSTOMER_ID else f"`{c}`" for c in schema])
        frame.schema  # noqa: B018 - resolving the plan here reports a bad expression against its file
    except Exception as exc:  # noqa: BLE001 - Spark's AnalysisException and parse errors
        raise InputError(f"{where} [{mapped.name}]: Spark cannot read it as mapped: {_first_line(exc)}; check the "
                         "table or path and the column expressions", parameter="mapping") from None
    return frame


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
