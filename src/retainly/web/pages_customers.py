"""The Customers pages: finding a customer, and one customer on one page (docs/web.md).

``/customers?q=&segment=&stage=&buyer_type=&audience=`` finds customers by the shop's id, name,
email or phone, in an RFM segment, lifecycle stage, buyer type or saved audience, 20 to a page;
its JSON twin is ``GET /api/v1/customers`` with the same parameters and ``limit=20&offset=...``
(``ws.customers.search``), and ``/customers.csv`` with them exports every match. ``/customers/{id}``
shows profile and consent, what the customer bought and returned, every contact and every message
or task of a playbook, the predictions and warning signs in words, reorders due and products to
offer; its twin is ``GET /api/v1/customers/{id}`` (``ws.customers.view``). Below, the customer's open
tasks and the form that makes one (retainly.web.pages_tasks).
"""

from __future__ import annotations

import csv
import io
from dataclasses import fields
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from retainly.errors import RetainlyError
from retainly.results import CustomerMatch, CustomerView
from retainly.web.auth import READ_CUSTOMERS
from retainly.web.pages_tasks import customer_tasks
from retainly.web.render import HEADERS, error_page, render
from retainly.web.session import page_user
from retainly.web.shop import shop

router = APIRouter(include_in_schema=False)
PER_PAGE = 20
# The CSV export reads the matches a page at a time, up to this many in all.
EXPORT_LIMIT = 100_000
_EXPORT_STEP = 1000


LONGEST_SEARCH = 200


def _page_number(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < int(text) < 10**9 else None


def _too_long(q: str, chosen: dict[str, str]) -> str | None:
    """Why the search cannot run as given (a text or filter longer than any there is), or None."""
    if len(q) > LONGEST_SEARCH:
        return f"the search is {len(q)} characters long; keep it to {LONGEST_SEARCH}"
    for name, value in chosen.items():
        if len(value) > LONGEST_SEARCH:
            return f"the {name.replace('_', ' ')} is {len(value)} characters long; choose one from the list"
    return None


def _chosen(segment: str, stage: str, buyer_type: str, audience: str) -> dict[str, str]:
    """The filters given (an empty one is none), as the core and the links name them."""
    given = {"segment": segment, "stage": stage, "buyer_type": buyer_type, "audience": audience}
    return {name: value for name, value in given.items() if value}


@router.get("/customers")
def customers(request: Request, q: str = "", page: str = "1", segment: str = "", stage: str = "",
              buyer_type: str = "", audience: str = "") -> Response:
    user = page_user(request, READ_CUSTOMERS)
    number = _page_number(page)
    if number is None:
        return error_page(request, user, 422, f"page {page!r} is not a page number: give a whole number from 1")
    chosen = _chosen(segment, stage, buyer_type, audience)
    if (problem := _too_long(q, chosen)) is not None:
        return error_page(request, user, 422, problem)
    page, offset = number, (number - 1) * PER_PAGE
    try:
        with shop(request).use() as ws:
            choices = ws.customers.filters()
            found = ws.customers.search(q, PER_PAGE, offset, **chosen)
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    pages = max(1, -(-found.total // PER_PAGE))
    link = lambda number: "/customers?" + urlencode({"q": q, **chosen, "page": number})  # noqa: E731
    return render(request, "customers.j2", user, q=q, chosen=chosen, choices=choices, found=found, page=page,
                  pages=pages, offset=offset,
                  previous=link(page - 1) if page > 1 else None, next=link(page + 1) if page < pages else None,
                  export="/customers.csv?" + urlencode({"q": q, **chosen}),
                  twin="/api/v1/customers?" + urlencode({"q": q, **chosen, "limit": PER_PAGE, "offset": offset}))


@router.get("/customers.csv")
def customers_csv(request: Request, q: str = "", segment: str = "", stage: str = "", buyer_type: str = "",
                  audience: str = "") -> Response:
    """Every match of the search as CSV, with the columns of the JSON twin's items."""
    user = page_user(request, READ_CUSTOMERS)
    chosen = _chosen(segment, stage, buyer_type, audience)
    if (problem := _too_long(q, chosen)) is not None:
        return error_page(request, user, 422, problem)
    columns = [spec.name for spec in fields(CustomerMatch)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    try:
        with shop(request).use() as ws:
            for offset in range(0, EXPORT_LIMIT, _EXPORT_STEP):
                found = ws.customers.search(q, _EXPORT_STEP, offset, **chosen)
                writer.writerows([getattr(match, name) for name in columns] for match in found.matches)
                if offset + _EXPORT_STEP >= found.total:
                    break
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="customers.csv"',
                             "Cache-Control": HEADERS["Cache-Control"]})


# A playbook's message or task by its channel and outbox status, in words (docs/playbooks.md).
CHANNELS = {"email": "Email", "sms": "SMS", "webhook": "Message by webhook", "file": "Message to the outbox file",
            "task": "Task"}
STATUSES = {"queued": "planned", "sending": "being sent", "sent": "delivered", "failed": "not delivered",
            "unknown": "may or may not have arrived (the run stopped while sending)", "suppressed": "not sent",
            "skipped": "not sent"}
TASK_STATUSES = {**STATUSES, "sent": "handed to the team", "failed": "not handed to the team"}


def message_status(channel: str, status: str, reason: str | None) -> str:
    """What became of a message or task, in words: "delivered", "not sent: no email consent"."""
    said = (TASK_STATUSES if channel == "task" else STATUSES).get(status, status)
    if status == "suppressed" and not reason:
        reason = "no consent"
    return f"{said}: {reason}" if reason and status in ("failed", "suppressed", "skipped") else said


def timeline(found: CustomerView) -> list[dict]:
    """Orders, returns, contacts, messages and tasks, newest first, each with when, what and the figure
    that goes with it (``field``, ``amount``) or its status (``status_field``, ``status``)."""
    events = [{"at": order.placed_at, "kind": "order", "what": f"Order {order.order_id}",
               "detail": order.status if order.is_purchase else f"{order.status} (not counted as a purchase)",
               "amount": order.net, "field": f"orders.{index}.net"} for index, order in enumerate(found.orders)]
    events += [{"at": row.get("returned_at"), "kind": "return", "what": f"Return {row.get('return_id')}",
                "detail": " ".join(str(part) for part in (row.get("sku"), row.get("reason")) if part),
                "amount": row.get("amount"), "field": f"returns.{index}.amount"}
               for index, row in enumerate(found.returns)]
    events += [{"at": row.get("occurred_at"), "kind": "contact",
                "what": " ".join(str(part) for part in (row.get("direction"), row.get("kind")) if part).capitalize(),
                "detail": " – ".join(str(part) for part in (row.get("outcome"), row.get("note"), row.get("by_whom"))
                                     if part), "amount": None, "field": None}
               for row in found.interactions]
    for index, sent in enumerate(found.messages):
        said = sent.text if sent.channel == "task" else sent.subject
        events.append({
            "at": sent.sent_at or sent.due_at, "kind": "task" if sent.channel == "task" else "message",
            "what": CHANNELS.get(sent.channel, sent.channel) + (f": {said}" if said else ""),
            "detail": f"{message_status(sent.channel, sent.status, sent.reason)} – {sent.playbook}, step {sent.step}",
            "status": sent.status, "status_field": f"messages.{index}.status", "amount": None, "field": None})
    return sorted(events, key=lambda event: (event["at"] is not None, event["at"]), reverse=True)


@router.get("/customers/{customer_id}")
def customer(request: Request, customer_id: str) -> Response:
    user = page_user(request, READ_CUSTOMERS)
    try:
        with shop(request).use() as ws:
            found = ws.customers.view(customer_id)
            currency = ws.measures.currency()
            tasks = customer_tasks(ws, found.customer.external_id)  # their open tasks, the managers
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    return render(request, "customer.j2", user, c=found, currency=currency, timeline=timeline(found),
                  twin=f"/api/v1/customers/{customer_id}", **tasks)
