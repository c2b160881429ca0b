"""The Customers pages: finding a customer, and one customer on one page (docs/web.md).

``/customers?q=`` finds customers by the shop's id, name, email or phone, 20 to a page; its
JSON twin is ``GET /api/v1/customers?q=...&limit=20&offset=...`` (``ws.customers.search``), and
``/customers.csv?q=`` exports every match. ``/customers/{id}`` shows profile and consent, what the
customer bought and returned and every contact, the predictions and warning signs in words,
reorders due and products to offer; its twin is ``GET /api/v1/customers/{id}`` (``ws.customers.view``).
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


@router.get("/customers")
def customers(request: Request, q: str = "", page: str = "1") -> Response:
    user = page_user(request, READ_CUSTOMERS)
    number = _page_number(page)
    if number is None:
        return error_page(request, user, 422, f"page {page!r} is not a page number: give a whole number from 1")
    if len(q) > LONGEST_SEARCH:
        return error_page(request, user, 422, f"the search is {len(q)} characters long; keep it to {LONGEST_SEARCH}")
    page, offset = number, (number - 1) * PER_PAGE
    try:
        with shop(request).use() as ws:
            found = ws.customers.search(q, PER_PAGE, offset)
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    pages = max(1, -(-found.total // PER_PAGE))
    link = lambda number: "/customers?" + urlencode({"q": q, "page": number})  # noqa: E731
    return render(request, "customers.j2", user, q=q, found=found, page=page, pages=pages, offset=offset,
                  previous=link(page - 1) if page > 1 else None, next=link(page + 1) if page < pages else None,
                  export="/customers.csv?" + urlencode({"q": q}),
                  twin="/api/v1/customers?" + urlencode({"q": q, "limit": PER_PAGE, "offset": offset}))


@router.get("/customers.csv")
def customers_csv(request: Request, q: str = "") -> Response:
    """Every match of the search as CSV, with the columns of the JSON twin's items."""
    user = page_user(request, READ_CUSTOMERS)
    if len(q) > LONGEST_SEARCH:
        return error_page(request, user, 422, f"the search is {len(q)} characters long; keep it to {LONGEST_SEARCH}")
    columns = [spec.name for spec in fields(CustomerMatch)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    try:
        with shop(request).use() as ws:
            for offset in range(0, EXPORT_LIMIT, _EXPORT_STEP):
                found = ws.customers.search(q, _EXPORT_STEP, offset)
                writer.writerows([getattr(match, name) for name in columns] for match in found.matches)
                if offset + _EXPORT_STEP >= found.total:
                    break
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="customers.csv"',
                             "Cache-Control": HEADERS["Cache-Control"]})


def timeline(found: CustomerView) -> list[dict]:
    """Orders, returns and contacts, newest first, each with when, what and the figure that goes with it."""
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
    return sorted(events, key=lambda event: (event["at"] is not None, event["at"]), reverse=True)


@router.get("/customers/{customer_id}")
def customer(request: Request, customer_id: str) -> Response:
    user = page_user(request, READ_CUSTOMERS)
    try:
        with shop(request).use() as ws:
            found = ws.customers.view(customer_id)
            currency = ws.measures.currency()
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    return render(request, "customer.j2", user, c=found, currency=currency, timeline=timeline(found),
                  twin=f"/api/v1/customers/{customer_id}")
