"""Each class of malformed input gives its exact documented message (docs/import.md).

The CLI is called in-process through its real entry point; paths are relative to a
temporary folder so that the messages are exact.
"""

from __future__ import annotations

import gzip

import pytest

from retainly.cli.app import main

HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
GOOD = "100001,85048,GLASS BALL,12,2010-11-30 09:00:00,6.95,13085,United Kingdom\n"


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["--db", "store.duckdb", *args])
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(name: str, text: str, encoding: str = "utf-8") -> str:
    with open(name, "w", encoding=encoding, newline="") as handle:
        handle.write(text)
    return name


def test_unparseable_date_strict(capsys):
    write("bad.csv", HEADER + GOOD + "100002,22111,BOTTLE,2,2010-13-45 10:00,4.25,13085,United Kingdom\n")
    code, _out, err = run(capsys, "import", "orders", "bad.csv", "--preset", "online-retail-ii", "--strict")
    assert code == 1
    assert err == ("error: bad.csv:3: column InvoiceDate: value '2010-13-45 10:00': unparseable date; expected a "
                   "date like 2024-03-31 or 2024-03-31 14:05:00; --strict stopped the import, the store is unchanged\n")
    code, out, _ = run(capsys, "summary", "--json")
    assert '"orders": 0' in out


def test_garbage_amount_goes_to_rejects(capsys, in_tmp):
    write("bad.csv", HEADER + GOOD + "100002,22111,BOTTLE,2,2010-12-01 10:00:00,4.2x5,13085,United Kingdom\n")
    code, out, _ = run(capsys, "import", "orders", "bad.csv", "--preset", "online-retail-ii")
    assert code == 0
    assert "rejected bad.csv:3: column Price: value '4.2x5': not a number" in out
    rejects = (in_tmp / "bad.rejects.csv").read_text().splitlines()
    assert rejects[0] == ("rejected_line,rejected_sheet,rejected_column,rejected_value,rejected_reason,"
                          "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country")
    assert rejects[1] == "3,,Price,4.2x5,not a number,100002,22111,BOTTLE,2,2010-12-01 10:00:00,4.2x5,13085,United Kingdom"


def test_negative_amount_where_not_allowed(capsys):
    write("cd.csv", "customer_id,date,number_of_cds,dollar_value\n00001,1997-01-01,1,11.77\n00002,1997-01-12,1,-12.00\n")
    code, _out, err = run(capsys, "import", "orders", "cd.csv", "--preset", "cdnow", "--strict")
    assert code == 1
    assert err == ("error: cd.csv:3: column dollar_value: value '-12.00': negative amount not allowed here; "
                   "--strict stopped the import, the store is unchanged\n")


def test_missing_required_column(capsys):
    write("bad.csv", "Invoice,StockCode,Description,Quantity,Price,Customer ID,Country\n1,2,3,4,5,6,7\n")
    code, _out, err = run(capsys, "import", "orders", "bad.csv", "--preset", "online-retail-ii")
    assert code == 1
    assert err == ('error: bad.csv: missing required column "InvoiceDate" for preset online-retail-ii (found: '
                   "Invoice, StockCode, Description, Quantity, Price, Customer ID, Country); pick the right "
                   "--preset or map the columns with --map\n")


def test_wrong_encoding(capsys):
    write("latin.csv", HEADER + GOOD + "100002,22111,CAFÉ MUG,2,2010-12-01 10:00:00,4.25,13085,France\n", "cp1252")
    code, _out, err = run(capsys, "import", "orders", "latin.csv", "--preset", "online-retail-ii", "--encoding", "utf-8")
    assert code == 1
    assert err == ("error: latin.csv:3: byte 0xc9 cannot be read (it is not valid utf-8); pass --encoding with the "
                   "file's encoding, for example --encoding cp1252\n")
    # Detected without --encoding, the same file imports.
    code, out, _ = run(capsys, "import", "orders", "latin.csv", "--preset", "online-retail-ii")
    assert code == 0 and "2 of 2 rows imported" in out


def test_empty_file(capsys):
    write("empty.csv", "")
    code, _out, err = run(capsys, "import", "orders", "empty.csv")
    assert (code, err) == (1, "error: empty.csv: the file is empty; export it again with a header row and data rows\n")


def test_header_only(capsys):
    write("header.csv", HEADER)
    code, _out, err = run(capsys, "import", "orders", "header.csv", "--preset", "online-retail-ii")
    assert (code, err) == (1, "error: header.csv: the file has a header but no data rows; export it again with data\n")


def test_unknown_preset(capsys):
    write("orders.csv", HEADER + GOOD)
    code, _out, err = run(capsys, "import", "orders", "orders.csv", "--preset", "shopfy")
    assert (code, err) == (1, 'error: unknown preset "shopfy"; choose one of: cdnow, online-retail-ii, retainly, '
                              "shopify, woocommerce\n")


def test_unreadable_xlsx(capsys, in_tmp):
    (in_tmp / "book.xlsx").write_bytes(b"PK\x03\x04 this is not really a workbook")
    code, _out, err = run(capsys, "import", "orders", "book.xlsx")
    assert (code, err) == (1, "error: book.xlsx: not a readable XLSX workbook; open it in a spreadsheet program and "
                              "save it again as .xlsx, or export it as CSV\n")


def test_ragged_row_is_rejected_with_its_line(capsys):
    write("ragged.csv", HEADER + GOOD + "\n100002,22111,BOTTLE,2,2010-12-01 10:00:00,4.25,13085,United Kingdom,extra\n")
    code, out, _ = run(capsys, "import", "orders", "ragged.csv", "--preset", "online-retail-ii")
    assert code == 0
    assert "rejected ragged.csv:4: value '100002,22111,BOTTLE,2,2010-12-01 10:00:00,4.25,13085,United Kingdom,extra': " \
           "expected 8 fields, found 9" in out


def test_damaged_gzip(capsys, in_tmp):
    data = gzip.compress((HEADER + GOOD).encode())
    (in_tmp / "orders.csv.gz").write_bytes(data[: len(data) // 2])
    code, _out, err = run(capsys, "import", "orders", "orders.csv.gz")
    assert code == 1
    assert err.startswith("error: orders.csv.gz: damaged gzip file (")
    assert err.endswith("); download or compress it again\n")


def test_usage_error_is_one_line(capsys):
    code, _out, err = run(capsys, "import")
    assert (code, err) == (1, "error: Missing argument 'KIND'; see `retainly import --help`\n")


def test_no_such_file(capsys):
    code, _out, err = run(capsys, "import", "orders", "nope.csv")
    assert (code, err) == (1, "error: nope.csv: no such file; check the path\n")
