"""The server's one workspace (retainly.web.shop): live keys and sessions seen lately are trusted
while the workspace is busy, anything else waits for it. On a real DuckDB store with a real key."""

from __future__ import annotations

import threading

from retainly import Workspace
from retainly.web.shop import Shop


def verify(ws, token):
    return ws.keys.verify(token)


def test_a_key_seen_live_is_trusted_while_the_workspace_is_busy_and_others_wait(tmp_path):
    with Workspace.open(f"duckdb:///{tmp_path}/store.duckdb") as ws:
        _, token = ws.keys.create("analyst", "seen")
        _, unseen = ws.keys.create("admin", "not seen yet")
        shop = Shop(ws)
        found = shop.check("key", token, lambda ws: verify(ws, token))
        assert found is not None and found[1] == "analyst"

        answers = {}
        with shop.use():  # busy: a request (an import) holds the workspace
            # The key seen a moment ago is answered at once, from what was found then (no deadlock
            # here, though this very thread holds the lock).
            assert shop.check("key", token, lambda ws: verify(ws, token)) == found
            # A key not seen yet waits for the workspace.
            waiting = threading.Thread(target=lambda: answers.setdefault(
                "unseen", shop.check("key", unseen, lambda ws: verify(ws, unseen))))
            waiting.start()
            waiting.join(0.3)
            assert waiting.is_alive() and "unseen" not in answers
            # A session logged out is no longer trusted without the store.
            shop.forget("key", token)
            waiting_too = threading.Thread(target=lambda: answers.setdefault(
                "forgotten", shop.check("key", token, lambda ws: verify(ws, token))))
            waiting_too.start()
            waiting_too.join(0.3)
            assert waiting_too.is_alive()
        waiting.join(10)
        waiting_too.join(10)
        assert answers["unseen"][1] == "admin" and answers["forgotten"] == found


def test_a_wrong_key_is_never_remembered(tmp_path):
    with Workspace.open(f"duckdb:///{tmp_path}/store.duckdb") as ws:
        shop = Shop(ws)
        calls = []
        for _ in range(2):
            assert shop.check("key", "rk_wrong", lambda ws: calls.append(1) or verify(ws, "rk_wrong")) is None
        assert len(calls) == 2  # looked up in the store each time
