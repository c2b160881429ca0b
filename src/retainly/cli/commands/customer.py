"""`retainly customer show`: one customer on one screen; `retainly customer search`: find customers
(by text, segment, stage, buyer type, audience);
`retainly customer erase`: forget who they are; `retainly customer attributes` / `set`: the shop's own
facts per customer, for audience rules."""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Optional

import typer

from retainly.cli.app import app, open_workspace
from retainly.cli.commands.delete import ask_first
from retainly.cli.commands.measure import day
from retainly.cli.output import after_commit, console, print_csv, print_json, print_record, print_rows, say
from retainly.results.customers import OrderLine

customer_app = typer.Typer(help="Look at one customer.", no_args_is_help=True)
app.add_typer(customer_app, name="customer")

_ORDERS_SHOWN = 20
_LINE_COLUMNS = ("customer", "order_id", "placed_at", "status", "channel", *(f.name for f in fields(OrderLine)))


@customer_app.command("show")
def show(
    key: Annotated[str, typer.Argument(help="The customer's id in the shop's data (or retainly's customer_id).",
                                       metavar="ID")],
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="RFM and predictions as of this day (default: last order).", metavar="YYYY-MM-DD")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as one JSON object.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print every order line of the customer as CSV.")] = False,
) -> None:
    """Profile, consents, KPIs, RFM segment, predictions, orders with lines, returns and contacts of one customer.

    Example: retainly customer show 12347
    """
    with open_workspace() as ws:
        view = ws.customers.view(key, day(as_of, "--as-of"))
    if as_json:
        print_json(view)
        return
    if as_csv:
        print_csv([{"customer": view.customer.external_id, **_order_fields(order), **line.to_dict()}
                   for order in view.orders for line in order.lines], columns=_LINE_COLUMNS)
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
            console.print(f"  reorder of {_product(due.sku, due.name)} due {due.due_date} "
                          f"(last bought {due.last_purchase})")
        for offer in standing.next_products:
            console.print(f"  worth offering: {_product(offer.sku, offer.name)}, because they bought "
                          f"{_product(offer.because_of, offer.because_of_name)} "
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
    if view.messages:
        print_rows("messages and tasks", [{"due at": m.due_at, "playbook": m.playbook, "step": m.step,
                                           "channel": m.channel, "status": m.status, "reason": m.reason,
                                           "subject": m.subject or m.text} for m in view.messages])
    console.print("every order line: add --csv; everything: add --json")


@customer_app.command("search")
def search(
    text: Annotated[str, typer.Argument(help="Part of a shop id, name, email or phone (any case); none: everyone.",
                                        metavar="TEXT")] = "",
    segment: Annotated[Optional[str], typer.Option("--segment", help="Only customers in this RFM segment (as `retainly segments` names them).")] = None,
    stage: Annotated[Optional[str], typer.Option("--stage", help="Only customers in this lifecycle stage (new, active, at_risk, lapsed, lost, won_back).")] = None,
    buyer_type: Annotated[Optional[str], typer.Option("--buyer-type", help="Only customers of this buyer type (hit_and_run, discount_only, active).")] = None,
    audience: Annotated[Optional[str], typer.Option("--audience", help="Only the members of this saved audience, as of its last evaluation.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Customers shown at most.", min=1)] = 20,
    offset: Annotated[int, typer.Option("--offset", help="Matches skipped first (the next page).", min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the total and the page as JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the page as CSV.")] = False,
) -> None:
    """Customers whose shop id, name, email or phone contains TEXT: an exact id first, then by name.
    The same search as the API's GET /api/v1/customers?q=TEXT. Segment, stage and buyer type are
    as of the last order (computed first when missing).

    Example: retainly customer search smith --stage at_risk
    """
    with open_workspace() as ws:
        found = ws.customers.search(text, limit=limit, offset=offset, segment=segment, stage=stage,
                                    buyer_type=buyer_type, audience=audience)
    if as_json:
        print_json(found)
        return
    if as_csv:
        print_csv(found.matches, columns=("customer_id", "name", "email", "phone", "country"))
        return
    shown = f"{offset + 1}-{offset + len(found.matches)} of {found.total}" if found.matches else f"0 of {found.total}"
    chosen = [f"{name} {value!r}" for name, value in (("segment", segment), ("stage", stage),
                                                      ("buyer type", buyer_type), ("audience", audience)) if value]
    print_rows(f"customers matching {text!r}{''.join(f', {part}' for part in chosen)} ({shown})", found.matches)
    if found.as_of:
        say(f"segment, stage and buyer type as of {found.as_of}")
    if offset + len(found.matches) < found.total:
        say(f"more: add --offset {offset + len(found.matches)}")


def _product(sku: str, name: str | None) -> str:
    """A product as the shop names it, with its SKU: "Watch strap (SKU-1039)"."""
    return f"{name} ({sku})" if name else sku


def _order_fields(order) -> dict:
    return {"order_id": order.order_id, "placed_at": order.placed_at, "status": order.status,
            "channel": order.channel}


@customer_app.command("erase")
def erase(
    key: Annotated[str, typer.Argument(help="The customer's id in the shop's data.", metavar="ID")],
    yes: Annotated[bool, typer.Option("--yes", help="Erase without asking (needed when not on a terminal).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be erased; erase nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was erased as JSON.")] = False,
) -> None:
    """Erase a customer's personal data for good, keeping their anonymous orders.

    Name, e-mail, phone, gender, birthday, address, consents and the free text of their
    contacts, returns and site events are cleared, and their id becomes a pseudonym
    (erased-...), in one transaction. Orders stay, so every figure stays the same. Importing
    an old file again never brings the data back. On a terminal it asks first; elsewhere it
    needs --yes.

    Example: retainly customer erase 12347 --yes
    """
    with open_workspace() as ws:
        ask_first(yes, dry_run, lambda: _erased(ws.customers.erase(key, dry_run=True)),
                  "Erase this customer's personal data for good?")
        done = ws.customers.erase(key, dry_run=dry_run)
    if done.dry_run:
        print_json(done) if as_json else _erased(done)
        return
    with after_commit(f"the erasure of customer {done.customer_id}"):
        print_json(done) if as_json else _erased(done)


def _erased(done) -> None:
    fields = ", ".join(done.fields) or "nothing left to erase"
    again = " again" if done.already_erased else ""
    verb = "would erase" if done.dry_run else f"erased{again}"
    say(f"{verb} customer {done.customer_id} (now {done.external_id}): {fields}")
    if done.already_erased:
        say(f"  first erased at {done.erased_at:%Y-%m-%d %H:%M:%S}")


@customer_app.command("attributes")
def attributes(
    file: Annotated[str, typer.Argument(help="CSV, XLSX or Parquet: customer_id, then one column per attribute.")],
) -> None:
    """Set the shop's own attributes per customer from a file, for audience rules (attribute(name=likes) = green).

    Each non-empty cell sets that attribute; the whole file is checked first, then written at once.
    Example: retainly customer attributes likes.csv
    """
    with open_workspace() as ws:
        done = ws.customers.import_attributes(file)
    say(f"set {done['values']:,} values of {', '.join(done['attributes'])} for {done['customers']:,} customers")


@customer_app.command("set")
def set_attribute(
    key: Annotated[str, typer.Argument(help="The customer's id in the shop's data.", metavar="ID")],
    name: Annotated[str, typer.Argument(help="The attribute's name, e.g. preferred_channel.")],
    value: Annotated[str, typer.Argument(help="Its value, e.g. sms.")],
) -> None:
    """Set one of the shop's own attributes of one customer.

    Example: retainly customer set 12347 preferred_channel sms
    """
    with open_workspace() as ws:
        ws.customers.set_attribute(key, name, value)
    say(f"customer {key}: {name} = {value}")
