"""Who is looking at a page: the session cookie of a logged-in user, and CSRF checks of forms.

A login (``retainly.web.pages_login``) sets the cookie ``retainly_session`` to a random token;
the store keeps only its hash (``retainly.access.users``). The cookie is HttpOnly (no script can
read it), SameSite=Lax (another site's form cannot send it with a POST) and Secure when the page
came over https. Every form carries a CSRF token and a POST without the right one is refused
with 403 before it does anything:

- once logged in, the session's own token (a synchronizer token: made at login, kept with the
  session, different for every session);
- on the login form, where there is no session yet, a double-submit token: the same random value
  in a cookie and in the form, which another site can neither read nor set.

A page for people who are not logged in redirects to /login (and back after it); a page the
user's role may not see answers 403. The roles are the API's (``retainly.web.auth``).
"""

from __future__ import annotations

import secrets
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from retainly.services.users import SESSION_LIFETIME
from retainly.results.users import SessionUser
from retainly.web.shop import shop

SESSION_COOKIE = "retainly_session"
LOGIN_CSRF_COOKIE = "retainly_login_csrf"
CSRF_FIELD = "csrf_token"
_SESSION_SECONDS = int(SESSION_LIFETIME.total_seconds())


class LoginRequired(Exception):
    """Raised by a page for a visitor without a live session: answered by a redirect to /login."""

    def __init__(self, back_to: str):
        super().__init__(back_to)
        self.back_to = back_to


class PageForbidden(Exception):
    """Raised by a page the user's role may not see: answered by a 403 page."""

    def __init__(self, user: SessionUser, allowed: tuple[str, ...]):
        super().__init__(user.role)
        self.user = user
        self.allowed = allowed


class CsrfRefused(Exception):
    """Raised for a form sent without the right CSRF token: answered by a 403 page, nothing done."""


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def current_user(request: Request) -> SessionUser | None:
    """The logged-in user of this request; None without a live session."""
    token = session_token(request)
    if not token:
        return None
    return shop(request).check("session", token, lambda ws: ws.users.session(token))


def may_see(user: SessionUser, roles: tuple[str, ...]) -> bool:
    return user.role == "admin" or user.role in roles


def page_user(request: Request, roles: tuple[str, ...]) -> SessionUser:
    """The logged-in user, allowed one of ``roles`` (admin always is); else the redirect to the
    login page or the 403 page."""
    user = current_user(request)
    if user is None:
        back_to = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(back_to)
    if not may_see(user, roles):
        raise PageForbidden(user, ("admin", *roles))
    return user


def login_redirect(back_to: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(back_to, safe='/')}", status_code=303)


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this site only, never another site's address."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def require_csrf(sent: str | None, expected: str | None) -> None:
    """Refuse (403) a form whose CSRF token is missing or not the one expected; compared in constant time."""
    if not sent or not expected or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused("the form's security token is missing or out of date: reload the page and "
                          "send the form again")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=_SESSION_SECONDS, httponly=True, samesite="lax",
                        secure=_secure(request), path="/")


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=_secure(request), path="/")


def login_csrf(request: Request) -> str:
    """The login form's double-submit token: the cookie's, or a new one (set by ``set_login_csrf``)."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)


def set_login_csrf(response: Response, request: Request, token: str) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request),
                        path="/login")
