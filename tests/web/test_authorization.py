"""Every route under /api/v1, found in the running app's OpenAPI document (every route it serves
is in it), refuses a missing, wrong or revoked key with 401 and a role it does not allow with 403.

The rule the walk expects, from the roles (docs/api.md), stated here apart from the routes' own
declarations: admin may use every route; analyst every route of this slice; manager only the
customer routes and the task routes that work tasks (reading, making, logging, cancelling: not
reassigning, the team's figures or the managers' settings); ingest only the event routes
(POST /events/...) and the mail provider's webhook
(POST /email/providers/...), which no other role but admin may use. The walk sends the event routes no body: a role allowed there gets 422, and nothing is written.
Uploading a file to import and polling its job are for admin alone (an import writes data); the
ledger and its rejects are read by analysts too. The site snippet's POST /site/events takes no
API key but a public site key and the request's Origin, so the walk leaves it out
(``SITE_KEYED``); tests/web/test_site_snippet.py checks how it refuses.
"""

from __future__ import annotations

import pytest

from tests.web.conftest import ROLES

PREFIX = "/api/v1"
# A value for each path parameter, and a body for each route that takes one: the walk then also
# reaches past the checks of the request for the roles allowed (a 404 there still says "allowed").
PATH_VALUES = {"customer_id": "A", "name": "birthday", "job_id": "none", "import_id": "1",
               "task_id": "999999"}  # no such task: an allowed role gets 404 and nothing changes
BODIES = {("POST", "/api/v1/audiences/preview"): {"rule": "orders_count >= 1"},
          ("PUT", "/api/v1/audiences/saved/{name}"): {"rule": "orders_count >= 2", "description": "the walk's"}}
REFUSED = {"error", "field"}


SITE_KEYED = {f"{PREFIX}/site/events"}
ADMIN_ONLY = {f"{PREFIX}/imports/jobs/{{job_id}}"}
SUPERVISING = {f"{PREFIX}/tasks/team", f"{PREFIX}/tasks/managers", f"{PREFIX}/tasks/{{task_id}}/reassign"}


@pytest.fixture
def walked_playbook_left_disabled(api):
    """The walk enables and disables the playbook of PATH_VALUES in route order; the shop is shared
    by the package's tests, so it is left disabled, as the shop has it."""
    yield
    with api.app.state.shop.use() as ws:
        ws.playbooks.disable([PATH_VALUES["name"]])


def expected_roles(path: str, method: str = "GET") -> set[str]:
    if path in ADMIN_ONLY or (method, path) == ("POST", f"{PREFIX}/imports"):
        return {"admin"}
    if path.startswith((f"{PREFIX}/events/", f"{PREFIX}/email/providers/")):
        return {"admin", "ingest"}
    if path == f"{PREFIX}/customers" or path.startswith(f"{PREFIX}/customers/"):
        return {"admin", "analyst", "manager"}
    if (path == f"{PREFIX}/tasks" or path.startswith(f"{PREFIX}/tasks/")) and path not in SUPERVISING:
        return {"admin", "analyst", "manager"}
    return {"admin", "analyst"}


def routes(api) -> list[tuple[str, str]]:
    document = api.app.openapi()
    found = [(method.upper(), path) for path, operations in document["paths"].items()
             if path.startswith(PREFIX) and path not in SITE_KEYED for method in operations]
    return sorted(found)


def request(api, method: str, path: str, headers: dict[str, str]):
    url = path.format(**PATH_VALUES)
    return api.client.request(method, url, headers=headers, json=BODIES.get((method, path)))


def test_the_walk_sees_every_route(api):
    found = routes(api)
    assert len(found) >= 20  # the routes of this slice; a new one is walked without a change here
    assert {("GET", f"{PREFIX}/summary"), ("GET", f"{PREFIX}/customers/{{customer_id}}"),
            ("PUT", f"{PREFIX}/audiences/saved/{{name}}"), ("POST", f"{PREFIX}/playbooks/{{name}}/enable"),
            ("GET", f"{PREFIX}/outbox"), ("POST", f"{PREFIX}/events/orders"),
            ("POST", f"{PREFIX}/events/consent"), ("GET", f"{PREFIX}/tasks"), ("GET", f"{PREFIX}/tasks/team"),
            ("GET", f"{PREFIX}/experiments/offers"),
            ("POST", f"{PREFIX}/tasks/{{task_id}}/outcome"),
            ("POST", f"{PREFIX}/tasks/{{task_id}}/reassign")} <= set(found)


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer"}, {"Authorization": "Basic YWRtaW46YWRtaW4="},
    {"Authorization": "Bearer rk_" + "A" * 43}, {"X-API-Key": "rk_" + "A" * 43}, {"X-API-Key": "wrong"},
], ids=["no key", "empty bearer", "basic auth", "wrong bearer", "wrong x-api-key", "not a token"])
def test_every_route_refuses_without_a_live_key(api, headers):
    for method, path in routes(api):
        response = request(api, method, path, headers)
        assert response.status_code == 401, (method, path, response.text)
        assert response.json().keys() == REFUSED and response.json()["field"] is None
        assert response.headers["www-authenticate"] == "Bearer"


def test_every_route_refuses_a_revoked_key(api):
    for method, path in routes(api):
        response = request(api, method, path, {"X-API-Key": api.revoked})
        assert response.status_code == 401, (method, path, response.text)


@pytest.mark.parametrize("role", ROLES)
def test_every_route_allows_exactly_its_roles(api, role, walked_playbook_left_disabled):
    for method, path in routes(api):
        response = request(api, method, path, api.key(role))
        if role in expected_roles(path, method):
            assert response.status_code not in (401, 403), (role, method, path, response.text)
            assert response.status_code < 500, (role, method, path, response.text)
        else:
            assert response.status_code == 403, (role, method, path, response.text)
            assert response.json() == {"error": f"a key with the role {role} may not use this route; it needs "
                                                f"{' or '.join(sorted(expected_roles(path, method)))}", "field": None}
