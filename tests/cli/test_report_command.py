"""`retainly report` and the report written by `retainly demo`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from retainly import Workspace
from tests.cli.running import captured


def _retainly(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "retainly", *args], capture_output=True, text=True, cwd=cwd)


def test_report_writes_the_file_it_names(tmp_path):
    db, out = tmp_path / "shop.duckdb", tmp_path / "out.html"
    with Workspace.open(str(db)) as ws:
        ws.data.generate(300, seed=2)
    result = _retainly("--db", str(db), "report", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.exists() and out.stat().st_size > 1_000_000  # plotly.js is inside
    assert str(out) in result.stdout


def test_report_defaults_to_report_html_and_explains_an_empty_store(tmp_path):
    Workspace.open(str(tmp_path / "empty.duckdb")).close()
    result = _retainly("--db", str(tmp_path / "empty.duckdb"), "report", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "report.html").exists()
    assert "no purchase orders yet" in result.stdout


def test_report_into_a_missing_folder_is_one_line_error(tmp_path):
    Workspace.open(str(tmp_path / "s.duckdb")).close()
    result = _retainly("--db", str(tmp_path / "s.duckdb"), "report", "--out", str(tmp_path / "no" / "r.html"))
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot write") and "does not exist" in result.stderr
    assert result.stderr.count("\n") == 1


def test_demo_writes_the_report_beside_its_store(tmp_path):
    result = _retainly("--db", str(tmp_path / "demo.duckdb"), "demo", "--customers", "300", "--seed", "4")
    assert result.returncode == 0, result.stderr
    report = tmp_path / "demo-report.html"
    assert report.exists()
    assert str(report) in result.stdout
    # It ends by saying how to open the web app on the demo store.
    last = " ".join(result.stdout.split("the web app:")[-1].split())
    assert last == (f"retainly --db {tmp_path / 'demo.duckdb'} users add you@example.com --role admin, then "
                    f"retainly --db {tmp_path / 'demo.duckdb'} serve, and open http://127.0.0.1:8000 to log in")


def test_the_report_is_readable_by_its_owner_only(tmp_path):
    # It names customers and their contacts (the call list). Under umask 022 a plain write would be 0644;
    # an older report with wider permissions is replaced, not kept with them.
    db, new, old = tmp_path / "shop.duckdb", tmp_path / "new.html", tmp_path / "old.html"
    with Workspace.open(str(db)) as ws:
        ws.data.generate(300, seed=2)
    old.write_text("an older report")
    old.chmod(0o644)
    mask = os.umask(0o022)
    try:
        for out in (new, old):
            code, _, err = captured(["--db", str(db), "report", "--out", str(out)])
            assert code == 0, err
    finally:
        os.umask(mask)
    for out in (new, old):
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        assert "retainly" in out.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".duckdb" and not p.name.endswith(".wal")) == [
        "new.html", "old.html"]  # no temporary file left beside them
