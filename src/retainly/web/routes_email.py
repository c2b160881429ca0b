"""A mail provider's bounce and complaint webhook: ``POST /api/v1/email/providers/postmark``
(docs/email.md, "Bounces and complaints").

Point Postmark's Bounce and Spam Complaint webhooks at this URL with an API key of the role
``ingest`` (Postmark sends custom headers: ``X-API-Key``). Each call is one record; it is kept
once (by Postmark's id), and a hard bounce or a complaint suppresses the address at once. Other
record types are answered 200 and ignored, so the provider does not retry them.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from retainly.errors import InputError
from retainly.results.email import BouncesRead
from retainly.web.auth import INGEST, allow
from retainly.web.pages import json_response
from retainly.web.shop import shop

email = APIRouter(prefix="/email", tags=["email"], dependencies=[allow(*INGEST)])
MAX_BODY = 256 * 1024  # a bounce record with its full content is a few kilobytes


@email.post("/providers/postmark", response_model=BouncesRead)
async def postmark(request: Request) -> Response:
    """One Postmark Bounce or SpamComplaint record: hard bounces and complaints suppress the
    address at once, soft bounces count toward the limit; a repeat of a record changes nothing."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise InputError(f"the body is over {MAX_BODY // 1024} KB; send one record per call", parameter="body")
    try:
        record = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InputError("the body is not JSON: send the provider's record as it posts it", parameter="body") from None
    return await run_in_threadpool(_record, request, record)


def _record(request: Request, record) -> Response:
    with shop(request).use() as ws:
        return json_response(ws.email.provider_event("postmark", record))


ROUTERS = (email,)
