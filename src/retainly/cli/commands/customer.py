"""`retainly customer show`: one customer on one screen."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.commands.measure import day
from retainly.cli.output import console, print_json, print_record, print_rows

customer_app = typer.Typer(help="Look at one customer.", no_args_is_help=True)
app.add_typer(customer_app, name="customer")

_ORDERS_SHOWN = 20


@customer_app.command("show")
def show(
    key: Annotated[str, typer.Argument(help="The customer's id in the shop's data (or retainly's customer_id).",
                                       metavar="ID")],
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="RFM and predictions as of this day (default: last order).", metavar="YYYY-MM-DD")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as one JSON object.")] = False,
) -> None:
    """Profile, consents, KPIs, RFM segment, predictions, orders with lines, returns and contacts of one customer.

    Example: retainly customer show 12347
    """
    with open_workspace() as ws:
        view = ws.customers.view(key, day(as_of, "--as-of"))
    if as_json:
        print_json(view)
        return
    person = view.customer
    print_record(f"customer {person.external_id}", {**person.to_dict(), **view.consents.to_dict(),
                                                   "last_contact_at": view.last_contact_at})
    print_record("KPIs", view.kpis)
    if view.rfm:
        print_record("RFM", view.rfm)
    if view.lifecycle:
        standing = view.lifecycle
        print_record("lifecycle", {"stage": standing.stage + (" (VIP)" if standing.vip else ""),
                                   "why": standing.reason, "churn risk": standing.risk_score})
        for sign in standing.warning_signs:
            console.print(f"  warning sign: {sign}")
        if standing.buyer_type:
            kind = standing.buyer_type
            console.print(f"  buyer type: {kind.type} ({kind.source}): {kind.reason}")
        for due in standing.reorders_due:
            console.print(f"  reorder of {due.sku} due {due.due_date} (last bought {due.last_purchase})")
        for offer in standing.next_products:
            console.print(f"  worth offering: {offer.sku}, because they bought {offer.because_of} "
                          f"({offer.kind}, confidence {offer.confidence:.0%})")
    if view.predictions:
        print_record(f"predictions (next {view.predictions.horizon_days} days)", view.predictions)
    orders = view.orders
    print_rows(f"orders (last {min(len(orders), _ORDERS_SHOWN)} of {len(orders)})", [
        {"order": o.order_id, "placed at": o.placed_at, "status": o.status, "channel": o.channel,
         "lines": len(o.lines), "items": sum(max(line.quantity, 0) for line in o.lines),
         "amount": sum(line.amount for line in o.lines if line.quantity > 0)}
        for o in orders[-_ORDERS_SHOWN:]])
    print_rows("returns", [{k: r[k] for k in ("return_id", "returned_at", "sku", "quantity", "amount", "reason")}
                           for r in view.returns])
    print_rows("contacts", view.interactions)
    console.print("order lines and everything else: add --json")
