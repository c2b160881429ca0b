"""Fields that take arguments (``bought(category="Baby 0-2", within_days=90)``): each distinct
(field, arguments) of a rule becomes one per-customer table, left-joined by
retainly.audiences.compile. A ``within_days`` window is the N days up to the end of the as-of
day, that day included.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import ibis
from ibis.expr.types import Table

from retainly.audiences.fields import CATALOG, SKU_OR_CATEGORY, Context, purchases_until, stored_on
from retainly.audiences.tree import Condition
from retainly.errors import InputError


# -- parameterised fields: one per-customer table per distinct (field, args) ------------------------
def _window(column, ctx: Context, args: dict, within: str = "within_days"):
    """``column`` up to now, and within the last N days when ``args`` gives ``within``."""
    keep = column < ctx.now
    if args.get(within) is not None:
        keep &= column >= ctx.since(_number(args, within))
    return keep


def _products(ctx: Context, args: dict, column):
    """``column`` (a sku) is the given sku, or a product of the given category."""
    if args.get("sku") is not None:
        return column == str(args["sku"])
    products = ctx.store.table("products")
    return column.isin(products.filter(products.category == str(args["category"])).sku)


def _customers(table: Table) -> Table:
    """The distinct customers of ``table``, each flagged True."""
    return table.select("customer_id").distinct().mutate(flag=ibis.literal(True))


def _bought(ctx: Context, args: dict) -> tuple[Table, object]:
    lines = ctx.store.table("order_lines")
    lines = lines.filter((lines.quantity > 0) & _products(ctx, args, lines.sku))
    bought = purchases_until(ctx)
    bought = bought.filter(_window(bought.placed_at, ctx, args))
    return _customers(lines.select("order_id").join(bought.select("order_id", "customer_id"), "order_id")), False


def _viewed(ctx: Context, args: dict) -> tuple[Table, object]:
    events = ctx.store.table("site_events")
    return _customers(events.filter(events.customer_id.notnull() & _products(ctx, args, events.sku)
                                    & _window(events.occurred_at, ctx, args))), False


def _event_count(ctx: Context, args: dict) -> tuple[Table, object]:
    events = ctx.store.table("site_events")
    events = events.filter(events.customer_id.notnull() & (events.kind == str(args["kind"]))
                           & _window(events.occurred_at, ctx, args))
    if args.get("sku") is not None:
        events = events.filter(events.sku == str(args["sku"]))
    return events.group_by("customer_id").aggregate(flag=events.count()), 0


def _cart_abandoned(ctx: Context, args: dict) -> tuple[Table, object]:
    """The last add to cart in the window came after the last purchase order (or there is none)."""
    events = ctx.store.table("site_events")
    since = ctx.now - timedelta(hours=float(_number(args, "within_hours")))
    carts = events.filter(events.customer_id.notnull() & (events.kind == "add_to_cart")
                          & (events.occurred_at >= since) & (events.occurred_at < ctx.now))
    carts = carts.group_by("customer_id").aggregate(last_cart=carts.occurred_at.max())
    bought = purchases_until(ctx)
    last = bought.group_by("customer_id").aggregate(last_order=bought.placed_at.max())
    joined = carts.left_join(last, "customer_id")
    left = joined.filter(joined.last_order.isnull() | (joined.last_order < joined.last_cart))
    return _customers(left), False


def _reorder_due(ctx: Context, args: dict) -> tuple[Table, object]:
    due = stored_on(ctx, "reorders_due")
    ahead = _number(args, "ahead_days") if args.get("ahead_days") is not None else 0
    due = due.filter(due.due_date <= ctx.as_of + timedelta(days=int(ahead)))
    if args.get("sku") is not None or args.get("category") is not None:
        due = due.filter(_products(ctx, args, due.sku))
    return _customers(due), False


def _offered(ctx: Context, args: dict) -> tuple[Table, object]:
    offers = stored_on(ctx, "next_products")
    if args.get("sku") is not None:
        offers = offers.filter(offers.sku == str(args["sku"]))
    return _customers(offers), False


def _suppressed(ctx: Context, args: dict) -> tuple[Table, object]:
    # Every stored suppression counts, whenever it was made: a suppression always wins.
    held = ctx.store.table("suppressions")
    if args.get("channel") is not None:
        held = held.filter(held.channel.isin((str(args["channel"]), "all")))
    return _customers(held), False


def _messages_received(ctx: Context, args: dict) -> tuple[Table, object]:
    sent = ctx.store.table("outbox")
    sent = sent.filter((sent.status == "sent") & _window(sent.finished_at, ctx, args))
    if args.get("channel") is not None:
        sent = sent.filter(sent.channel == str(args["channel"]))
    return sent.group_by("customer_id").aggregate(flag=sent.count()), 0


def _enrolments(ctx: Context, args: dict):
    enrolled = ctx.store.table("enrolments")
    return enrolled.filter((enrolled.playbook == str(args["playbook"])) & (enrolled.enrolled_on <= ctx.as_of))


def _enrolled(ctx: Context, args: dict) -> tuple[Table, object]:
    return _customers(_enrolments(ctx, args)), False


def _holdout(ctx: Context, args: dict) -> tuple[Table, object]:
    enrolled = _enrolments(ctx, args)
    return _customers(enrolled.filter(enrolled.arm == "holdout")), False


def _attribute(ctx: Context, args: dict) -> tuple[Table, object]:
    attributes = ctx.store.table("customer_attributes")
    chosen = attributes.filter(attributes.name == str(args["name"]))
    return chosen.select("customer_id", flag=chosen.value), None


# Each returns (customer_id + a column ``flag``, the value for customers absent from it).
PARAMETERISED: dict[str, Callable[[Context, dict], tuple[Table, object]]] = {
    "bought": _bought, "viewed": _viewed, "event_count": _event_count, "cart_abandoned": _cart_abandoned,
    "reorder_due": _reorder_due, "offered": _offered, "suppressed": _suppressed,
    "messages_received": _messages_received, "enrolled": _enrolled, "holdout": _holdout, "attribute": _attribute,
}


def _number(args: dict, name: str) -> float:
    value = args[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"argument `{name}` must be a number, got {value!r}", parameter=name)
    return value


def checked_args(condition: Condition) -> dict:
    spec = CATALOG[condition.field]
    args = dict(condition.args)
    known = {param.name for param in spec.params}
    for name in args:
        if name not in known:
            raise InputError(f"field `{spec.name}` takes no argument `{name}`; it takes "
                             f"{', '.join(sorted(known)) or 'none'}", parameter=name)
    for param in spec.params:
        if param.required and args.get(param.name) is None:
            raise InputError(f"field `{spec.name}` needs the argument `{param.name}` ({param.help})",
                             parameter=param.name)
    if spec.name in SKU_OR_CATEGORY and (args.get("sku") is None) == (args.get("category") is None):
        raise InputError(f"field `{spec.name}` needs exactly one of the arguments `sku` or `category`",
                         parameter="sku")
    return args
