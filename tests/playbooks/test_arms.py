"""Holdout arms: a salted hash of playbook and customer, deterministic, independent between
playbooks, and in the stated share within binomial bounds."""

from __future__ import annotations

import hashlib
import math

from retainly.playbooks.enrol import HOLDOUT, TREATMENT, arm


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
