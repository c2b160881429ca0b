"""Fuzz: any bytes named as an export either import in full or leave the store as it was.

Three families of input, on DuckDB and PostgreSQL, through the real import path
(``Workspace.data.import_file``) into one store that keeps what earlier examples imported:

- random bytes;
- CSV files written with a random delimiter, quoting style and encoding, whose cells mix
  valid values with quotes, delimiters, line breaks and other characters;
- a valid file (CSV, gzipped CSV, Parquet) cut at a random byte.

Each import must end in success or a ``RetainlyError`` (no other exception), within a guard
time; a refused import leaves every table exactly as it was; a success accounts for every
row (accepted + rejected = read), and for a well-quoted CSV file, read = the rows written.
``RETAINLY_FUZZ_EXAMPLES`` raises the number of examples for a longer local run, and
``RETAINLY_FUZZ_REPORT`` names a file to which the outcome counts are appended.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import os
import signal

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retainly import Workspace
from retainly.errors import RetainlyError

HEADER = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]
VALID = ["100001", "85048", "GLASS BALL", "12", "2010-11-30 09:00:00", "6.95", "13085", "United Kingdom"]
GUARD_SECONDS = 120
_names = itertools.count()

nasty_text = st.text(alphabet=st.sampled_from(list(',;\t|"\'\n\r x1.-:ü€\u200f\ufeff\x00é=')), max_size=12)
nasty = st.one_of(nasty_text, st.sampled_from(["", " ", "-3", "9999-12-31", "1e400", "NaN"]))


@st.composite
def a_row(draw, number: int) -> list[str]:
    """A valid row of its own order, with about one cell in five replaced by something nasty."""
    valid = [f"{100000 + number}", *VALID[1:]]
    return [draw(nasty) if draw(st.integers(0, 4)) == 0 else value for value in valid]


@st.composite
def written_csv(draw):
    """(bytes, rows written) of a CSV with random delimiter, quoting and encoding; every row has an id."""
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC, "none"]))
    rows = [draw(a_row(n)) for n in range(draw(st.integers(1, 12)))]
    rows = [[f"X{n}", *r[1:]] if not r[0].strip() else r for n, r in enumerate(rows)]
    if quoting == "none":  # joined by hand: quotes, delimiters and line breaks in cells break the structure
        text = "".join(delimiter.join(r) + "\n" for r in [HEADER, *rows])
        well_quoted = False
    else:
        out = io.StringIO()
        terminator = draw(st.sampled_from(["\n", "\r\n"]))
        writer = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=terminator)
        writer.writerows([HEADER, *rows])
        text = out.getvalue()
        # Python's writer quotes only the line terminator's characters: a bare CR left unquoted ends a line.
        well_quoted = terminator == "\r\n" or not any("\r" in c for r in rows for c in r)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    # A file that is not UTF-8 has its encoding detected, a guess that decides what its bytes mean.
    return data, (len(rows) if well_quoted and encoding != "cp1252" else None)


def valid_file(kind: str, rows: int) -> bytes:
    lines = [[f"{100000 + n}", "85048", "GLASS BALL", str(1 + n % 5), f"2010-11-{1 + n % 28:02d} 09:00:00", "6.95",
              f"{13000 + n % 4}", "United Kingdom"] for n in range(rows)]
    text = "".join(",".join(r) + "\n" for r in [HEADER, *lines])
    if kind == "gzip":
        return gzip.compress(text.encode(), mtime=0)
    if kind == "parquet":
        sink = io.BytesIO()
        pq.write_table(pa.table({h: [r[i] for r in lines] for i, h in enumerate(HEADER)}), sink)
        return sink.getvalue()
    return text.encode()


@st.composite
def truncated(draw):
    kind = draw(st.sampled_from(["csv", "gzip", "parquet"]))
    data = valid_file(kind, draw(st.integers(1, 30)))
    return data[: draw(st.integers(0, len(data)))], None, {"csv": ".csv", "gzip": ".csv.gz", "parquet": ".parquet"}[kind]


inputs = st.one_of(
    st.tuples(st.binary(max_size=2000), st.none(), st.sampled_from([".csv", ".csv.gz", ".xlsx", ".parquet"])),
    written_csv().map(lambda written: (*written, ".csv")),
    truncated(),
)


def snapshot(ws: Workspace) -> dict:
    """Every table's rows, in a stable order."""
    return {t: sorted(map(repr, ws.store.fetchall(f'SELECT * FROM "{t}"'))) for t in sorted(ws.store.table_names())}


class _Hang(Exception):
    pass


def _on_alarm(_signum, _frame):
    raise _Hang(f"an import did not finish in {GUARD_SECONDS} s")


def test_any_input_imports_in_full_or_changes_nothing(store_url, tmp_path):
    engine = "duckdb" if store_url.startswith("duckdb") else "postgres"
    examples = int(os.environ.get("RETAINLY_FUZZ_EXAMPLES", 0)) or (60 if engine == "duckdb" else 20)
    outcomes = {"examples": 0, "imported": 0, "refused": 0, "rows_written": 0, "rows_read": 0, "rows_lost": 0}

    with Workspace.open(store_url) as ws:
        @settings(max_examples=examples, deadline=None, derandomize=not os.environ.get("RETAINLY_FUZZ_EXAMPLES"),
                  database=None, suppress_health_check=list(HealthCheck))
        @given(case=inputs, preset=st.sampled_from([None, "online-retail-ii"]), strict=st.booleans())
        def check(case, preset, strict):
            data, rows_written, suffix = case
            path = tmp_path / f"in{next(_names)}{suffix}"
            path.write_bytes(data)
            before = snapshot(ws)
            previous = signal.signal(signal.SIGALRM, _on_alarm)
            signal.alarm(GUARD_SECONDS)
            try:
                # `force`: an example hypothesis replays must import again, not be skipped as already imported.
                result = ws.data.import_file("orders", path, preset=preset, strict=strict, force=True)
            except RetainlyError:
                result = None
            finally:
                signal.alarm(0)
                signal.signal(signal.SIGALRM, previous)
            outcomes["examples"] += 1
            if result is None:
                outcomes["refused"] += 1
                assert snapshot(ws) == before, "a refused import changed the store"
                return
            outcomes["imported"] += 1
            assert result.rows_accepted + result.rows_rejected == result.rows_read
            if rows_written is not None:
                outcomes["rows_written"] += rows_written
                outcomes["rows_read"] += result.rows_read
                outcomes["rows_lost"] += rows_written - result.rows_read
                assert result.rows_read == rows_written, "rows of a well-quoted file went missing"

        check()

    if os.environ.get("RETAINLY_FUZZ_REPORT"):
        with open(os.environ["RETAINLY_FUZZ_REPORT"], "a") as report:
            report.write(json.dumps({"engine": engine, **outcomes}) + "\n")
