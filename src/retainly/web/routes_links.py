"""The links in emails, for customers, without a login (docs/email.md): ``/u/<token>``, the
unsubscribe link of every marketing email, and ``/f/<token>``, the feedback question's.

Unsubscribe:

* ``POST /u/<token>``: unsubscribes at once and answers 200 (never a redirect). This is what a
  mail client sends for RFC 8058's one-click (``List-Unsubscribe=One-Click``, urlencoded or
  multipart, without cookies) and what the page's button sends. No session and no CSRF token:
  the signed token is the authority, and the action only ever takes a customer off a list.
* ``GET /u/<token>``: a page with a button that POSTs; a GET never unsubscribes, because link
  scanners and mail previews fetch links nobody clicked.
* A token that is not ours (forged, altered, cut short) gets 404 on both.

Feedback (a score from 0 to 10, and a comment):

* ``GET /f/<token>/<score>`` (each score in the email is such a link) and ``GET /f/<token>``
  show the question with that score chosen and a comment box; they record nothing, for the
  same reason: a link scanner would otherwise answer every score.
* ``POST /f/<token>`` (``score``, ``comment``) keeps the answer, replacing an earlier one.

Tracking (retainly.messaging.tracking):

* ``GET /c/<token>``: a click; 302 to the destination the token signs (never one from the
  request), the click kept unless a bot made it; 404 for a token that is not ours.
* ``GET /o/<token>``: the open pixel, a 1x1 GIF that is never cached; the open kept once.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from retainly.errors import InputError
from retainly.services.email import OPEN_PIXEL
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


@router.get("/f/{token}")
def feedback_page(request: Request, token: str) -> HTMLResponse:
    return _question(request, token, None)


@router.get("/f/{token}/{score}")
def feedback_page_with_score(request: Request, token: str, score: str) -> HTMLResponse:
    return _question(request, token, score)


def _question(request: Request, token: str, score: str | None) -> HTMLResponse:
    try:
        with shop(request).use() as ws:
            question = ws.email.feedback_question(token, score)
    except InputError:  # a score outside 0-10 in the address: ask without one
        return _question(request, token, None)
    if question is None:
        return render(request, "feedback.j2", None, status_code=404, state="unknown", shop="")
    return render(request, "feedback.j2", None, state="ask", shop=question.shop_name, score=question.score,
                  comment=question.comment, action=f"/f/{token}")


@router.post("/f/{token}")
async def feedback(request: Request, token: str) -> HTMLResponse:
    try:
        form = await request.form(max_files=0, max_fields=10)
        score, comment = form.get("score"), form.get("comment")
    except (HTTPException, ValueError):
        score, comment = None, None
    return await run_in_threadpool(_answer, request, token, score, comment)


def _answer(request: Request, token: str, score, comment) -> HTMLResponse:
    with shop(request).use() as ws:
        try:
            answered = ws.email.give_feedback(token, "" if score is None else str(score),
                                              None if comment is None else str(comment))
        except InputError as problem:
            question = ws.email.feedback_question(token)
            if question is None:
                return render(request, "feedback.j2", None, status_code=404, state="unknown", shop="")
            return render(request, "feedback.j2", None, status_code=422, state="ask", shop=question.shop_name,
                          score=None, comment=comment, action=f"/f/{token}", error=str(problem))
    if answered is None:
        return render(request, "feedback.j2", None, status_code=404, state="unknown", shop="")
    return render(request, "feedback.j2", None, state="thanks", shop=answered.shop_name, score=answered.score)


@router.get("/c/{token}")
def click(request: Request, token: str) -> Response:
    with shop(request).use() as ws:
        target = ws.email.clicked(token, request.headers.get("user-agent"))
    if target is None:
        return render(request, "unsubscribe.j2", None, status_code=404, state="unknown", shop="")
    return RedirectResponse(target, status_code=302,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@router.get("/o/{token}")
def opened(request: Request, token: str) -> Response:
    with shop(request).use() as ws:
        known = ws.email.opened(token)
    return Response(OPEN_PIXEL, status_code=200 if known else 404, media_type="image/gif",
                    headers={"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0"})
