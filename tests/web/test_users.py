"""Users of the web app (docs/web.md): added with a role, the password stored as an Argon2 hash,
listed without it, locked out after 5 wrong passwords in a row for 15 minutes, unlocked,
given a new password, disabled; sessions; in the core on both engines and through the CLI."""

from __future__ import annotations

import io
import json
import sys
from datetime import datetime, timedelta

import pytest

from retainly import Workspace
from retainly.access import users
from retainly.errors import ConflictError, InputError, NotFoundError
from tests.cli.running import captured

PASSWORD = "correct horse battery"
LISTED = {"user_id", "email", "name", "role", "created_at", "disabled_at", "failed_attempts", "locked_until",
          "last_login_at"}


def stored_values(ws: Workspace) -> list:
    return [value for table in ("users", "user_sessions")
            for row in ws.store.fetchall(f"SELECT * FROM {table}") for value in row]


def test_add_log_in_and_out(workspace):
    user = workspace.users.add("  Ana@Example.com ", "analyst", PASSWORD, " Ana Silva ")
    assert (user.user_id, user.email, user.name, user.role) == (1, "ana@example.com", "Ana Silva", "analyst")
    assert (user.failed_attempts, user.locked_until, user.disabled_at, user.last_login_at) == (0, None, None, None)
    assert user.to_dict().keys() == LISTED  # never the hash
    (hashed,) = workspace.store.fetchone("SELECT password_hash FROM users")
    assert hashed.startswith("$argon2id$") and PASSWORD not in stored_values(workspace)

    login = workspace.users.log_in("ANA@example.com", PASSWORD)  # the email in any case
    assert login.ok and login.refused is None and len(login.token) == 43
    session = login.session
    assert (session.user_id, session.email, session.role) == (1, "ana@example.com", "analyst")
    # The session lasts 12 hours from the login (to the second).
    assert session.expires_at - workspace.users.list()[0].last_login_at == timedelta(hours=12)
    assert login.token not in stored_values(workspace)  # only its SHA-256 is stored
    assert workspace.users.session(login.token) == session
    again = workspace.users.log_in("ana@example.com", PASSWORD)
    assert again.token != login.token and again.session.csrf_token != session.csrf_token  # one CSRF token per session
    workspace.users.log_out(login.token)
    assert workspace.users.session(login.token) is None
    assert workspace.users.session(again.token) is not None  # the other session lives on


@pytest.mark.parametrize("token", [None, "", "x" * 43, "y" * 500])
def test_anything_but_a_live_session_token_is_nobody(workspace, token):
    workspace.users.add("ana@example.com", "admin", PASSWORD)
    workspace.users.log_in("ana@example.com", PASSWORD)
    assert workspace.users.session(token) is None


def test_a_session_ends_when_it_runs_out(workspace):
    user = workspace.users.add("ana@example.com", "manager", PASSWORD)
    start = datetime(2026, 1, 1, 9, 0)
    token, _ = users.start_session(workspace.store, user.user_id, now=start)
    assert users.session(workspace.store, token, now=start + timedelta(hours=11, minutes=59)) is not None
    assert users.session(workspace.store, token, now=start + timedelta(hours=12)) is None


def test_five_wrong_passwords_lock_the_account_for_15_minutes(workspace):
    workspace.users.add("ana@example.com", "analyst", PASSWORD)
    start = datetime(2026, 1, 1, 9, 0)
    for attempt in range(1, 5):
        assert users.authenticate(workspace.store, "ana@example.com", "wrong guess", now=start) == (
            None, "wrong email or password")
        assert workspace.users.list()[0].failed_attempts == attempt
    user, refused = users.authenticate(workspace.store, "ana@example.com", "wrong guess", now=start)
    assert user is None and refused.startswith("too many wrong passwords: the account is locked for 15 minutes")
    assert workspace.users.list()[0].locked_until == start + timedelta(minutes=15)
    # Locked: even the right password is refused, and the lock does not grow.
    user, refused = users.authenticate(workspace.store, "ana@example.com", PASSWORD, now=start + timedelta(minutes=5))
    assert user is None and refused.startswith("too many wrong passwords: the account is locked for 10 more minutes")
    assert workspace.users.list()[0].locked_until == start + timedelta(minutes=15)
    # 15 minutes on, the lock has run out: a wrong password starts a new count of 1, a right one logs in.
    later = start + timedelta(minutes=15)
    assert users.authenticate(workspace.store, "ana@example.com", "wrong", now=later)[1] == "wrong email or password"
    assert workspace.users.list()[0].failed_attempts == 1
    user, refused = users.authenticate(workspace.store, "ana@example.com", PASSWORD, now=later)
    assert (user["email"], refused) == ("ana@example.com", "")
    assert (user["failed_attempts"], user["locked_until"], user["last_login_at"]) == (0, None, later)


def test_unlock_and_a_right_password_reset_the_count(workspace):
    workspace.users.add("ana@example.com", "analyst", PASSWORD)
    for _ in range(5):
        workspace.users.log_in("ana@example.com", "wrong guess")
    assert workspace.users.log_in("ana@example.com", PASSWORD).refused.startswith("too many wrong passwords")
    unlocked = workspace.users.unlock("ana@example.com")
    assert (unlocked.failed_attempts, unlocked.locked_until) == (0, None)
    workspace.users.log_in("ana@example.com", "wrong guess")
    assert workspace.users.log_in("ana@example.com", PASSWORD).ok
    assert workspace.users.list()[0].failed_attempts == 0


def test_a_disabled_user_cannot_log_in_and_is_logged_out(workspace):
    workspace.users.add("ana@example.com", "analyst", PASSWORD)
    login = workspace.users.log_in("ana@example.com", PASSWORD)
    disabled = workspace.users.disable("ana@example.com")
    assert disabled.disabled_at is not None
    assert workspace.users.session(login.token) is None
    assert workspace.store.fetchone("SELECT COUNT(*) FROM user_sessions")[0] == 0
    refused = workspace.users.log_in("ana@example.com", PASSWORD)
    assert (refused.ok, refused.token, refused.refused) == (False, None, "this account is disabled; ask an admin")
    # A wrong password says no more than for anyone else.
    assert workspace.users.log_in("ana@example.com", "wrong guess").refused == "wrong email or password"
    assert workspace.users.disable("ana@example.com").disabled_at == disabled.disabled_at  # again: no change


def test_unknown_emails_and_bad_input(workspace):
    assert workspace.users.log_in("nobody@example.com", PASSWORD).refused == "wrong email or password"
    assert workspace.users.log_in("not an email", PASSWORD).refused == "wrong email or password"
    workspace.users.add("ana@example.com", "analyst", PASSWORD)
    with pytest.raises(ConflictError) as error:
        workspace.users.add("ANA@example.com", "admin", PASSWORD)
    assert str(error.value) == ("a user with the email ana@example.com exists already; "
                                "`retainly users list` shows them")
    cases = [(("bob", "analyst", PASSWORD), "email", "`email` 'bob' is not an email address; give one like "
              "ana@example.com"),
             (("bob@example.com", "ingest", PASSWORD), "role",
              "`role` 'ingest' is not a user's role; choose from admin, analyst, manager"),
             (("bob@example.com", "analyst", "short"), "password",
              "`password` must be at least 10 characters long; a few unrelated words make a good one"),
             (("bob@example.com", "analyst", "p" * 201), "password",
              "`password` is 201 characters long; keep it to 200")]
    for args, parameter, message in cases:
        with pytest.raises(InputError) as error:
            workspace.users.add(*args)
        assert (error.value.parameter, str(error.value)) == (parameter, message)
    with pytest.raises(NotFoundError) as error:
        workspace.users.unlock("bob@example.com")
    assert str(error.value) == "no user with the email 'bob@example.com'; `retainly users list` shows them"


def test_users_commands(tmp_path, monkeypatch):
    db = str(tmp_path / "shop.duckdb")
    Workspace.open(db).close()
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    code, out, err = captured(["--db", db, "users", "add", "ana@example.com", "--role", "manager",
                               "--name", "Ana Silva", "--password-stdin"])
    assert (code, err) == (0, "")
    assert out == "added user 1: ana@example.com (role manager, Ana Silva); they can log in to `retainly serve` now\n"

    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))  # not a terminal, and no --password-stdin
    code, out, err = captured(["--db", db, "users", "add", "bob@example.com", "--role", "analyst"])
    assert (code, out) == (1, "")
    assert err == "error: no terminal to ask for the password on: pipe it in with --password-stdin\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    code, _, err = captured(["--db", db, "users", "add", "bob@example.com", "--role", "analyst", "--password-stdin"])
    assert (code, err) == (1, "error: `password` must be at least 10 characters long; a few unrelated words "
                              "make a good one\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    code, _, err = captured(["--db", db, "users", "add", "bob@example.com", "--role", "boss", "--password-stdin"])
    assert (code, err) == (1, "error: --role 'boss' is not a user's role; choose from admin, analyst, manager\n")

    code, out, err = captured(["--db", db, "users", "list", "--json"])
    (user,) = json.loads(out)
    assert user.keys() == LISTED and "argon2" not in out
    assert (user["email"], user["name"], user["role"], user["failed_attempts"]) == (
        "ana@example.com", "Ana Silva", "manager", 0)
    code, out, _ = captured(["--db", db, "users", "list", "--csv"])
    assert out.splitlines()[0] == ("user_id,email,name,role,created_at,disabled_at,failed_attempts,locked_until,"
                                   "last_login_at")
    code, out, _ = captured(["--db", db, "users", "list"])
    assert code == 0 and "ana@example.com" in out

    with Workspace.open(db) as ws:
        for _ in range(5):
            ws.users.log_in("ana@example.com", "wrong guess")
        assert ws.users.list()[0].locked_until is not None
    code, out, err = captured(["--db", db, "users", "unlock", "ana@example.com"])
    assert (code, out) == (0, "unlocked user 1: ana@example.com; their count of wrong passwords is back to 0\n")
    with Workspace.open(db) as ws:
        login = ws.users.log_in("ana@example.com", PASSWORD)
    monkeypatch.setattr(sys, "stdin", io.StringIO("a brand new passphrase\n"))
    code, out, err = captured(["--db", db, "users", "password", "ana@example.com", "--password-stdin"])
    assert (code, out) == (0, "set a new password for user 1: ana@example.com; they are logged out everywhere\n")
    with Workspace.open(db) as ws:
        assert ws.users.session(login.token) is None
        assert ws.users.log_in("ana@example.com", PASSWORD).refused == "wrong email or password"
        assert ws.users.log_in("ana@example.com", "a brand new passphrase").ok
    code, out, err = captured(["--db", db, "users", "disable", "ana@example.com"])
    assert code == 0 and out.startswith("disabled user 1: ana@example.com as of ")
    with Workspace.open(db) as ws:
        refused = ws.users.log_in("ana@example.com", "a brand new passphrase").refused
        assert refused == "this account is disabled; ask an admin"
    code, _, err = captured(["--db", db, "users", "unlock", "nobody@example.com"])
    assert (code, err) == (1, "error: no user with the email 'nobody@example.com'; `retainly users list` shows them\n")
