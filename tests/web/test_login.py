"""Logging in to the web app on a running server (real uvicorn, real httpx; both engines): the
login form and its CSRF token, wrong passwords and the lock-out, the session cookie, logging
out, pages that send a visitor without a session to the login page, and roles.

The server is tests/web/conftest.py's, over the hand-checked KPI shop; each test adds its own
users to the server's store (their emails differ from test to test: the shop is shared)."""

from __future__ import annotations

import re

import httpx
import pytest

from retainly.access.users import LOCK_AFTER

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Visitor:
    """A browser of its own (its own cookies) on the running server."""

    def __init__(self, api):
        self.client = httpx.Client(base_url=str(api.client.base_url), timeout=60)

    def form_token(self, path: str = "/login") -> str:
        return _CSRF.search(self.client.get(path).text).group(1)

    def log_in(self, email: str, password: str = PASSWORD, next_path: str = "/") -> httpx.Response:
        token = self.form_token(f"/login?next={next_path}")
        return self.client.post("/login", data={"email": email, "password": password, "next": next_path,
                                                "csrf_token": token})

    def close(self):
        self.client.close()


@pytest.fixture
def visitor(api):
    found = Visitor(api)
    yield found
    found.close()


def add_user(api, email: str, role: str = "analyst") -> None:
    with api.app.state.shop.use() as ws:  # the server's own workspace: DuckDB lets one process write the store
        ws.users.add(email, role, PASSWORD, f"{role} user")


def sessions_of(api, email: str) -> int:
    with api.app.state.shop.use() as ws:
        return ws.store.fetchone("SELECT COUNT(*) FROM user_sessions s JOIN users u ON u.user_id = s.user_id "
                                 "WHERE u.email = ?", (email,))[0]


@pytest.mark.parametrize("path", ["/", "/overview?first=2024-03-01", "/customers?q=ada", "/customers/A",
                                  "/customers.csv"])
def test_pages_send_a_visitor_without_a_session_to_the_login_page(visitor, path):
    answer = visitor.client.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=" + path.replace("?", "%3F").replace("=", "%3D")


def test_log_in_and_out(api, visitor):
    add_user(api, "login-out@example.com")
    form = visitor.client.get("/login?next=/customers")
    assert form.status_code == 200 and 'name="csrf_token"' in form.text
    assert form.headers["content-security-policy"].startswith("default-src 'self'")
    answer = visitor.log_in("Login-Out@example.com", next_path="/customers")
    assert (answer.status_code, answer.headers["location"]) == (303, "/customers")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("retainly_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/" in cookie and "Max-Age=43200" in cookie and "Secure" not in cookie  # plain http here
    page = visitor.client.get("/customers")
    assert page.status_code == 200 and "analyst user (analyst)" in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
    assert sessions_of(api, "login-out@example.com") == 1
    assert visitor.client.get("/login").headers["location"] == "/"  # logged in: no form, go on
    # Logging in again (a form left open in another tab) starts a new session and ends the old.
    again = visitor.client.post("/login", data={"email": "login-out@example.com", "password": PASSWORD,
                                                "csrf_token": visitor.client.cookies["retainly_login_csrf"]})
    assert again.headers["set-cookie"].split(";")[0] != cookie.split(";")[0]
    assert sessions_of(api, "login-out@example.com") == 1

    # Logging out needs the session's own CSRF token: without it nothing happens.
    refused = visitor.client.post("/logout", data={})
    assert refused.status_code == 403 and "security token is missing or out of date" in refused.text
    refused = visitor.client.post("/logout", data={"csrf_token": "x" * 43})
    assert refused.status_code == 403 and sessions_of(api, "login-out@example.com") == 1
    token = visitor.form_token("/customers")  # the logout form in the menu
    answer = visitor.client.post("/logout", data={"csrf_token": token})
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    assert sessions_of(api, "login-out@example.com") == 0
    assert visitor.client.get("/customers").status_code == 303


def test_the_login_form_needs_its_csrf_token(api, visitor):
    add_user(api, "csrf@example.com")
    visitor.client.get("/login")  # the cookie half of the double-submit token is set
    for token in (None, "", "not-the-cookie's"):
        data = {"email": "csrf@example.com", "password": PASSWORD}
        if token is not None:
            data["csrf_token"] = token
        answer = visitor.client.post("/login", data=data)
        assert answer.status_code == 403 and "retainly_session" not in answer.headers.get("set-cookie", "")
    # Another site's form: the right-looking field but no cookie of this site to match.
    with httpx.Client(base_url=visitor.client.base_url) as stranger:
        answer = stranger.post("/login", data={"email": "csrf@example.com", "password": PASSWORD,
                                               "csrf_token": visitor.client.cookies["retainly_login_csrf"]})
    assert answer.status_code == 403
    assert sessions_of(api, "csrf@example.com") == 0


def test_wrong_passwords_lock_the_account(api, visitor):
    add_user(api, "lockout@example.com")
    answer = visitor.log_in("nobody@example.com")
    assert answer.status_code == 401 and "wrong email or password" in answer.text
    for _ in range(LOCK_AFTER - 1):
        answer = visitor.log_in("lockout@example.com", "wrong guess")
        assert answer.status_code == 401 and "wrong email or password" in answer.text
    answer = visitor.log_in("lockout@example.com", "wrong guess")
    assert "too many wrong passwords: the account is locked for 15 minutes" in answer.text
    answer = visitor.log_in("lockout@example.com")  # the right password, but locked
    assert answer.status_code == 401 and "locked for 15 more minutes" in answer.text
    with api.app.state.shop.use() as ws:
        ws.users.unlock("lockout@example.com")
    assert visitor.log_in("lockout@example.com").status_code == 303


def test_a_disabled_user_is_logged_out(api, visitor):
    add_user(api, "disabled@example.com")
    assert visitor.log_in("disabled@example.com").status_code == 303
    with api.app.state.shop.use() as ws:
        ws.users.disable("disabled@example.com")
    assert visitor.client.get("/customers").status_code == 303
    answer = visitor.log_in("disabled@example.com")
    assert answer.status_code == 401 and "this account is disabled; ask an admin" in answer.text


def test_roles_decide_the_pages(api, visitor):
    add_user(api, "manager@example.com", "manager")
    answer = visitor.log_in("manager@example.com")
    assert answer.headers["location"] == "/"
    assert visitor.client.get("/").headers["location"] == "/customers"  # a manager's front door
    page = visitor.client.get("/customers")
    assert 'href="/overview"' not in page.text  # the menu shows only what the role may see
    refused = visitor.client.get("/overview")
    assert refused.status_code == 403
    assert "this page is not for the role manager; it needs admin or analyst" in refused.text


def test_after_login_only_this_sites_pages(api, visitor):
    add_user(api, "next@example.com")
    for elsewhere in ("//elsewhere.example/", "https://elsewhere.example/", "/\\elsewhere.example"):
        visitor.client.cookies.clear()
        answer = visitor.log_in("next@example.com", next_path=elsewhere)
        assert answer.headers["location"] == "/"


def test_customers_export_to_csv(api, visitor):
    """Searching "a" finds A (its id, first as an exact id) and B (b's email, bo@example.com, has
    an a); C, D and E have no email and names without an a (conftest.py lists the shop)."""
    add_user(api, "export@example.com", "manager")
    visitor.log_in("export@example.com")
    answer = visitor.client.get("/customers.csv?q=a")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.text.splitlines() == ["customer_id,name,email,phone,country", "A,Ada,ada@example.com,,Slovenia",
                                        "B,Bo,bo@example.com,,"]
