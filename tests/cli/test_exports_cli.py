"""`retainly exports ...` on a small shop: add, run, show, list and remove, and the errors a user meets
(an unknown option named as the flag it came from, a refused platform call ending with exit code 1)."""

from __future__ import annotations

import json

from retainly import Workspace
from tests.cli.running import captured
from tests.exports.platform import Platform
from tests.exports.shop import load, person


def test_exports_from_the_command_line(tmp_path, monkeypatch):
    db = str(tmp_path / "shop.duckdb")
    with Workspace.open(db) as ws:
        load(ws, tmp_path, [person("a", "a@example.com"), person("b", "b@example.com", email_consent="no")])
    out = tmp_path / "out"
    code, stdout, err = captured(["--db", db, "exports", "add", "mail", "--target", "mailchimp_csv", "--source",
                                  "audience:buyers", "--option", f"folder={out}", "--option", "default_country=US"])
    assert (code, err) == (0, "")
    assert stdout == "saved mail: audience:buyers -> mailchimp_csv (incremental; customers need email consent)\n"
    code, stdout, err = captured(["--db", db, "exports", "run", "mail", "--json"])
    assert code == 0, err
    result = json.loads(stdout)
    assert (result["status"], result["added"], result["destination"]) == (
        "completed", 1, str(out / f"mail-{result['run_id']}-add.csv"))
    code, stdout, err = captured(["--db", db, "exports", "list", "--json"])
    assert [(e["name"], e["members"], e["last_status"]) for e in json.loads(stdout)] == [("mail", 1, "completed")]
    code, stdout, err = captured(["--db", db, "exports", "add", "x", "--target", "csv", "--source", "audience:buyers",
                                  "--option", "colour=red"])
    assert (code, stdout) == (1, "")
    assert err.startswith("error: --option: csv has no option 'colour'; its options are folder, fields, consent\n")
    code, stdout, err = captured(["--db", db, "exports", "remove", "mail"])
    assert (code, stdout) == (0, "removed mail; its target still holds 1 customers, which retainly no longer "
                                 "removes there\n")


def test_a_refused_platform_call_is_shown_and_exits_with_1(tmp_path, monkeypatch):
    db = str(tmp_path / "shop.duckdb")
    with Workspace.open(db) as ws:
        load(ws, tmp_path, [person("a", "a@example.com")])
    monkeypatch.setenv("RETAINLY_UNISENDER_API_KEY", "key")
    with Platform(lambda method, path, nth: (401, {"error": "unauthorised"})) as platform:
        captured(["--db", db, "exports", "add", "uni", "--target", "unisender_api", "--source", "audience:buyers",
                  "--option", "list_ids=3", "--option", f"base_url={platform.url}", "--option", "default_country=US"])
        code, stdout, err = captured(["--db", db, "exports", "run", "uni"])
    assert code == 1
    assert stdout.startswith("export uni run ") and ": failed; 0 added, 0 removed, 0 kept" in stdout
    assert err == (f"error: export uni failed: POST {platform.url}/importContacts answered HTTP 401 Unauthorized: "
                   '{"error": "unauthorised"}\n')
