"""`GET /api/v1/experiments` answers what `ws.experiments.effects` does, with the CLI's JSON rules.

The package's KPI shop has run win-back-60 once (tests/web/conftest.py): B is treated, and no
window has ended yet, so every playbook says "not enough customers yet to tell" with no number
dressed as a result; the figures are compared with the service's own on the same store.
`GET /api/v1/experiments/programme` answers what `ws.experiments.programme` does: null without a
global control group.
"""

from __future__ import annotations

from datetime import date

from retainly.results.base import json_text


def test_the_effects_are_the_services(api):
    answer = api.get("/experiments")
    assert answer.status_code == 200, answer.text
    with api.app.state.shop.use() as ws:
        expected = ws.experiments.effects()
    assert answer.text == json_text(expected)
    win_back = next(e for e in answer.json() if e["playbook"] == "win-back-60")
    assert (win_back["verdict"], win_back["difference"]) == ("not enough customers yet to tell", None)


def test_one_playbook_a_window_and_an_unknown_name(api):
    one = api.get("/experiments", params={"playbook": "win-back-60", "window_days": 7})
    assert [e["playbook"] for e in one.json()] == ["win-back-60"] and one.json()[0]["window_days"] == 7
    missing = api.get("/experiments", params={"playbook": "no-such-playbook"})
    assert missing.status_code == 404 and "no playbook named 'no-such-playbook'" in missing.json()["error"]
    assert api.get("/experiments", role="manager").status_code == 403


def test_the_programme_is_null_without_a_global_control_group_and_the_services_with_one(api, monkeypatch):
    from retainly import Workspace
    from retainly.settings import AnalysisSettings, ExperimentSettings

    off = api.get("/experiments/programme")
    assert off.status_code == 200 and off.json() is None
    # With a group from 2024-02-01: two of the five customers had bought before, too few to tell.
    on = AnalysisSettings(experiments=ExperimentSettings(global_control_share=0.2,
                                                         global_control_since=date(2024, 2, 1)))
    monkeypatch.setattr(Workspace, "settings", property(lambda self: on))
    answer = api.get("/experiments/programme", params={"as_of": "2024-03-31"})
    assert answer.status_code == 200, answer.text
    with api.app.state.shop.use() as ws:
        expected = ws.experiments.programme(date(2024, 3, 31))
    assert answer.text == json_text(expected)
    assert answer.json()["treated"] + answer.json()["held_out"] == 2  # A and B bought before 2024-02-01
    assert answer.json()["verdict"] == "not enough customers yet to tell"
    assert api.get("/experiments", params={"as_of": "2024-03-31"}).status_code == 200  # the list, unchanged
    assert api.get("/experiments/programme", role="manager").status_code == 403


def test_the_offers_are_the_services(api):
    answer = api.get("/experiments/offers")
    assert answer.status_code == 200, answer.text
    with api.app.state.shop.use() as ws:
        expected = ws.experiments.offers()
    assert answer.text == json_text(expected)
    found = {offer["playbook"]: offer for offer in answer.json()}
    assert "win-back-60" not in found  # no offer to decide
    assert (found["win-back-180"]["offer_rate"], found["win-back-180"]["decisions"]) == (0.1, 0)
    one = api.get("/experiments/offers", params={"playbook": "win-back-365", "as_of": "2024-03-31"})
    assert [(o["playbook"], o["offer_rate"], o["as_of"]) for o in one.json()] == [("win-back-365", 0.15, "2024-03-31")]
    assert api.get("/experiments/offers", params={"playbook": "no-such-playbook"}).status_code == 404
    assert api.get("/experiments/offers", role="manager").status_code == 403
