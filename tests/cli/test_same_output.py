"""Every command prints what it printed before the refactor of the core, on the same generated shop.

The golden files in tests/cli/golden/ were captured from the code before the refactor (see the
README there, and `golden_capture` for the steps and what is normalised).
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from tests.cli.golden_capture import capture, load, stored, write

GOLDEN = Path(__file__).resolve().parent / "golden"
_DIFF_LINES = 60


@pytest.mark.slow
def test_every_command_prints_what_it_printed_before(tmp_path):
    expected = load(GOLDEN)
    assert expected, f"no golden files in {GOLDEN}"
    work = tmp_path / "work"
    work.mkdir()
    records = capture(work)
    write(records, tmp_path / "actual")  # kept for a look when the test fails
    actual = [stored(record) for record in records]
    assert [r["step"] for r in actual] == [r["step"] for r in expected], "the list of steps changed"
    for before, now in zip(expected, actual):
        if before != now:
            pytest.fail(_explain(before, now, tmp_path / "actual"), pytrace=False)


def _explain(before: dict, now: dict, folder: Path) -> str:
    """The first differing step, named, with a unified diff of its record limited to a screenful."""
    diff = list(difflib.unified_diff(_lines(before), _lines(now), "golden", "now", lineterm="", n=2))
    more = len(diff) - _DIFF_LINES
    shown = diff[:_DIFF_LINES] + ([f"... ({more} more diff lines)"] if more > 0 else [])
    return (f"step {before['step']!r} (retainly {' '.join(before['argv'])}) prints something different from before "
            f"the refactor; every step's record is in {folder}\n" + "\n".join(shown))


def _lines(record: dict) -> list[str]:
    lines = [f"argv: {json.dumps(record['argv'])}", f"exit code: {record['exit_code']}"]
    for part in ("stdout", "stderr"):
        lines += [f"--- {part}:", *(record[part] or [])]
    for name, body in record["files"].items():
        lines += [f"--- file {name}:", *(body if body is not None else ["<not written>"])]
    return lines
