"""Events as they happen (docs/api.md, "Events"): ``POST /events/{kind}`` with ``{"items": [...]}``.

One route per kind: orders (online, offline, phone), returns, interactions (calls, meetings,
feedback, ...), site events (visits, product views, add-to-cart, checkout), customers and
consent changes; for keys with the role ``ingest`` (and admin). Every item carries an
idempotency key. The answer lists every item's outcome (accepted, duplicate, invalid) in the
order sent: 200 when none is invalid, 422 when one is (the valid ones were written all the same).

The body is checked by the core, not by pydantic: one bad item must not refuse its batch, and
each problem is named by its path (``items[3].lines[0].unit_price``). The models below
describe the items in the OpenAPI document only; they are made from the core's field tables
(``retainly.ingest.events.item_fields``), so the document cannot drift from what is accepted.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any, Literal
from weakref import WeakKeyDictionary

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, WithJsonSchema, create_model
from pydantic import Field as Described

from retainly.results.events import EventBatch
from retainly.services.events import (
    CONSENT_CHANNELS,
    INTERACTION_KINDS,
    KEY,
    KEY_LENGTH_LIMIT,
    LINE_KINDS,
    MAX_ITEMS,
    MAX_LINES,
    ORDER_CHANNELS,
    ORDER_STATUSES,
    Field,
    item_fields,
    refuse_bad_batch,
)
from retainly.web.auth import INGEST, allow
from retainly.web.pages import json_response
from retainly.web.shop import shop

router = APIRouter(prefix="/events", tags=["events"], dependencies=[allow(*INGEST)])

# kind -> (path, model name, what it is)
ROUTES = {
    "orders": ("orders", "Order", "Orders with their lines: online, offline (the till) or phone (`channel`)."),
    "returns": ("returns", "Return", "Returns with their lines, linked to their order when known."),
    "interactions": ("interactions", "Interaction", "Calls, emails, meetings, feedback and support contacts."),
    "site_events": ("site-events", "SiteEvent", "Site events: visits, product views, add-to-cart, checkout."),
    "customers": ("customers", "Customer", "Customers: new ones, or new values for known ones."),
    "consent": ("consent", "ConsentChange", "Marketing consent given or withdrawn, per channel, by a known customer."),
}
_CHOICES = {"choice:status": ORDER_STATUSES, "choice:channel": ORDER_CHANNELS, "choice:kind": LINE_KINDS,
            "choice:interaction_kind": INTERACTION_KINDS, "choice:direction": ("inbound", "outbound"),
            "choice:consent_channel": CONSENT_CHANNELS}
_TYPES = {"id": str | int, "text": str, "timestamp": str, "date": str, "money": float | str, "money+": float | str,
          "int": int, "int+": int, "bool": bool, "rate": float}
_FORMATS = {"timestamp": "ISO 8601 date or time, e.g. 2024-03-31T14:05:00 (wall-clock time; an offset is ignored)",
            "date": "ISO 8601 date, e.g. 1980-02-03", "money": "a number, e.g. 6.95",
            "money+": "a number, 0 or more", "int+": "a whole number, 0 or more"}
_KEY_HELP = (f"Your own key for this event (1 to {KEY_LENGTH_LIMIT} characters, e.g. a UUID): an item whose key "
             "was written before is answered with its first result and writes nothing.")


def _field(spec: Field) -> tuple[Any, Any]:
    kind = spec.kind
    kind_type = Literal[_CHOICES[kind]] if kind in _CHOICES else _TYPES[kind]  # type: ignore[valid-type]
    help_text = spec.help + (f"; {_FORMATS[kind]}" if kind in _FORMATS else "")
    if spec.required:
        return kind_type, Described(..., description=help_text)
    return kind_type | None, Described(None, description=help_text)


def _item_model(kind: str, name: str) -> type[BaseModel]:
    fields, line_fields = item_fields(kind)
    extra: dict[str, Any] = {}
    if line_fields:
        line = create_model(f"{name}Line", **{f.name: _field(f) for f in line_fields})
        extra["lines"] = (list[line], Described(..., min_length=1, max_length=MAX_LINES))
    return create_model(name, **{KEY: (str, Described(..., min_length=1, max_length=KEY_LENGTH_LIMIT,
                                                      description=_KEY_HELP))},
                        **{f.name: _field(f) for f in fields}, **extra)


def _inlined(schema: dict) -> dict:
    """A model's JSON schema with its ``$defs`` written in place (the body's schema stands alone)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(dict(defs[node["$ref"].rsplit("/", 1)[1]]))
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return node

    return walk(schema)


def _body_model(kind: str, name: str) -> type[BaseModel]:
    item_schema = _inlined(_item_model(kind, name).model_json_schema())
    items_schema = {"type": "array", "maxItems": MAX_ITEMS, "items": item_schema,
                    "description": f"1 to {MAX_ITEMS:,} items; each is checked, and written or refused, on its own."}
    # Any JSON passes here; the core checks each item and names the path of every problem.
    return create_model(f"{name}Batch", items=(Annotated[list[Any], WithJsonSchema(items_schema)], ...))


class _Waiting:
    """One request's batch, waiting to be written by whichever request takes the workspace first."""

    def __init__(self, items: list) -> None:
        self.items = items
        self.done = threading.Event()
        self.result: EventBatch | None = None
        self.error: BaseException | None = None


class Combiner:
    """Requests of one kind that wait for the workspace while another is served are written together.

    Requests take the workspace one at a time (``retainly.web.shop``), and a batch's merge costs
    nearly as much for 100 items as for 400. So each request queues its batch, and the one that
    gets the workspace writes every batch of its kind queued by then, in arrival order; each
    request is still answered as if it came alone (``ws.events.ingest_together``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: dict[str, list[_Waiting]] = {}

    def ingest(self, request: Request, kind: str, items: list) -> EventBatch:
        refuse_bad_batch(kind, items)  # a batch refused whole must not fail the others
        mine = _Waiting(items)
        with self._lock:
            self._queued.setdefault(kind, []).append(mine)
        with shop(request).use() as ws:
            with self._lock:
                taken = self._queued.pop(kind, [])
            try:
                if taken:
                    for waiting, result in zip(taken, ws.events.ingest_together(kind, [w.items for w in taken])):
                        waiting.result = result
            except BaseException as exc:
                for waiting in taken:
                    waiting.error = exc
                raise
            finally:
                for waiting in taken:
                    waiting.done.set()
        mine.done.wait()  # set already: queued before this request took the workspace, written by then
        if mine.error is not None:
            raise mine.error
        return mine.result


_combiners: WeakKeyDictionary = WeakKeyDictionary()
_combiners_lock = threading.Lock()


def combiner(request: Request) -> Combiner:
    """The combiner of the shop serving ``request`` (one per app)."""
    with _combiners_lock:
        return _combiners.setdefault(shop(request), Combiner())


def _endpoint(kind: str, body_model: type[BaseModel]):
    def post(request: Request, body: Any) -> Response:
        result = combiner(request).ingest(request, kind, body.items)
        return json_response(result, 422 if result.invalid else 200)

    post.__annotations__ = {"request": Request, "body": body_model, "return": Response}
    return post


for _kind, (_path, _name, _what) in ROUTES.items():
    router.add_api_route(
        f"/{_path}", _endpoint(_kind, _body_model(_kind, _name)), methods=["POST"], response_model=EventBatch,
        name=f"post_{_kind}", summary=f"Send {_path.replace('-', ' ')}",
        description=f"{_what} Each item is answered in `items`, in the order sent: `accepted`, `duplicate` (its "
                    "idempotency key was written before: the first answer) or `invalid` (with the path and "
                    "problem of each field at fault). 200 when no item is invalid; 422 when one is, and the "
                    "valid ones were written all the same.",
        responses={422: {"model": EventBatch, "description": "Some items are invalid (the others were written); "
                                                             "or the body is not {\"items\": [...]}, answered as "
                                                             "{\"error\", \"field\"}."}},
    )

ROUTERS = (router,)
