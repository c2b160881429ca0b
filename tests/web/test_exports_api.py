"""The exports' routes on a real server over a small shop of its own: the list, a run refused by the
platform (502 with the failed run, nothing recorded as sent), then the same run accepted (200)."""

from __future__ import annotations

import httpx

from retainly import Workspace
from retainly.web.app import create_app
from tests.exports.platform import Platform
from tests.exports.shop import load, person
from tests.web.conftest import serving, settings_file


def test_exports_are_listed_and_run_and_a_refusal_answers_502(tmp_path, monkeypatch):
    url = f"duckdb:///{tmp_path}/shop.duckdb"
    monkeypatch.setenv("RETAINLY_UNISENDER_API_KEY", "key")
    state = {"refuse": True}
    with Platform(lambda m, p, n: (401, {"error": "no"}) if state["refuse"] else (200, {"result": {"inserted": 1}})) \
            as platform:
        with Workspace.open(url) as ws:
            load(ws, tmp_path, [person("a", "a@example.com"), person("b", "b@example.com", email_consent="no")])
            ws.exports.add("uni", "unisender_api", "audience:buyers",
                           {"list_ids": "3", "base_url": platform.url, "default_country": "US"})
            token = ws.keys.create("analyst")[1]
        with serving(create_app(url, settings_file(tmp_path))) as base, \
                httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"}) as client:
            listed = client.get("/exports").json()
            assert (listed["total"], listed["items"][0]["name"], listed["items"][0]["members"]) == (1, "uni", 0)
            failed = client.post("/exports/uni/run")
            assert failed.status_code == 502
            assert (failed.json()["status"], failed.json()["added"]) == ("failed", 0)
            assert failed.json()["message"].endswith('answered HTTP 401 Unauthorized: {"error": "no"}')
            state["refuse"] = False
            done = client.post("/exports/uni/run", params={"as_of": "2024-03-01"})
            assert done.status_code == 200 and (done.json()["status"], done.json()["added"]) == ("completed", 1)
            assert client.get("/exports").json()["items"][0]["members"] == 1
            assert client.post("/exports/none/run").status_code == 404
