"""API keys (docs/api.md): made with a role, shown once, stored hashed, listed without their
token, revoked for good; in the core on both engines, through the CLI, and on a running server."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from retainly import Workspace
from retainly.errors import InputError, NotFoundError
from tests.cli.running import captured

TOKEN = re.compile(r"^rk_[A-Za-z0-9_-]{43}$")  # 32 random bytes, URL-safe base64 without padding: 43 characters


def every_stored_value(ws: Workspace) -> list:
    return [value for row in ws.store.fetchall("SELECT * FROM api_keys") for value in row]


def test_key_lifecycle_in_the_core(workspace):
    key_id, token = workspace.keys.create("analyst", "  weekly dashboard ")
    assert TOKEN.match(token)
    stored = every_stored_value(workspace)
    assert token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored  # hashed, never in clear
    assert workspace.keys.verify(token) == (key_id, "analyst")
    (listed,) = workspace.keys.list()
    assert listed.to_dict().keys() == {"key_id", "name", "role", "created_at", "revoked_at", "last_used_at"}
    assert (listed.key_id, listed.name, listed.role, listed.revoked_at) == (key_id, "weekly dashboard", "analyst", None)
    assert listed.last_used_at is not None  # the verify above used it

    other_id, other = workspace.keys.create("manager")
    assert other_id == key_id + 1 and other != token and workspace.keys.list()[1].name is None
    revoked = workspace.keys.revoke(key_id)
    assert revoked.revoked_at is not None
    assert workspace.keys.verify(token) is None  # revoked keys never verify
    assert workspace.keys.revoke(key_id).revoked_at == revoked.revoked_at  # again: no change
    assert workspace.keys.verify(other) == (other_id, "manager")  # the other key lives on


@pytest.mark.parametrize("token", [None, "", "rk_", "rk_" + "x" * 43, "not-a-key", "rk_" + "x" * 500])
def test_anything_but_a_live_token_does_not_verify(workspace, token):
    workspace.keys.create("admin")
    assert workspace.keys.verify(token) is None


def test_unknown_role_and_unknown_key(workspace):
    with pytest.raises(InputError) as error:
        workspace.keys.create("boss")
    assert error.value.parameter == "role"
    assert str(error.value) == "`role` 'boss' is not a role; choose from admin, analyst, manager, ingest"
    with pytest.raises(NotFoundError) as error:
        workspace.keys.revoke(7)
    assert error.value.parameter == "key_id"
    with pytest.raises(InputError) as error:
        workspace.keys.create("admin", "n" * 101)
    assert error.value.parameter == "name"


def test_keys_commands(tmp_path):
    db = str(tmp_path / "shop.duckdb")
    Workspace.open(db).close()
    code, out, err = captured(["--db", db, "keys", "create", "--role", "manager", "--name", "front desk"])
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "created API key 1 (role manager, front desk); its token:"
    assert TOKEN.match(lines[1])
    assert lines[2].startswith("The token will not be shown again")
    token = lines[1]

    code, out, err = captured(["--db", db, "keys", "list", "--json"])
    assert code == 0 and token not in out
    (key,) = json.loads(out)
    assert (key["key_id"], key["name"], key["role"], key["revoked_at"]) == (1, "front desk", "manager", None)
    code, out, _ = captured(["--db", db, "keys", "list", "--csv"])
    assert out.splitlines()[0] == "key_id,name,role,created_at,revoked_at,last_used_at" and token not in out
    code, out, _ = captured(["--db", db, "keys", "list"])
    assert code == 0 and "front desk" in out and token not in out

    code, out, err = captured(["--db", db, "keys", "revoke", "1"])
    assert code == 0 and out.startswith("revoked API key 1 (role manager, front desk) as of ")
    with Workspace.open(db) as ws:
        assert ws.keys.verify(token) is None

    code, out, err = captured(["--db", db, "keys", "create", "--role", "boss"])
    assert (code, out) == (1, "")
    assert err == "error: --role 'boss' is not a role; choose from admin, analyst, manager, ingest\n"
    code, _, err = captured(["--db", db, "keys", "revoke", "9"])
    assert code == 1 and err.startswith("error: no API key with id 9")


def test_a_key_works_until_it_is_revoked(api):
    """On the running server: a key made in its store is accepted, and refused from its revocation on."""
    with api.app.state.shop.use() as ws:  # the server's own workspace: DuckDB lets one process write the store
        key_id, token = ws.keys.create("analyst", "made while serving")
    assert api.client.get("/api/v1/summary", headers={"X-API-Key": token}).status_code == 200
    assert api.client.get("/api/v1/summary", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with api.app.state.shop.use() as ws:
        assert ws.keys.verify(token) == (key_id, "analyst")
        assert token not in json.dumps([k.to_dict() for k in ws.keys.list()], default=str)
        ws.keys.revoke(key_id)
    refused = api.client.get("/api/v1/summary", headers={"X-API-Key": token})
    assert refused.status_code == 401
    assert refused.json() == {"error": "the API key is not valid: unknown, mistyped or revoked", "field": None}
