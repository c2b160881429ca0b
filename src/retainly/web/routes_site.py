"""The site snippet's endpoint and the script itself (docs/api.md, "The site snippet").

``GET /snippet.js`` serves the script (``static/retainly.js``) to any page. ``POST
/api/v1/site/events`` takes its events: not with an API key (a page cannot keep a secret) but
with a public site key (``retainly sites add``), checked in this order:

    no Origin header                       403   (browsers always send one with a POST)
    a body over 16 KB                      413
    a body that is not a valid batch      422   {"error", "field"} with the field's path
    too many requests for key and address  429   with Retry-After, in seconds
    an unknown, malformed or revoked key   401
    an Origin the key does not list        403
    otherwise                              200   {"accepted", "already_received"}

The body is JSON sent as text/plain, so the browser sends it without a CORS preflight; an
``OPTIONS`` preflight (a page that sends JSON as application/json) is answered for the origins
of the live site keys only. Answers to an allowed origin carry Access-Control-Allow-Origin.
The limit is a token bucket per site key and client address, in the memory of the server
process: ``BURST`` requests at once, then ``PER_SECOND`` a second. Behind a reverse proxy the
client's address comes from X-Forwarded-For, which uvicorn trusts from the proxy's address
only (docs/deploy.md).
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator
from starlette.concurrency import run_in_threadpool

from retainly.results.sites import SiteEventsRecorded, SiteKey
from retainly.services.sites import SNIPPET_PATH
from retainly.web.errors import error_body
from retainly.web.pages import json_response
from retainly.web.shop import shop

SCRIPT = Path(__file__).parent / "static" / "retainly.js"
MAX_BODY = 16 * 1024
MOST_EVENTS = 20
BURST = 120
PER_SECOND = 2.0
_ID = r"^[A-Za-z0-9_-]{8,64}$"
_NEEDS_SKU = ("product_view", "add_to_cart")

site = APIRouter(prefix="/site", tags=["site"])
snippet = APIRouter(include_in_schema=False)


class SiteEvent(BaseModel):
    event_id: str = Field(pattern=_ID, description="Chosen by the snippet, random: a repeat is written once.")
    kind: Literal["visit", "product_view", "add_to_cart", "checkout"]
    sku: str | None = Field(None, min_length=1, max_length=200, validate_default=True,
                            description="The product; needed for product_view and add_to_cart.")
    order_id: str | None = Field(None, min_length=1, max_length=200, description="The order a checkout placed.")

    @field_validator("sku")
    @classmethod
    def _sku_where_needed(cls, sku: str | None, info: ValidationInfo) -> str | None:
        if sku is None and info.data.get("kind") in _NEEDS_SKU:
            raise ValueError(f"an event of kind {info.data['kind']} needs the product's `sku`")
        return sku


class SiteBatch(BaseModel):
    site_key: str = Field(max_length=100, description="The public site key (`retainly sites add`).")
    session_id: str = Field(pattern=_ID, description="The visitor's session, a random id.")
    customer_id: str | None = Field(None, min_length=1, max_length=200,
                                    description="The shop's id of the customer, when the page knows it.")
    events: list[SiteEvent] = Field(min_length=1, max_length=MOST_EVENTS)


class TokenBuckets:
    """Token buckets by key: each holds up to ``burst`` tokens and gains ``per_second``; a request
    takes one. ``take`` answers 0 when it may go on, else the seconds until a token is back."""

    def __init__(self, burst: int = BURST, per_second: float = PER_SECOND, most_buckets: int = 100_000):
        self.burst, self.per_second, self.most_buckets = burst, per_second, most_buckets
        self._buckets: dict[tuple, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: tuple) -> float:
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.per_second)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return (1 - tokens) / self.per_second
            self._buckets[key] = (tokens - 1, now)
            if len(self._buckets) > self.most_buckets:
                self._forget_full(now)
            return 0.0

    def _forget_full(self, now: float) -> None:
        # A bucket that has filled up again is the same as no bucket: forget those.
        full = [key for key, (tokens, then) in self._buckets.items()
                if tokens + (now - then) * self.per_second >= self.burst]
        for key in full:
            del self._buckets[key]


def limits(request: Request) -> TokenBuckets:
    """The buckets of the app serving ``request`` (made on first use, on the event loop's one thread)."""
    state = request.app.state
    if getattr(state, "site_limits", None) is None:
        state.site_limits = TokenBuckets()
    return state.site_limits


def _cors(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def _origin(request: Request) -> str:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        raise HTTPException(403, "no Origin header: site events come from the shop's pages in a browser, through "
                                 "the snippet (docs/api.md); servers send events with an API key instead")
    return origin.strip().lower().rstrip("/")


def _batch(body: bytes) -> SiteBatch:
    try:
        return SiteBatch.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]) from None


@site.post("/events", response_model=SiteEventsRecorded, responses={
    401: {"description": "Unknown or revoked site key"}, 403: {"description": "No Origin, or one the key does "
    "not list"}, 413: {"description": "Body over 16 KB"}, 429: {"description": "Too many requests; see Retry-After"}})
async def site_events(request: Request) -> Response:
    """Events of the site snippet: a JSON body (sent as text/plain) of ``site_key``, ``session_id``,
    ``customer_id`` (optional: the shop's id) and ``events``, 1 to 20 of ``event_id``, ``kind``
    (visit, product_view, add_to_cart, checkout), ``sku`` and ``order_id``. The time is the
    server's. Needs no API key: the site key and the request's Origin (see the module docstring)."""
    origin = _origin(request)
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        raise HTTPException(413, f"the body is over {MAX_BODY // 1024} KB; send at most {MOST_EVENTS} events at once")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, f"the body is over {MAX_BODY // 1024} KB; send at most {MOST_EVENTS} events at once")
    batch = _batch(body)
    address = request.client.host if request.client else ""
    wait = limits(request).take((batch.site_key, address))
    if wait:
        raise HTTPException(429, "too many events from this address for this site key; try again later",
                            headers={"Retry-After": str(max(1, math.ceil(wait)))})
    return await run_in_threadpool(_record, request, batch, origin)


def _record(request: Request, batch: SiteBatch, origin: str) -> Response:
    with shop(request).use() as ws:
        found: SiteKey | None = ws.sites.live(batch.site_key)
        if found is None:
            raise HTTPException(401, "the site key is not valid: unknown, mistyped or revoked; `retainly sites list` "
                                     "shows the live ones")
        if origin not in found.origins:
            raise HTTPException(403, f"the origin {origin} is not one the site key is taken from; add it with "
                                     "`retainly sites add --origin` (a new key) or use the key made for it")
        events = [event.model_dump() for event in batch.events]
        recorded = ws.sites.record(found, batch.session_id, batch.customer_id, events)
    response = json_response(recorded)
    response.headers.update(_cors(origin))
    return response


@site.options("/events", include_in_schema=False)
def preflight(request: Request) -> Response:
    """A CORS preflight: allowed for the origins of the live site keys, refused for any other."""
    origin = _origin(request)
    with shop(request).use() as ws:
        allowed = origin in ws.sites.allowed_origins()
    if not allowed:
        return JSONResponse(error_body(f"the origin {origin} is not one any live site key is taken from"), 403)
    return Response(status_code=204, headers={**_cors(origin), "Access-Control-Allow-Methods": "POST",
                                              "Access-Control-Allow-Headers": "Content-Type",
                                              "Access-Control-Max-Age": "600"})


@snippet.get(SNIPPET_PATH)
def script() -> FileResponse:
    """The snippet's script, for any page to load (it holds no secret)."""
    return FileResponse(SCRIPT, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})


ROUTERS = (site,)
