"""`GET /api/v1/experiments` answers what `ws.experiments.effects` does, with the CLI's JSON rules.

The package's KPI shop has run win-back-60 once (tests/web/conftest.py): B is treated, and no
window has ended yet, so every playbook says "not enough customers yet to tell" with no number
dressed as a result; the figures are compared with the service's own on the same store.
"""

from __future__ import annotations

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
