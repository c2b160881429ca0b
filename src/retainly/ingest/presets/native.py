"""The native layout: one file per entity, columns named as in ``docs/presets.md``.

The same field tables drive parsing, the documentation test and the writer of the
generated shop (``retainly generate --out``), so the three cannot drift apart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd

from retainly.ingest.batch import INTERACTION_KINDS, LINE_KINDS, ORDER_CHANNELS, ORDER_STATUSES, Batch
from retainly.ingest.presets.base import Options, Preset, column_or_null, find_columns
from retainly.ingest.presets.order_checks import conflicting_fields, line_numbers
from retainly.ingest.readers import RawTable
from retainly.ingest.values import (
    Problems, check_amounts, parse_bool, parse_choice, parse_date, parse_id, parse_integer, parse_money, parse_rate,
    parse_timestamp, parse_url, require,
)


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # id, text, timestamp, date, money, money+, int, int+, bool, rate, or choice:<entity.field>
    required: bool = False
    aliases: tuple[str, ...] = ()
    help: str = ""


_CHOICES = {
    "status": (ORDER_STATUSES, {"complete": "completed", "paid": "completed", "fulfilled": "completed",
                                "shipped": "completed", "delivered": "completed", "canceled": "cancelled",
                                "processing": "pending", "on-hold": "pending"}),
    "channel": (ORDER_CHANNELS, {"web": "online", "shop": "offline", "store": "offline", "pos": "offline"}),
    "kind": (LINE_KINDS, {"product": "merchandise", "item": "merchandise", "postage": "shipping"}),
    "interaction_kind": (INTERACTION_KINDS, {"phone": "call", "complaint": "feedback", "review": "feedback"}),
    "direction": (("inbound", "outbound"), {"in": "inbound", "out": "outbound", "incoming": "inbound",
                                             "outgoing": "outbound"}),
}

FIELDS: dict[str, tuple[Field, ...]] = {
    "orders": (
        Field("order_id", "id", True, ("order", "order_number", "invoice"), "the shop's order number"),
        Field("customer_id", "id", False, ("customer",), "the shop's customer id; empty for a guest order"),
        Field("placed_at", "timestamp", True, ("order_date", "date", "created_at"), "when the order was placed"),
        Field("status", "choice:status", False, (), "completed (default), pending, cancelled, refunded, adjustment"),
        Field("currency", "text", False, (), "ISO currency code"),
        Field("channel", "choice:channel", False, (), "online (default), offline or phone"),
        Field("promo_code", "text", False, ("coupon", "discount_code"), "promo code used"),
        Field("country", "text", False, (), "ship-to country"),
        Field("shipping", "money+", False, (), "shipping charged for the order (if not given as a line)"),
        Field("tax", "money+", False, (), "tax charged for the order"),
        Field("order_discount", "money+", False, (), "order-level discount, a positive amount"),
        Field("line_no", "int+", False, (), "line number within the order; file order if absent"),
        Field("sku", "id", False, ("product_id", "stock_code"), "product code"),
        Field("description", "text", False, ("product_name", "name"), "product name as sold"),
        Field("quantity", "int", True, ("qty",), "units; negative only on adjustment lines"),
        Field("unit_price", "money", False, ("price",), "price of one unit; give unit_price or line_amount"),
        Field("line_discount", "money+", False, (), "discount on this line, a positive amount"),
        Field("line_amount", "money", False, ("amount", "total"), "quantity x unit price, when the export gives totals"),
        Field("kind", "choice:kind", False, ("line_kind",), "merchandise (default), shipping, fee, discount, adjustment, voucher"),
    ),
    "customers": (
        Field("customer_id", "id", True, ("id", "external_id"), "the shop's customer id"),
        Field("name", "text", False, ("full_name",), "full name"),
        Field("email", "text", False, (), "email address"),
        Field("phone", "text", False, (), "phone number"),
        Field("gender", "text", False, (), "as the shop records it"),
        Field("birthday", "date", False, ("birth_date", "date_of_birth"), "date of birth"),
        Field("country", "text", False, (), "country"),
        Field("city", "text", False, (), "city"),
        Field("acquisition_channel", "text", False, ("channel", "source"), "marketing channel that brought them"),
        Field("first_seen_at", "timestamp", False, ("created_at", "signed_up_at"), "first contact with the shop"),
        Field("email_consent", "bool", False, ("accepts_email", "email_opt_in"), "may receive marketing email"),
        Field("email_consent_at", "timestamp", False, (), "when email consent was given or withdrawn"),
        Field("sms_consent", "bool", False, ("accepts_sms", "sms_opt_in"), "may receive marketing SMS"),
        Field("sms_consent_at", "timestamp", False, (), "when SMS consent was given or withdrawn"),
        Field("postal_code", "text", False, ("zip", "zip_code", "postcode"), "the address's postal code"),
        Field("ads_consent", "bool", False, ("accepts_ads", "ads_opt_in", "ad_consent"),
              "consent covers advertising: may be in ad platforms' audiences"),
        Field("ads_consent_at", "timestamp", False, (), "when consent to advertising was given or withdrawn"),
    ),
    "products": (
        Field("sku", "id", True, ("product_id", "stock_code"), "product code"),
        Field("name", "text", False, ("title", "description"), "product name"),
        Field("category", "text", False, ("type", "product_type"), "category"),
        Field("price", "money+", False, ("unit_price",), "list price"),
        Field("url", "url", False, ("link", "product_url", "permalink"), "the product's page on the shop"),
        Field("image_url", "url", False, ("image", "image_src", "picture"), "the product's picture (a web address)"),
    ),
    "returns": (
        Field("return_id", "id", True, ("refund_id", "credit_note"), "the shop's return or credit-note number"),
        Field("line_no", "int+", False, (), "line within the return; file order if absent"),
        Field("customer_id", "id", False, ("customer",), "who returned it"),
        Field("order_id", "id", False, (), "the order it came from, when known"),
        Field("order_line_no", "int+", False, (), "the order line it came from, when known"),
        Field("returned_at", "timestamp", True, ("date", "refunded_at"), "when it was returned"),
        Field("sku", "id", False, (), "product code"),
        Field("quantity", "int", False, ("qty",), "units returned"),
        Field("unit_price", "money", False, ("price",), "refund per unit; give unit_price or amount"),
        Field("amount", "money", False, ("refund", "total"), "money refunded, a positive amount"),
        Field("reason", "text", False, (), "why"),
    ),
    "spend": (
        Field("date", "date", True, ("spend_date", "day", "month"), "day (or first day of the period) of the spend"),
        Field("channel", "id", True, ("source",), "acquisition channel, as in customers.acquisition_channel"),
        Field("campaign", "id", False, (), "campaign name"),
        Field("amount", "money+", True, ("spend", "cost"), "money spent"),
        Field("currency", "text", False, (), "ISO currency code"),
    ),
    "interactions": (
        Field("interaction_id", "id", False, ("id",), "the CRM's id; derived from the content if absent"),
        Field("customer_id", "id", True, ("customer",), "the customer contacted"),
        Field("occurred_at", "timestamp", True, ("at", "date", "timestamp"), "when"),
        Field("kind", "choice:interaction_kind", True, ("type",), "call, email, sms, meeting, feedback, support"),
        Field("direction", "choice:direction", False, (), "inbound or outbound"),
        Field("outcome", "text", False, ("result",), "outcome in a word or two"),
        Field("note", "text", False, ("notes", "comment"), "free text"),
        Field("by_whom", "text", False, ("agent", "manager", "user"), "who on the shop's side"),
    ),
    "events": (
        Field("event_id", "id", True, ("id",), "unique event id"),
        Field("customer_id", "id", False, ("customer",), "the visitor, when known"),
        Field("session_id", "id", False, ("session",), "the visit"),
        Field("occurred_at", "timestamp", True, ("at", "timestamp"), "when"),
        Field("kind", "text", True, ("event", "type"), "visit, view, add_to_cart, checkout, ..."),
        Field("sku", "id", False, (), "product involved"),
        Field("order_id", "id", False, (), "order the event led to"),
    ),
    "promotions": (
        Field("promotion_id", "id", True, ("id",), "unique id"),
        Field("name", "text", True, (), "name, e.g. Black Friday"),
        Field("starts_on", "date", True, ("start",), "first day"),
        Field("ends_on", "date", True, ("end",), "last day"),
        Field("promo_code", "text", False, ("code",), "code customers enter"),
        Field("discount_rate", "rate", False, ("rate",), "0.2 for 20 % off"),
    ),
}


def parse_fields(fields: tuple[Field, ...], raw: RawTable, problems: Problems, options: Options,
                 preset_name: str) -> pd.DataFrame:
    """Parse every field of a table-driven layout; unknown extra columns are ignored."""
    required = {f.name: (f.name, *f.aliases) for f in fields if f.required}
    optional = {f.name: (f.name, *f.aliases) for f in fields if not f.required}
    columns = find_columns(raw, preset_name, required, optional)
    parsed = {}
    for f in fields:
        header = columns[f.name]
        values = column_or_null(raw, header)
        value_map = options.value_maps.get(f.name) or options.value_maps.get(header or "")
        if header is not None and value_map:
            values = values.replace(value_map)
        label = header or f.name
        if f.kind == "id":  # an id of invisible characters only is missing too: required after normalising
            parsed[f.name] = parse_id(values, label, problems, required=f.required)
            continue
        if f.required:
            require(values, label, problems)
        parsed[f.name] = _parse(f, values, label, problems, options)
    return pd.DataFrame(parsed, index=raw.frame.index)


def _parse(field: Field, values: pd.Series, label: str, problems: Problems, options: Options) -> pd.Series:
    kind = field.kind
    if kind == "text":
        return values.astype("string")
    if kind == "timestamp":
        return parse_timestamp(values, label, problems, options.date_format, options.dates)
    if kind == "date":
        dates = options.dates
        if dates is not None and field.name == "birthday":
            dates = dates.for_birthdays()
        elif dates is not None and field.name in ("starts_on", "ends_on"):
            dates = dates.for_plans()
        return parse_date(values, label, problems, options.date_format, dates)
    if kind in ("money", "money+"):
        return parse_money(values, label, problems, allow_negative=kind == "money")
    if kind in ("int", "int+"):
        return parse_integer(values, label, problems, allow_negative=kind == "int")
    if kind == "bool":
        return parse_bool(values, label, problems)
    if kind == "url":
        return parse_url(values, label, problems)
    if kind == "rate":
        return parse_rate(values, label, problems)
    if kind.startswith("choice:"):
        choices, aliases = _CHOICES[kind.split(":", 1)[1]]
        return parse_choice(values, label, problems, choices, aliases)
    raise ValueError(f"unknown field kind {kind}")


class Native(Preset):
    name = "retainly"
    kinds = tuple(FIELDS)
    description = "retainly's own layout: one file per entity (see docs/presets.md)"
    signature = ("order_id", "placed_at", "quantity")

    def group_column(self, kind: str) -> str | None:
        return {"orders": "order_id", "returns": "return_id"}.get(kind)

    def parse(self, kind, raw: RawTable, problems: Problems, options: Options) -> pd.DataFrame:
        self.check_kind(kind)
        rows = parse_fields(FIELDS[kind], raw, problems, options, self.name)
        if kind in ("orders", "returns"):
            price, amount = ("unit_price", "line_amount") if kind == "orders" else ("unit_price", "amount")
            neither = rows[price].isna() & rows[amount].isna()
            problems.add(neither, price, None, f"give {price} or {amount}")
            _check_lines(kind, raw, rows, problems)
        return rows

    def build(self, kind, rows: pd.DataFrame, options: Options) -> Batch:
        return _BUILDERS[kind](rows, options)


# Order fields: every line may repeat them, and those that do must agree (docs/presets.md).
ORDER_FIELDS = ("customer_id", "placed_at", "status", "currency", "channel", "promo_code", "country", "shipping",
                "tax", "order_discount")
_MONEY_FIELDS = {"shipping", "tax", "order_discount"}


def _check_lines(kind: str, raw: RawTable, rows: pd.DataFrame, problems: Problems) -> None:
    """The rules across an order's (or a return's) lines, and line amounts the store can hold."""
    fields = FIELDS[kind]
    headers = find_columns(raw, "retainly", {}, {f.name: (f.name, *f.aliases) for f in fields})
    label = {f.name: headers[f.name] or f.name for f in fields}
    text = {f.name: column_or_null(raw, headers[f.name]) for f in fields}
    group = rows["order_id" if kind == "orders" else "return_id"]
    noun = "order" if kind == "orders" else "return"
    rows["line_no"] = line_numbers(group, rows["line_no"], label["line_no"], text["line_no"], raw.line, problems,
                                   noun)
    check_amounts(rows["quantity"], rows["unit_price"], label["unit_price"], text["unit_price"], problems)
    if kind != "orders":
        return
    # Money flows back to the customer only on discount and adjustment lines; stock leaves only on adjustments.
    line_kind = rows["kind"].fillna("merchandise")
    negative = rows["unit_price"].str.startswith("-").fillna(False).astype(bool) & ~line_kind.isin(
        ("discount", "adjustment")).astype(bool)
    problems.add(negative, label["unit_price"], text["unit_price"],
                 "negative price allowed only on discount or adjustment lines")
    negative = rows["quantity"].lt(0).fillna(False).astype(bool) & line_kind.ne("adjustment").astype(bool)
    problems.add(negative, label["quantity"], text["quantity"], "negative quantity allowed only on adjustment lines")
    conflicting_fields(group, [
        (pd.to_numeric(rows[name]) if name in _MONEY_FIELDS else rows[name], label[name], text[name])
        for name in ORDER_FIELDS
    ], raw.line, problems)




def _customers_from(rows: pd.DataFrame, time_column: str) -> pd.DataFrame:
    known = rows[rows["customer_id"].notna()]
    first_seen = known.groupby("customer_id", sort=False)[time_column].min()
    return pd.DataFrame({"external_id": first_seen.index.astype("string"), "first_seen_at": first_seen.to_numpy()})


def _build_orders(rows: pd.DataFrame, options: Options) -> Batch:
    headers = rows.groupby("order_id", sort=False).agg(
        customer_ref=("customer_id", "first"), placed_at=("placed_at", "first"), status=("status", "first"),
        currency=("currency", "first"), channel=("channel", "first"), promo_code=("promo_code", "first"),
        country=("country", "first"), shipping=("shipping", "first"), tax=("tax", "first"),
        discount=("order_discount", "first"),
    ).reset_index()
    headers["status"] = headers["status"].fillna("completed")
    headers["channel"] = headers["channel"].fillna("online")
    if options.currency:
        headers["currency"] = headers["currency"].fillna(options.currency)
    lines = pd.DataFrame({
        "order_id": rows["order_id"],
        "line_no": rows["line_no"],
        "sku": rows["sku"], "description": rows["description"], "quantity": rows["quantity"],
        "unit_price": rows["unit_price"], "discount": rows["line_discount"].fillna("0"),
        "amount": rows["line_amount"], "kind": rows["kind"].fillna("merchandise"),
    })
    return Batch(customers=_customers_from(rows, "placed_at"), orders=headers, lines=lines)


def _build_customers(rows: pd.DataFrame, options: Options) -> Batch:
    customers = rows.rename(columns={"customer_id": "external_id"}).drop_duplicates("external_id", keep="last")
    return Batch(customers=customers)


def _build_products(rows: pd.DataFrame, options: Options) -> Batch:
    return Batch(products=rows.drop_duplicates("sku", keep="last"))


def _build_returns(rows: pd.DataFrame, options: Options) -> Batch:
    returns = rows.rename(columns={"customer_id": "customer_ref"})
    return Batch(customers=_customers_from(rows, "returned_at"), returns=returns)


def _build_spend(rows: pd.DataFrame, options: Options) -> Batch:
    spend = rows.rename(columns={"date": "spend_date"})
    spend["campaign"] = spend["campaign"].fillna("")
    if options.currency:
        spend["currency"] = spend["currency"].fillna(options.currency)
    return Batch(spend=spend.drop_duplicates(["spend_date", "channel", "campaign"], keep="last"))


def _build_interactions(rows: pd.DataFrame, options: Options) -> Batch:
    interactions = rows.rename(columns={"customer_id": "customer_ref"})
    interactions["interaction_id"] = interactions["interaction_id"].fillna(_content_ids(interactions))
    return Batch(customers=_customers_from(rows, "occurred_at"),
                 interactions=interactions.drop_duplicates("interaction_id", keep="last"))


def _content_ids(rows: pd.DataFrame) -> pd.Series:
    """Ids from the content, so re-importing the same interactions adds nothing twice."""
    key = rows["customer_ref"].astype("string").fillna("")
    for column in ("occurred_at", "kind", "direction", "note", "by_whom"):
        key = key + "|" + rows[column].astype("string").fillna("")
    return key.map(lambda k: "i-" + hashlib.sha1(k.encode()).hexdigest()[:20])


def _build_events(rows: pd.DataFrame, options: Options) -> Batch:
    events = rows.rename(columns={"customer_id": "customer_ref"}).drop_duplicates("event_id", keep="last")
    return Batch(events=events)


def _build_promotions(rows: pd.DataFrame, options: Options) -> Batch:
    return Batch(promotions=rows.drop_duplicates("promotion_id", keep="last"))


_BUILDERS = {
    "orders": _build_orders, "customers": _build_customers, "products": _build_products,
    "returns": _build_returns, "spend": _build_spend, "interactions": _build_interactions,
    "events": _build_events, "promotions": _build_promotions,
}


def native_frame(kind: str, batch: Batch) -> pd.DataFrame:
    """A batch entity in the native file layout (used to write the generated shop)."""
    entities = batch.entities()
    if kind == "orders":
        orders = entities["orders"].rename(columns={"customer_ref": "customer_id", "discount": "order_discount"})
        lines = entities["lines"].rename(columns={"discount": "line_discount", "amount": "line_amount"})
        merged = lines.merge(orders.drop(columns=["gross", "net"]), on="order_id", how="left")
        return merged[[f.name for f in FIELDS["orders"]]]
    renames = {"customers": {"external_id": "customer_id"}, "spend": {"spend_date": "date"}}
    frame = entities[kind].rename(columns=renames.get(kind, {"customer_ref": "customer_id"}))
    return frame[[f.name for f in FIELDS[kind]]]

