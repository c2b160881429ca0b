"""The score-to-segment map: which named segment each (R, FM) score pair belongs to.

FM is the rounded-up mean of the frequency and monetary scores. The map is a grid with one
row per recency score (best first) and one column per FM score, so a shop can read it — and
override it — at a glance in its settings file (``docs/metrics.md`` shows how).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from retainly.errors import InputError

SEGMENTS = (
    "Champions", "Loyal", "Potential Loyalist", "New", "Promising", "Need Attention",
    "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost",
)

# Rows: recency score 5 (bought most recently) down to 1; columns: FM score 1 to 5.
DEFAULT_GRID = (
    ("New", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"),
    ("Promising", "Potential Loyalist", "Loyal", "Loyal", "Champions"),
    ("About to Sleep", "Need Attention", "Need Attention", "Loyal", "Loyal"),
    ("Hibernating", "About to Sleep", "At Risk", "At Risk", "Can't Lose Them"),
    ("Lost", "Hibernating", "At Risk", "Can't Lose Them", "Can't Lose Them"),
)

DEFAULT_ACTIONS = {
    "Champions": "Reward them: VIP perks, early access, ask for reviews and referrals; no discounts needed.",
    "Loyal": "Keep them close: loyalty rewards, cross-sell and upsell, ask for feedback.",
    "Potential Loyalist": "Nurture toward loyalty: membership or loyalty offer, recommendations from their purchases.",
    "New": "Welcome them: thank-you and onboarding, a reason for the second order.",
    "Promising": "Build the habit: second-order nudge, show the range, a small first-repeat incentive.",
    "Need Attention": "Re-engage: personalised recommendations and a limited-time offer before they drift.",
    "About to Sleep": "Wake them up: reminders of what they liked, popular products, a modest incentive.",
    "At Risk": "Win back now: personal email or call, what changed, a meaningful offer.",
    "Can't Lose Them": "Call them: your best customers are drifting away; a manager should reach out personally.",
    "Hibernating": "Low-cost reactivation: seasonal campaigns and relevant offers; don't overspend.",
    "Lost": "Last try with a win-back campaign; otherwise stop spending on them.",
}


@dataclass(frozen=True)
class SegmentMap:
    grid: tuple[tuple[str, ...], ...]  # grid[0] is the best recency score
    actions: dict[str, str]

    @property
    def size(self) -> int:
        return len(self.grid)

    def cell(self, recency_score: int, fm_score: int) -> str:
        return self.grid[self.size - recency_score][fm_score - 1]

    def segments(self) -> list[str]:
        """Segment names in the map, in the order of first appearance (best first)."""
        seen: dict[str, None] = {}
        for row in self.grid:
            for name in row:
                seen.setdefault(name)
        return list(seen)

    def action(self, segment: str) -> str:
        return self.actions.get(segment, "")

    def grid_score(self, score: int, bins: int) -> int:
        """A score on ``bins`` bins placed on the grid's scale (the same when they match)."""
        return score if bins == self.size else max(1, math.ceil(score * self.size / bins))

    @classmethod
    def default(cls) -> SegmentMap:
        return cls(DEFAULT_GRID, dict(DEFAULT_ACTIONS))

    @classmethod
    def from_settings(cls, section: dict, source: str) -> SegmentMap:
        """The map from an ``[rfm]`` settings section: ``grid`` rows best recency first, ``actions``."""
        grid = section.get("grid")
        if grid is None:
            grid = DEFAULT_GRID
        elif (not isinstance(grid, list) or not grid
              or any(not isinstance(row, list) or len(row) != len(grid) for row in grid)
              or any(not isinstance(name, str) or not name.strip() for row in grid for name in row)):
            raise InputError(
                f"{source}: [rfm] grid must be a square list of lists of segment names, one row per recency "
                f"score from best to worst, one column per FM score from 1 up (see docs/metrics.md)"
            )
        actions = dict(DEFAULT_ACTIONS)
        extra = section.get("actions", {})
        if not isinstance(extra, dict) or any(not isinstance(v, str) for v in extra.values()):
            raise InputError(f'{source}: [rfm.actions] must map segment names to text, e.g. "Lost" = "..."')
        actions.update(extra)
        return cls(tuple(tuple(name.strip() for name in row) for row in grid), actions)
