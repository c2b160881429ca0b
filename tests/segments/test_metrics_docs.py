"""docs/metrics.md shows the default segment grid and actions exactly as the code has them."""

import re
import tomllib

from retainly.settings import DEFAULT_ACTIONS, DEFAULT_GRID, SegmentMap
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "metrics.md").read_text()


def test_grid_table_matches_the_code():
    rows = re.findall(r"^\| \*\*(\d)\*\* \| (.+) \|$", DOC, flags=re.M)
    assert [int(r) for r, _ in rows] == [5, 4, 3, 2, 1]
    assert tuple(tuple(cell.strip() for cell in cells.split("|")) for _, cells in rows) == DEFAULT_GRID


def test_action_table_matches_the_code():
    documented = dict(re.findall(r"^\| ([A-Z][\w' ]+) \| ([A-Z].+\.) \|$", DOC, flags=re.M))
    assert documented == DEFAULT_ACTIONS


def test_settings_example_parses_to_the_default_grid():
    example = re.search(r"```toml\n(.*?)```", DOC, flags=re.S).group(1)
    data = tomllib.loads(example)
    assert data["kpis"]["activity_window_days"] == 180
    assert SegmentMap.from_settings(data["rfm"], "docs").grid == DEFAULT_GRID
