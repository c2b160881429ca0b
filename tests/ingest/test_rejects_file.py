"""The rejects file: every rejected row whole, private, safe to open in a spreadsheet, and
importable again once fixed, giving exactly the values of the original file (issue 11, item 2)."""

from __future__ import annotations

import csv
import os
import stat

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from retainly.csv_cells import neutralise_cell, restore_cell
from retainly.ingest.readers import RawTable
from retainly.ingest.rejects import REASON_COLUMNS, rejects_path, rejects_table, write_rejects
from retainly.ingest.values import Problems

HEADER = "order_id,customer_id,placed_at,sku,description,quantity,unit_price\n"


def write(path, text: str):
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(text)
    return path


def read_rows(path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def test_fixed_rejects_file_imports_the_original_values(workspace, tmp_path):
    # O2 is rejected for its quantity; its cells start like formulas, or with apostrophes of their own.
    source = write(tmp_path / "orders.csv", HEADER
                   + "O1,C1,2024-01-05,A,Tea,1,9.90\n"
                   + "O2,@C2,2024-01-06,=SUM(A1),'=kept as typed,two,+5.00\n"
                   + "O2,@C2,2024-01-06,B,'Tis the season,-0,4.50\n")
    result = workspace.data.import_file("orders", source)
    assert (result.rows_accepted, result.rows_rejected) == (1, 2)
    assert result.rejects_file == str(tmp_path / "orders.rejects.csv")
    rows = read_rows(tmp_path / "orders.rejects.csv")
    assert rows[0] == [*REASON_COLUMNS, *HEADER.strip().split(",")]
    # Formula-like text gets an apostrophe; numbers (+5.00, -0) and plain text do not.
    assert rows[1] == ["3", "", "quantity", "two", "not a whole number",
                       "O2", "'@C2", "2024-01-06", "'=SUM(A1)", "''=kept as typed", "two", "+5.00"]
    assert rows[2] == ["4", "", "", "", "another line of order O2 was rejected (line 3)",
                       "O2", "'@C2", "2024-01-06", "B", "'Tis the season", "-0", "4.50"]

    rows[1][len(REASON_COLUMNS) + 5] = "2"  # the user fixes the quantity
    with open(tmp_path / "orders.rejects.csv", "w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)
    again = workspace.data.import_file("orders", tmp_path / "orders.rejects.csv")
    assert (again.rows_accepted, again.rows_rejected, again.rejects_file) == (2, 0, None)

    q = workspace.store.fetchall
    assert q("SELECT sku, description, quantity FROM order_lines WHERE order_id = 'O2' ORDER BY line_no") == [
        ("=SUM(A1)", "'=kept as typed", 2), ("B", "'Tis the season", 0)]
    assert q("SELECT c.external_id FROM orders o JOIN customers c USING (customer_id) WHERE order_id = 'O2'") == [
        ("@C2",)]


def test_reason_columns_never_clash_with_the_files_own(workspace, tmp_path):
    # A returns file has a column named reason; its rejects file keeps both and imports again.
    source = write(tmp_path / "returns.csv", "return_id,returned_at,sku,quantity,amount,reason\n"
                   "R1,2024-02-01,A,1,9.90,too small\nR2,2024-02-02,B,x,4.50,broken\n")
    result = workspace.data.import_file("returns", source)
    assert result.rows_rejected == 1
    rows = read_rows(result.rejects_file)
    assert rows[0] == [*REASON_COLUMNS, "return_id", "returned_at", "sku", "quantity", "amount", "reason"]
    rows[1][len(REASON_COLUMNS) + 3] = "1"
    fixed = tmp_path / "fixed.csv"
    with open(fixed, "w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)
    assert workspace.data.import_file("returns", fixed).rows_accepted == 1
    assert workspace.store.fetchall("SELECT reason FROM returns ORDER BY return_id") == [("too small",), ("broken",)]


def test_rejects_file_is_private_even_over_an_older_readable_one(workspace, tmp_path):
    source = write(tmp_path / "orders.csv", HEADER + "O1,C1,2024-01-05,A,Tea,1,9.90\nO2,C2,2024-01-06,A,Tea,x,1\n")
    older = write(tmp_path / "orders.rejects.csv", "an older rejects file\n")
    os.chmod(older, 0o644)
    previous = os.umask(0o022)
    try:
        result = workspace.data.import_file("orders", source)
    finally:
        os.umask(previous)
    mode = stat.S_IMODE(os.stat(result.rejects_file).st_mode)
    assert mode == 0o600
    assert read_rows(result.rejects_file)[1][0] == "3"  # replaced, not appended to
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_rejects_of_an_xlsx_name_its_sheet(workspace, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "January"
    sheet.append(HEADER.strip().split(","))
    sheet.append(["O1", "C1", "2024-01-05", "A", "Tea", 1, 9.9])
    sheet.append(["O2", "C2", "2024-01-06", "A", "Tea", "two", 9.9])
    book.save(tmp_path / "orders.xlsx")
    result = workspace.data.import_file("orders", tmp_path / "orders.xlsx")
    assert result.rejects_file == str(tmp_path / "orders.xlsx.rejects.csv")
    assert read_rows(result.rejects_file)[1][:5] == ["3", "January", "quantity", "two", "not a whole number"]


@pytest.mark.parametrize(("name", "expected"), [
    ("orders.csv", "orders.rejects.csv"),
    ("orders.2024-01.csv", "orders.2024-01.rejects.csv"),
    ("ORDERS.CSV", "ORDERS.rejects.csv"),
    ("orders.csv.gz", "orders.csv.gz.rejects.csv"),
    ("orders.xlsx", "orders.xlsx.rejects.csv"),
    ("orders.rejects.csv", "orders.rejects.rejects.csv"),
])
def test_rejects_file_names(tmp_path, name, expected):
    assert rejects_path(str(tmp_path / name)) == tmp_path / expected
    assert rejects_path(str(tmp_path / name), tmp_path / "elsewhere") == tmp_path / "elsewhere" / expected


def test_inputs_that_differ_get_different_rejects_files():
    names = ["orders.csv", "orders.2024-01.csv", "orders.2024-02.csv", "orders.csv.gz", "orders.xlsx",
             "orders.parquet", "orders.rejects.csv", "orders.tsv"]
    assert len({rejects_path(n) for n in names}) == len(names)


@given(st.text(alphabet=st.sampled_from(["'", "=", "+", "-", "@", "\t", "\r", "1", ".", "e", "a", " "]), max_size=8))
def test_restore_undoes_neutralise(text):
    assert restore_cell(neutralise_cell(text)) == text
    # A cell left starting like a formula is a plain number, which spreadsheets read as that number.
    safe = neutralise_cell(text)
    if safe.startswith(("=", "+", "-", "@", "\t", "\r")):
        assert safe == text
        float(safe)


def test_a_line_split_into_the_wrong_number_of_fields_keeps_its_fields(tmp_path):
    # When the reader hands over the fields it split a bad line into, each gets its own cell.
    frame = pd.DataFrame({"a": ["1"], "b": ["=2"]}, dtype="string")
    malformed = pd.DataFrame({"line": [3], "value": ["4,=5,6"], "reason": ["expected 2 fields, found 3"],
                              "fields": [["4", "=5", "6"]]})
    raw = RawTable(str(tmp_path / "in.csv"), frame, np.array([2]), None, "hash", "line", malformed)
    rejects = rejects_table(raw, Problems(), np.array([], dtype=np.int64), None, frame)
    assert read_rows(write_rejects(raw, rejects)) == [
        [*REASON_COLUMNS, "a", "b"], ["3", "", "", "4,=5,6", "expected 2 fields, found 3", "4", "'=5", "6"]]
