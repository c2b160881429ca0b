"""Server-rendered pages: the Jinja2 templates of ``web/templates`` and numbers in plain words.

Every figure a page shows also sits in a ``data-value`` attribute as its API twin's JSON spells it
(``data-field`` names where it sits in the twin's answer, ``data-twin`` on an enclosing element
names the twin), so a test, or a curious reader, can check the page against the API. The pages
need nothing from another site: the CSS is served from ``/static``, and the Content-Security-Policy
header forbids loading anything from elsewhere.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from retainly.results.base import json_text
from retainly.results.users import SessionUser
from retainly.views.report import format_count, format_money, format_percent, format_value
from retainly.web.auth import READ_CUSTOMERS, READ_FIGURES, WORK_TASKS
from retainly.web.session import CSRF_FIELD, may_see

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages show customers' data: not kept in a shared cache or the back button
}
# plotly.js styles its charts with inline style elements: pages with charts allow inline styles
# (never inline scripts: those stay refused everywhere).
CHART_HEADERS = {**HEADERS, "Content-Security-Policy": HEADERS["Content-Security-Policy"].replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'")}
# The menu: label, path, the roles that may see it (admin sees all).
MENU = (("Overview", "/overview", READ_FIGURES), ("Customers", "/customers", READ_CUSTOMERS),
        ("Tasks", "/tasks", WORK_TASKS),
        ("Imports", "/imports", READ_FIGURES), ("Playbooks", "/playbooks", READ_FIGURES),
        ("Experiments", "/experiments", READ_FIGURES),
        ("Audiences", "/audiences", READ_FIGURES),
        ("Models", "/models", READ_FIGURES), ("Feedback", "/nps", READ_FIGURES))


def _when(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat() if isinstance(value, date) else str(value)


def _yes_no(value: bool | None) -> str:
    return "not known" if value is None else "yes" if value else "no"


def _days(value: float | int | None) -> str:
    return "–" if value is None else f"{float(value):,.0f} days"


def _number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{float(value):,.{digits}f}"


def _words(value: str | None) -> str:
    """A stored code (at_risk, one_time) in words (at risk, one time)."""
    return "–" if value is None else str(value).replace("_", " ")


_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["j2", "html"]),
                   trim_blocks=True, lstrip_blocks=True)
_env.filters.update(json=json_text, count=format_count, percent=format_percent, money=format_money,
                    figure=format_value, when=_when, yes_no=_yes_no, days=_days, number=_number, words=_words)


def render(request: Request, template: str, user: SessionUser | None, status_code: int = 200,
           with_charts: bool = False, **context: Any) -> HTMLResponse:
    """The page ``template`` for ``user`` (None on the login page), with the menu their role may see
    (``with_charts``: the page draws charts, see ``CHART_HEADERS``)."""
    menu = [] if user is None else [(label, path) for label, path, roles in MENU if may_see(user, roles)]
    html = _env.get_template(template).render(user=user, menu=menu, path=request.url.path, csrf_field=CSRF_FIELD,
                                              **context)
    return HTMLResponse(html, status_code=status_code, headers=CHART_HEADERS if with_charts else HEADERS)


def error_page(request: Request, user: SessionUser | None, status_code: int, message: str) -> HTMLResponse:
    """A page saying what went wrong, in the layout (with the menu when someone is logged in)."""
    return render(request, "error.j2", user, status_code=status_code, message=message, status=status_code)
