"""The web app for people, beside the API: login, the pages, their CSS (docs/web.md).

``install(app)`` adds the pages' routes, serves ``web/static`` at ``/static`` and plotly.js at
``/vendor/plotly.min.js`` (nothing is loaded from another site) and answers the pages' own refusals: no session (a redirect to the login
page, and back after it), a role that may not see the page (403) and a form without its CSRF
token (403), each as a page rather than the API's JSON.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from retainly.web import (charts, pages_audiences, pages_customers, pages_imports, pages_login, pages_models,
                          pages_nps, pages_overview, pages_playbooks, pages_preview, pages_tasks, routes_links)
from retainly.web import pages_experiments
from retainly.web.render import STATIC, error_page
from retainly.web.session import CsrfRefused, LoginRequired, PageForbidden, current_user, login_redirect


def _login_required(_request: Request, exc: LoginRequired) -> Response:
    return login_redirect(exc.back_to)


def _forbidden(request: Request, exc: PageForbidden) -> Response:
    return error_page(request, exc.user, 403, f"this page is not for the role {exc.user.role}; it needs "
                                              f"{' or '.join(exc.allowed)}")


def _csrf_refused(request: Request, exc: CsrfRefused) -> Response:
    return error_page(request, current_user(request), 403, str(exc))


def install(app: FastAPI) -> None:
    """Add the web app to ``app``."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (pages_login, pages_overview, pages_customers, pages_imports, pages_playbooks, pages_audiences,
                   pages_models, pages_nps, pages_preview, pages_tasks, pages_experiments, charts, routes_links):
        app.include_router(module.router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(PageForbidden, _forbidden)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
