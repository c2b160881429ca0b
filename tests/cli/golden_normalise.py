"""Normalising a captured step: what differs between two runs of the same code goes, nothing else.

Used by `golden_capture`; see `Normaliser` for what is taken out and why.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

_WIDE_SCRIPT = 100_000  # a <script> longer than this (plotly.js) is stored as its length and sha256
_STAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d(?:\.\d+)?)?")
_FLOAT = re.compile(r"(?<![\w.])-?\d+\.\d+(?:[eE][-+]?\d+)?(?![\w.])")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_SCRIPT = re.compile(r"(<script[^>]*>)(.*?)(</script>)", re.S)


@dataclass
class Normaliser:
    """Takes out what differs between two runs of the same code, and nothing else:

    - the work folder's path (every step runs in a fresh temporary folder) becomes <tmp>;
    - wall-clock times (fitted_at, computed_at, started_at, the report's generated-at...) become <now>:
      any YYYY-MM-DD HH:MM[:SS[.f]] within a day of the run; order times and plain dates stay;
    - floats in JSON, CSV and the report keep 9 significant digits (last-bit noise of sums and fits),
      JSON by parsing, rounding and writing it back as `print_json` does (indent 2), so its layout counts;
    - the report's embedded plotly.js (megabytes) becomes its length and sha256;
    - terminal escape codes, in case the console was made on a terminal (pytest -s).
    """

    workdir: Path
    started: datetime
    finished: datetime
    paths: list[str] = field(init=False)

    def __post_init__(self):
        self.paths = sorted({str(self.workdir), str(self.workdir.resolve())}, key=len, reverse=True)

    def record(self, raw: dict) -> dict:
        machine = "--json" in raw["argv"] or "--csv" in raw["argv"]
        stdout = self.text(raw["stdout"])
        return {**raw, "stdout": _machine(stdout) if machine else stdout, "stderr": self.text(raw["stderr"]),
                "files": {name: None if body is None else self.document(body) for name, body in raw["files"].items()}}

    def text(self, text: str) -> str:
        text = _ANSI.sub("", text)
        for path in self.paths:
            text = text.replace(path, "<tmp>")
        return _STAMP.sub(self._stamp, text)

    def document(self, body: str) -> str:
        return _FLOAT.sub(_round_token, self.text(_SCRIPT.sub(_hash_wide, body)))

    def _stamp(self, match: re.Match) -> str:
        try:
            when = datetime.fromisoformat(match.group(0))
        except ValueError:  # not a time, e.g. a malformed value quoted in a reject
            return match.group(0)
        near = self.started - timedelta(days=1) <= when <= self.finished + timedelta(days=1)
        return "<now>" if near else match.group(0)


def _machine(text: str) -> str:
    """JSON with rounded floats, written back the way print_json writes it; other text (CSV) token by token."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if data is None or json.dumps(data, indent=2) + "\n" != text:  # CSV, or JSON laid out otherwise: keep it visible
        return _FLOAT.sub(_round_token, text)
    return json.dumps(_rounded(data), indent=2) + "\n"


def _rounded(value):
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return _significant(value) if isinstance(value, float) else value


def _significant(number: float) -> float:
    return 0.0 if abs(number) < 1e-12 else float(f"{number:.9g}")


def _round_token(match: re.Match) -> str:
    token = match.group(0)
    digits = len(re.split("[eE]", token.lstrip("-"))[0].replace(".", "").lstrip("0"))
    return repr(_significant(float(token))) if digits > 9 else token


def _hash_wide(match: re.Match) -> str:
    start, body, end = match.groups()
    if len(body) <= _WIDE_SCRIPT:
        return match.group(0)
    return f"{start}/* {len(body):,} characters, sha256 {hashlib.sha256(body.encode()).hexdigest()} */{end}"
