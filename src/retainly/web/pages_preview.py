"""A playbook step's email as one customer would get it: ``/playbooks/{name}/preview?customer=&step=``
(docs/email.md, "Preview and test").

The page shows the address, the channel a run would use (or why none), the subject and the text
part, each as its JSON twin ``GET /api/v1/playbooks/{name}/preview?customer=&step=`` spells it
(``ws.email.preview``), and the HTML part in a sandboxed frame. The frame's document is served by
``/playbooks/{name}/preview.html``: the message's own inline styles need a policy of their own
(the app's pages allow no inline style), and the sandbox runs no script and gives the frame no
access to the app.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from retainly.errors import RetainlyError
from retainly.web.auth import READ_FIGURES
from retainly.web.render import error_page, render
from retainly.web.session import page_user
from retainly.web.shop import shop

router = APIRouter(include_in_schema=False)
# The message's HTML, framed by the preview page only: its inline styles, images from anywhere, no script.
FRAME_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src * data:; "
                                            "frame-ancestors 'self'",
                 "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _query(customer: str, step: int) -> str:
    return urlencode({"customer": customer, "step": step})


@router.get("/playbooks/{name}/preview")
def preview(request: Request, name: str, customer: str = "", step: int = 1) -> Response:
    user = page_user(request, READ_FIGURES)
    if not customer.strip():
        return error_page(request, user, 422, "give a customer (the shop's id) to preview the email for")
    try:
        with shop(request).use() as ws:
            shown = ws.email.preview(name, customer.strip(), step)
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    base = f"/playbooks/{quote(name, safe='')}"
    return render(request, "preview.j2", user, shown=shown, back=base,
                  twin=f"/api/v1{base}/preview?{_query(customer.strip(), step)}",
                  frame=f"{base}/preview.html?{_query(customer.strip(), step)}")


@router.get("/playbooks/{name}/preview.html")
def preview_html(request: Request, name: str, customer: str = "", step: int = 1) -> Response:
    page_user(request, READ_FIGURES)
    try:
        with shop(request).use() as ws:
            shown = ws.email.preview(name, customer.strip(), step)
    except RetainlyError as problem:
        return HTMLResponse(f"<p>{escape(str(problem))}</p>", status_code=problem.http_status, headers=FRAME_HEADERS)
    return HTMLResponse(shown.html, headers=FRAME_HEADERS)
