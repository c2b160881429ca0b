"""Logging in and out of the web app, and the front door (docs/web.md).

``GET /login`` shows the form, ``POST /login`` checks the email and password (``ws.users.log_in``:
wrong passwords are counted, 5 in a row lock the account for 15 minutes) and sets the session
cookie; ``POST /logout`` ends the session. Both forms carry a CSRF token (``retainly.web.session``).
``/`` sends a user to the first page their role may see.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from retainly.web.auth import READ_FIGURES
from retainly.web.render import render
from retainly.web.session import (CSRF_FIELD, LOGIN_CSRF_COOKIE, LoginRequired, clear_session_cookie, current_user,
                                  login_csrf, may_see, require_csrf, safe_next, session_token, set_login_csrf,
                                  set_session_cookie)
from retainly.web.shop import shop

router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form()]


def _login_form(request: Request, next_path: str, email: str = "", refused: str | None = None,
                status_code: int = 200) -> Response:
    token = login_csrf(request)
    response = render(request, "login.j2", None, status_code=status_code, csrf_token=token, next_path=next_path,
                      email=email, refused=refused)
    set_login_csrf(response, request, token)
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:  # noqa: A002 - the parameter's name in the URL
    """The login form; a user already logged in goes on at once."""
    if current_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, safe_next(next))


@router.post("/login")
def log_in(request: Request, email: FormText = "", password: FormText = "", next: FormText = "/",  # noqa: A002
           csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "") -> Response:
    """Check the form's token, then the password; logged in, on to where they were going."""
    require_csrf(csrf_token, request.cookies.get(LOGIN_CSRF_COOKIE))
    with shop(request).use() as ws:
        login = ws.users.log_in(email, password)
        if login.ok and session_token(request):
            ws.users.log_out(session_token(request))  # the browser's earlier session, replaced by this one
            shop(request).forget("session", session_token(request))
    if not login.ok:
        return _login_form(request, safe_next(next), email=email, refused=login.refused, status_code=401)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, request, login.token)
    return response


@router.post("/logout")
def log_out(request: Request, csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "") -> Response:
    """End the session (the form's token must be the session's) and show the login form."""
    user = current_user(request)
    if user is None:
        response = RedirectResponse("/login", status_code=303)
    else:
        require_csrf(csrf_token, user.csrf_token)
        token = session_token(request)
        shop(request).forget("session", token)
        with shop(request).use() as ws:
            ws.users.log_out(token)
        response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request)
    return response


@router.get("/")
def front_door(request: Request) -> Response:
    """The overview for those who may see figures, the customers for the others."""
    user = current_user(request)
    if user is None:
        raise LoginRequired("/")
    return RedirectResponse("/overview" if may_see(user, READ_FIGURES) else "/customers", status_code=303)
