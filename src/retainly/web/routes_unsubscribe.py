"""The unsubscribe link of every marketing email: ``/u/<token>`` (docs/email.md).

* ``POST /u/<token>``: unsubscribes at once and answers 200 (never a redirect). This is what a
  mail client sends for RFC 8058's one-click (``List-Unsubscribe=One-Click``, urlencoded or
  multipart, without cookies) and what the page's button sends. No session and no CSRF token:
  the signed token is the authority, and the action only ever takes a customer off a list.
* ``GET /u/<token>``: a page with a button that POSTs; a GET never unsubscribes, because link
  scanners and mail previews fetch links nobody clicked.
* A token that is not ours (forged, altered, cut short) gets 404 on both.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from retainly.web.render import render
from retainly.web.shop import shop

router = APIRouter(include_in_schema=False)


@router.get("/u/{token}")
def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    with shop(request).use() as ws:
        link = ws.email.unsubscribe_link(token)
    if link is None:
        return render(request, "unsubscribe.j2", None, status_code=404, state="unknown", shop="")
    return render(request, "unsubscribe.j2", None, state="done" if link.already_unsubscribed else "ask",
                  shop=link.shop_name, action=f"/u/{token}")


@router.post("/u/{token}")
async def unsubscribe(request: Request, token: str) -> HTMLResponse:
    how = "page"
    try:  # the body only says how the request came: a broken one still unsubscribes
        form = await request.form(max_files=0, max_fields=10)
        if form.get("List-Unsubscribe") == "One-Click":
            how = "one-click"
    except (HTTPException, ValueError):  # a malformed multipart body, a form over the limits
        pass
    return await run_in_threadpool(_unsubscribe, request, token, how)


def _unsubscribe(request: Request, token: str, how: str) -> HTMLResponse:
    with shop(request).use() as ws:
        link = ws.email.unsubscribe(token, how)
    if link is None:
        return render(request, "unsubscribe.j2", None, status_code=404, state="unknown", shop="")
    return render(request, "unsubscribe.j2", None, state="done", shop=link.shop_name)
