"""File formats: CSV dialects and encodings, gzip, Parquet, XLSX with several sheets.

Each test imports the same three Online Retail II rows (two orders, 6.95 x 12 + 4.25 x 2 =
91.90) in another form, and checks where a bad row is reported.
"""

from __future__ import annotations

import gzip
from decimal import Decimal

import pandas as pd
import pytest

from retainly.ingest.readers import read_table

HEADER = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]
ROWS = [
    ["100001", "85048", "GLASS BALL", "12", "2010-11-30 09:00:00", "6.95", "13085", "United Kingdom"],
    ["100002", "22111", "HOT WATER BOTTLE", "1", "2010-12-01 10:00:00", "4.25", "13085", "United Kingdom"],
    ["100002", "22111", "HOT WATER BOTTLE", "1", "2010-12-01 10:00:00", "4.25", "13085", "United Kingdom"],
]
BAD = ["100009", "22111", "BOTTLE", "1", "not a date", "4.25", "13085", "United Kingdom"]


def csv_text(rows, delimiter=",") -> str:
    return "".join(delimiter.join(r) + "\n" for r in [HEADER, *rows])


def imported_revenue(workspace, path, **options) -> Decimal:
    result = workspace.data.import_file("orders", path, preset="online-retail-ii", **options)
    assert result.rows_accepted == 3
    return workspace.data.summary().gross_revenue


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected(tmp_path, delimiter):
    path = tmp_path / "orders.csv"
    path.write_text(csv_text(ROWS, delimiter))
    raw = read_table(path)
    assert list(raw.frame.columns) == HEADER
    assert raw.frame["Price"].tolist() == ["6.95", "4.25", "4.25"]


def test_utf8_bom_and_padding_are_removed(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text([[f"  {v} " for v in ROWS[0]]]).encode())
    raw = read_table(path)
    assert raw.frame.columns[0] == "Invoice"
    assert raw.frame.iloc[0].tolist() == ROWS[0]


def test_gzipped_csv(workspace, tmp_path):
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(gzip.compress(csv_text(ROWS).encode()))
    assert imported_revenue(workspace, path) == Decimal("91.90")


def test_quoted_newlines_keep_line_numbers_exact(tmp_path, workspace):
    path = tmp_path / "orders.csv"
    multi_line = ["100001", "85048", '"GLASS\nBALL\nRED"', "12", "2010-11-30 09:00:00", "6.95", "13085", "UK"]
    path.write_text(csv_text([multi_line, BAD]))
    result = workspace.data.import_file("orders", path, preset="online-retail-ii")
    # Header is line 1, the first row spans lines 2-4, so the bad row starts on line 5.
    assert result.rejects["line"].tolist() == [5]
    assert workspace.store.fetchone("SELECT description FROM order_lines") == ("GLASS\nBALL\nRED",)


def test_parquet_rows_are_numbered(workspace, tmp_path):
    path = tmp_path / "orders.parquet"
    frame = pd.DataFrame([*ROWS, BAD], columns=HEADER)
    frame["Quantity"] = frame["Quantity"].astype(int)
    frame["Price"] = frame["Price"].astype(float)
    frame.to_parquet(path)
    result = workspace.data.import_file("orders", path, preset="online-retail-ii")
    assert result.rejects_file is not None
    assert (result.rows_accepted, result.rejects["line"].tolist()) == (3, [4])
    assert workspace.data.summary().gross_revenue == Decimal("91.90")


def test_xlsx_every_sheet_in_order(workspace, tmp_path):
    openpyxl = pytest.importorskip("openpyxl", reason="openpyxl is a test dependency: pip install -e .[test]")
    path = tmp_path / "orders.xlsx"
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Year 2009-2010"
    for row in [HEADER, ROWS[0]]:
        first.append(row)
    second = book.create_sheet("Year 2010-2011")
    for row in [HEADER, ROWS[1], BAD, ROWS[2]]:
        second.append(row)
    # Spreadsheets keep numbers as numbers and customer ids as 13085.0.
    first["D2"] = 12
    first["F2"] = 6.95
    first["G2"] = 13085.0
    book.save(path)
    result = workspace.data.import_file("orders", path, preset="online-retail-ii")
    assert result.rows_accepted == 3
    reject = result.rejects.iloc[0]
    assert (reject["sheet"], reject["line"], reject["column"]) == ("Year 2010-2011", 3, "InvoiceDate")
    assert workspace.data.summary().gross_revenue == Decimal("91.90")
    assert workspace.store.fetchall("SELECT external_id FROM customers") == [("13085",)]
