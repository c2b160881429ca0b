"""The API by status and body on both engines, over the KPI shop of tests/web/conftest.py.

Expected values are worked out by hand from the shop's orders (listed in conftest.py), as of its
last order, 2024-03-20; each comment says how.
"""

from __future__ import annotations

import pytest

from retainly.audiences.fields import CATALOG
from retainly.playbooks.library import builtins


def test_summary(api):
    response = api.get("/summary")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    # 9 purchase orders of one line each (D's cancelled 500 is none): 100+200+50+80+60+120+40+150+90 = 890.
    assert response.json() == {
        "customers": 5, "orders": 9, "order_lines": 9, "gross_revenue": 890, "guest_orders": 0, "returns": 1,
        "returned_amount": 30, "first_order_at": "2024-01-05 12:00:00", "last_order_at": "2024-03-20 12:00:00"}


def test_kpis_by_month(api):
    body = api.get("/kpis", params={"by": "month"}).json()
    assert (body["total"], body["limit"], body["offset"]) == (3, 100, 0)
    # January: A1 100, B1 200, A2 50 (customers A, B); February: C1 80, D1 60, C2 120 (C, D);
    # March: E1 40, A3 150, D2 90 (E, A, D), returns 30 (A's, Mar 12).
    assert [(r["period"], r["orders"], r["revenue"], r["customers"]) for r in body["items"]] == [
        ("2024-01", 3, 350, 2), ("2024-02", 3, 260, 2), ("2024-03", 3, 280, 3)]
    assert body["items"][2]["net_revenue"] == 250


def test_kpis_in_all(api):
    (row,) = api.get("/kpis").json()["items"]
    # 890 over 9 orders = 98.89; 9 orders by 5 customers = 1.8; A, C and D ordered again: 3 of 5.
    assert (row["orders"], row["revenue"], row["returns"], row["net_revenue"]) == (9, 890, 30, 860)
    assert (row["aov"], row["purchase_frequency"], row["repeat_purchase_rate"]) == (98.89, 1.8, 0.6)


def test_cohorts(api):
    body = api.get("/cohorts").json()
    # January's A and B: February neither, March A (1 of 2); February's C and D: March D; March's E.
    assert body["items"] == [{"cohort": "2024-01", "customers": 2, "values": [1.0, 0.0, 0.5]},
                             {"cohort": "2024-02", "customers": 2, "values": [1.0, 0.5]},
                             {"cohort": "2024-03", "customers": 1, "values": [1.0]}]


def test_customer_360(api):
    for role in ("manager", "analyst", "admin"):
        response = api.get("/customers/A", role=role)
        assert response.status_code == 200, response.text
    view = response.json()
    assert (view["customer"]["external_id"], view["customer"]["name"]) == ("A", "Ada")
    # A: 100 + 50 + 150 = 300, 30 returned; last order Mar 10, 10 days before Mar 20; gaps 15 and 50 days.
    kpis = view["kpis"]
    assert (kpis["orders"], kpis["revenue"], kpis["returns"], kpis["net_revenue"]) == (3, 300, 30, 270)
    assert (kpis["days_since_last_order"], kpis["avg_days_between_orders"]) == (10, 32.5)
    assert (view["rfm"]["as_of"], view["rfm"]["recency_days"], view["rfm"]["frequency"]) == ("2024-03-20", 10, 3)
    assert [order["order_id"] for order in view["orders"]] == ["A1", "A2", "A3"]
    assert [(r["return_id"], r["amount"]) for r in view["returns"]] == [("R1", 30)]
    assert view["consents"]["email_consent"] is True


def test_unknown_customer_is_404(api):
    response = api.get("/customers/NOBODY", role="manager")
    assert response.status_code == 404
    body = response.json()
    assert body["field"] is None and body["error"].startswith("no customer with id 'NOBODY'")


def test_input_errors_come_as_422_with_the_field(api):
    # The core's own check of `by` ...
    response = api.get("/kpis", params={"by": "fortnight"})
    assert response.status_code == 422
    assert response.json() == {"error": "`by` 'fortnight' is not supported; use one of month, quarter, year, channel",
                               "field": "by"}
    # ... and the API's checks of the request's fields, in the same shape.
    response = api.get("/rfm/segments", params={"as_of": "2024-13-01"})
    assert response.status_code == 422 and response.json()["field"] == "as_of"
    response = api.get("/outbox", params={"limit": 0})
    assert response.status_code == 422 and response.json()["field"] == "limit"
    response = api.client.post("/api/v1/audiences/preview", headers=api.key("analyst"), json={"sample": 3})
    assert response.status_code == 422
    assert response.json() == {"error": "`rule` is required", "field": "rule"}
    response = api.client.post("/api/v1/audiences/preview", headers=api.key("analyst"), json={"rule": "x", "sample": -1})
    assert response.status_code == 422 and response.json()["field"] == "sample"


def test_unknown_routes_and_playbooks_answer_in_the_same_shape(api):
    assert api.get("/nowhere").json() == {"error": "Not Found", "field": None}
    response = api.get("/playbooks/no-such-playbook")
    assert response.status_code == 404 and response.json()["error"].startswith("no playbook named 'no-such-playbook'")


def test_pagination(api):
    # Five customers, each in a segment of their own (see `retainly segments` on this shop): five rows.
    first = api.get("/rfm/segments", params={"limit": 2}).json()
    assert (first["as_of"], first["total"], first["limit"], first["offset"], len(first["items"])) == (
        "2024-03-20", 5, 2, 0, 2)
    everything = api.get("/rfm/segments").json()["items"]
    assert sum(row["customers"] for row in everything) == 5
    assert api.get("/rfm/segments", params={"limit": 2, "offset": 2}).json()["items"] == everything[2:4]
    assert api.get("/rfm/segments", params={"limit": 2, "offset": 4}).json()["items"] == everything[4:]
    assert api.get("/rfm/segments", params={"offset": 9}).json() | {"items": None} == {
        "as_of": "2024-03-20", "total": 5, "limit": 100, "offset": 9, "items": None}
    # Lists the core knows whole: the field catalog and the playbook library.
    assert api.get("/audiences/fields", params={"limit": 1}).json()["total"] == len(CATALOG)
    playbooks = api.get("/playbooks", params={"limit": 5, "offset": 5}).json()
    assert (playbooks["total"], len(playbooks["items"])) == (len(builtins()), 5)


def test_preview_save_and_members(api):
    # More than 20 days silent on Mar 20: B (last order Jan 10, 70 days) and C (Feb 25, 24 days);
    # A (10), D (0) and E (15) are not.
    response = api.client.post("/api/v1/audiences/preview", headers=api.key("analyst"),
                               json={"rule": "days_since_last_order > 20"})
    assert response.status_code == 200, response.text
    preview = response.json()
    assert (preview["as_of"], preview["customers"]) == ("2024-03-20", 2)
    assert sorted(c["customer"] for c in preview["sample"]) == ["B", "C"]
    # The same rule as a JSON tree.
    tree = {"field": "days_since_last_order", "op": ">", "value": 20}
    response = api.client.post("/api/v1/audiences/preview", headers=api.key("analyst"), json={"rule": tree})
    assert response.json()["customers"] == 2

    response = api.client.put("/api/v1/audiences/saved/quiet", headers=api.key("analyst"),
                              json={"rule": "days_since_last_order > 20", "description": "gone quiet"})
    assert response.status_code == 200, response.text
    saved = response.json()
    assert saved["audience"] == {"name": "quiet", "rule": "days_since_last_order > 20", "description": "gone quiet",
                                 "members": 2, "last_evaluated": "2024-03-20"}
    assert (saved["evaluation"]["entered"], saved["evaluation"]["left"]) == (2, 0)
    assert api.get("/audiences/saved/quiet").json()["members"] == 2
    assert "quiet" in [a["name"] for a in api.get("/audiences/saved").json()["items"]]
    # Members a page at a time: the total is known once a page reaches the end of the list.
    first = api.get("/audiences/saved/quiet/members", params={"limit": 1}).json()
    assert (first["total"], len(first["items"])) == (None, 1)
    second = api.get("/audiences/saved/quiet/members", params={"limit": 1, "offset": 1}).json()
    assert (second["total"], len(second["items"])) == (2, 1)
    assert {first["items"][0]["customer"], second["items"][0]["customer"]} == {"B", "C"}
    assert api.get("/audiences/saved/absent").status_code == 404


def test_a_bad_rule_is_422(api):
    response = api.client.post("/api/v1/audiences/preview", headers=api.key("analyst"),
                               json={"rule": "days_since_last_order >> 20"})
    assert response.status_code == 422
    assert "column 24" in response.json()["error"]


def test_playbooks_enable_and_disable(api):
    response = api.client.post("/api/v1/playbooks/second-order-nudge/enable", headers=api.key("analyst"))
    assert response.status_code == 200
    (changed,) = response.json()["changed"]
    assert (changed["name"], changed["enabled"]) == ("second-order-nudge", True)
    assert api.get("/playbooks/second-order-nudge").json()["summary"]["enabled"] is True
    response = api.client.post("/api/v1/playbooks/second-order-nudge/disable", headers=api.key("admin"))
    assert response.json()["changed"][0]["enabled"] is False
    detail = api.get("/playbooks/win-back-60").json()
    assert detail["summary"]["enabled"] is True and detail["definition"]["name"] == "win-back-60"


def test_editing_a_playbook(api):
    # The definition as the API shows it, put back whatever happens: the shop is shared by the package's tests.
    before = api.get("/playbooks/vip-welcome").json()
    try:
        response = api.client.patch("/api/v1/playbooks/vip-welcome", headers=api.key("analyst"),
                                    json={"holdout_share": 0.25, "goal_days": 40})
        assert response.status_code == 200, response.text
        saved = response.json()
        assert (saved["summary"]["holdout_share"], saved["definition"]["goal_days"]) == (0.25, 40)
        assert saved["summary"]["enabled"] == before["summary"]["enabled"]
        assert api.get("/playbooks/vip-welcome").json() == saved

        # A whole definition: the step's text changed, settings laid over it.
        definition = saved["definition"]
        definition["steps"][0]["text"] = "Thank you, {{ first_name }}."
        response = api.client.patch("/api/v1/playbooks/vip-welcome", headers=api.key("admin"),
                                    json={"definition": definition, "priority": 77})
        assert response.status_code == 200, response.text
        again = response.json()
        assert again["definition"]["steps"][0]["text"] == "Thank you, {{ first_name }}."
        assert (again["summary"]["priority"], again["definition"]["goal_days"]) == (77, 40)

        # A bad setting or rule is refused with 422 and changes nothing.
        for body, word in (({"reentry": "sometimes"}, "reentry"), ({"holdout_share": 1.5}, "holdout"),
                           ({"definition": {**definition, "condition": "days_since_last_order >> 3"}}, "condition")):
            response = api.client.patch("/api/v1/playbooks/vip-welcome", headers=api.key("analyst"), json=body)
            assert response.status_code == 422 and word in response.json()["error"], (body, response.text)
        assert api.get("/playbooks/vip-welcome").json() == again
        assert api.client.patch("/api/v1/playbooks/no-such", headers=api.key("analyst"),
                                json={"priority": 1}).status_code == 404
        assert api.client.patch("/api/v1/playbooks/vip-welcome", headers=api.key("manager"),
                                json={"priority": 1}).status_code == 403
    finally:
        with api.app.state.shop.use() as ws:
            ws.playbooks.edit("vip-welcome", definition=before["definition"])
    assert api.get("/playbooks/vip-welcome").json() == before


def test_outbox(api):
    # win-back-60 ran once before the server started: B alone entered it, and B has no email consent.
    body = api.get("/outbox").json()
    assert body["total"] == 1
    (row,) = body["items"]
    assert (row["playbook"], row["customer"], row["channel"], row["status"], row["reason"]) == (
        "win-back-60", "B", "email", "suppressed", "no email consent")
    assert api.get("/outbox", params={"status": "sent"}).json()["items"] == []
    response = api.get("/outbox", params={"status": "lost"})
    assert response.status_code == 422 and response.json()["field"] == "status"


def test_playbook_activity(api):
    # By hand (conftest): B alone entered win-back-60, in the treatment arm; its one outbox row was
    # suppressed. No other playbook has run.
    statuses = ("queued", "sending", "sent", "failed", "unknown", "suppressed", "skipped")
    (one,) = api.get("/playbooks/win-back-60/activity").json()
    assert one == {"playbook": "win-back-60", "entered": 1, "held_out": 0,
                   "outbox": {status: int(status == "suppressed") for status in statuses}}
    every = api.get("/playbooks/all/activity").json()
    assert [a["playbook"] for a in every] == [p["name"] for p in api.get("/playbooks").json()["items"]]
    assert [a for a in every if a["entered"] or any(a["outbox"].values())] == [one]
    assert api.get("/playbooks/no-such/activity").status_code == 404


def test_revenue_concentration_and_stage_flow(api):
    # By hand (conftest): net spend A 270, B 200, C 200, D 150, E 40, 860 in all; the top 20 % is A.
    found = api.get("/rfm/concentration").json()
    assert found["as_of"] == "2024-03-20" and found["top20_share"] == pytest.approx(270 / 860)
    assert [point["customer_share"] for point in found["points"]] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1])
    # By default the flow starts six months before the last order, or at the first (2024-01-05) when later.
    flow = api.get("/lifecycle/flow").json()
    assert (flow["from"], flow["to"], flow["trend"]) == ("2024-01-05", "2024-03-20", [])
    assert sum(cell["customers"] for cell in flow["flow"]) == 5
    assert api.get("/lifecycle/flow", params={"first": "2024-03-20"}).status_code == 422  # not before the last
    assert api.get("/lifecycle/flow", params={"first": "2024-02-01"}).json()["from"] == "2024-02-01"


def test_figures_of_a_date(api):
    stages = api.get("/lifecycle").json()
    assert stages["as_of"] == "2024-03-20" and sum(s["customers"] for s in stages["items"]) == 5  # every buyer
    predictions = api.get("/predictions").json()
    # Three repeat buyers (A, C, D), fewer than a model needs: the heuristics (docs/models.md).
    assert (predictions["fit"]["as_of"], predictions["fit"]["repeat_buyers"], predictions["fit"]["model"]) == (
        "2024-03-20", 3, "heuristic")
    assert predictions["totals"]["customers"] == 5
    mix = api.get("/buyer-types", params={"as_of": "2024-03-20"}).json()
    assert mix["as_of"] == "2024-03-20" and "promotions unknown" in mix["promotion_note"]  # no promo codes at all
    # P1, the only product, has 3 repeat buyers (A, C, D); a consumable needs at least 10
    # (retainly.features.replenishment.MIN_REPEAT_BUYERS), so no consumable and no reorder is due.
    for path in ("/reorders", "/reorders/consumables"):
        assert api.get(path).json() == {"as_of": "2024-03-20", "total": 0, "limit": 100, "offset": 0, "items": []}


def test_customer_search(api):
    """The KPI shop's customers (tests/data/kpi_shop/customers.csv): A Ada ada@example.com, B Bo
    bo@example.com, C Cy, D Di, E Ed; no phones."""
    def found(**params):
        body = api.get("/customers", role="manager", params=params).json()
        return body["total"], [item["customer_id"] for item in body["items"]]

    assert found(q="EXAMPLE.com") == (2, ["A", "B"])  # any case, in the email; by name: Ada, Bo
    assert found(q="d") == (3, ["D", "A", "E"])  # the id D exactly first, then Ada and Ed by name (Di is D)
    assert found() == (5, ["A", "B", "C", "D", "E"])  # empty: everyone, by name
    assert found(limit=2, offset=2) == (5, ["C", "D"])
    assert found(q="%") == (0, [])  # a wildcard is searched for as a character
    assert found(q="zz") == (0, [])
    first = api.get("/customers", role="manager", params={"q": "ada"}).json()["items"][0]
    assert first == {"customer_id": "A", "name": "Ada", "email": "ada@example.com", "phone": None,
                     "country": "Slovenia"}
    assert api.get("/customers", role="ingest").status_code == 403
    assert api.get("/customers", role="manager", params={"limit": 0}).status_code == 422
