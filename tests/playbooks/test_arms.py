"""Holdout arms: a salted hash of playbook and customer, deterministic, independent between
playbooks, and in the stated share within binomial bounds."""

from __future__ import annotations

import hashlib
import math

import numpy as np

from retainly import Workspace
from retainly.playbooks.enrol import HOLDOUT, TREATMENT, arm, holdout_below, holdouts


def test_the_arm_is_the_documented_hash():
    # Recomputed here from the definition in the module doc: sha256(salt, playbook, customer) < share.
    for customer in range(50):
        digest = hashlib.sha256(f"win-back\x1fwin-back\x1f{customer}".encode()).digest()
        expected = HOLDOUT if int.from_bytes(digest[:8], "big") / 2**64 < 0.2 else TREATMENT
        assert arm("win-back", customer, 0.2) == expected == arm("win-back", customer, 0.2)


def test_shares_within_binomial_bounds_and_independent_between_playbooks():
    n, share = 20_000, 0.1
    held = [arm("cross-sell", c, share) == HOLDOUT for c in range(n)]
    other = [arm("birthday", c, share) == HOLDOUT for c in range(n)]
    bound = 4 * math.sqrt(n * share * (1 - share))  # 4 standard deviations: fails by chance ~1 in 16,000
    assert abs(sum(held) - n * share) < bound
    assert abs(sum(other) - n * share) < bound
    both = sum(a and b for a, b in zip(held, other))  # independent: about share² of everyone
    assert abs(both - n * share * share) < 4 * math.sqrt(n * share * share)
    assert all(arm("x", c, 0.0) == TREATMENT for c in range(1000))


def test_the_engine_draws_the_same_arms_as_the_hash(store_url):
    """``holdouts`` hashes in the engine (a run draws a million arms): each arm equals ``arm`` here,
    for shares where the float comparison matters (a third, a tenth), the ends (0 and 1), and a
    salt with letters beyond ASCII; and the threshold is exactly where ``arm``'s comparison turns."""
    ids = np.array([*range(3_000), 10**12, 2**53], np.int64)
    with Workspace.open(store_url) as ws:
        for playbook, share, salt in (("win-back", 0.1, None), ("cross-sell", 1 / 3, None), ("vip", 0.0, None),
                                      ("vip", 1.0, None), ("birthday", 0.5, "sél-2026")):
            held = holdouts(ws.store, playbook, ids, share, salt)
            assert held.tolist() == [arm(playbook, int(c), share, salt) == HOLDOUT for c in ids]
    for share in (0.1, 1 / 3, 0.5, 0.999):
        below = holdout_below(share)
        assert (below - 1) / 2**64 < share <= below / 2**64
