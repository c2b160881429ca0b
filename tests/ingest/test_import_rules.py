"""Rules every import applies (issue 11, items 5, 6, 7 and 16): the documented rules for an
order's lines, ids normalised, plausible dates, values the store can hold (the same rows on
both engines), merged XLSX cells, and a file imported as the wrong kind."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest

from retainly.errors import InputError
from retainly.features.customer_view import find_customer_id
from retainly.ingest.presets import refuse_other_kind
from retainly.ingest.readers import read_table
from retainly.ingest.values import normalise_id
from retainly.services.data import write_generated_shop
from retainly.settings import AnalysisSettings, ImportSettings
from tests.conftest import DATA

ORDERS = "order_id,customer_id,placed_at,line_no,sku,quantity,unit_price,kind,shipping,status\n"


def write(path, text: str):
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(text)
    return path


def reasons(result) -> dict[int, str]:
    return dict(zip(result.rejects["line"], result.rejects["reason"]))


# -- item 5: the rules of an order's lines ---------------------------------------------------

def test_lines_may_repeat_or_omit_order_fields_but_not_contradict_them(workspace, tmp_path):
    source = write(tmp_path / "orders.csv", ORDERS
                   # O1 repeats its fields, spelt differently but equal: status alias, 4.95 = 4.950, same time
                   + "O1,C1,2024-01-05 10:00,,A,1,9.90,,4.95,paid\n"
                   + "O1,C1,2024-01-05 10:00:00,,B,1,1.00,,4.950,completed\n"
                   + "O1,,2024-01-05 10:00,,C,1,1.00,,,\n"
                   # O2's second line gives other shipping: the whole order goes
                   + "O2,C2,2024-01-06,,A,1,9.90,,4.95,\n"
                   + "O2,C2,2024-01-06,,B,1,9.90,,5.95,\n")
    result = workspace.data.import_file("orders", source)
    assert (result.rows_accepted, result.rows_rejected) == (3, 2)
    assert reasons(result)[6] == ("order O2 has shipping '4.95' on line 5; the lines of an order must agree on its "
                                  "fields (or leave them blank)")
    assert workspace.store.fetchall("SELECT order_id, status, shipping, net FROM orders") == [
        ("O1", "completed", Decimal("4.95"), Decimal("16.85"))]  # 9.90 + 1.00 + 1.00 + 4.95


def test_line_numbers_given_or_in_file_order_never_twice(workspace, tmp_path):
    source = write(tmp_path / "orders.csv", ORDERS
                   + "O1,C1,2024-01-05,3,A,1,9.90,,,\nO1,C1,2024-01-05,1,B,1,9.90,,,\n"
                   # O2: the blank line number is counted in file order (2), which the first line took
                   + "O2,C1,2024-01-06,2,A,1,9.90,,,\nO2,C1,2024-01-06,,B,1,9.90,,,\n")
    result = workspace.data.import_file("orders", source)
    assert (result.rows_accepted, result.rows_rejected) == (2, 2)
    assert reasons(result)[5] == "order O2 has line_no 2 twice (lines 4 and 5); number each line of an order once"
    assert workspace.store.fetchall("SELECT line_no, sku FROM order_lines ORDER BY line_no") == [(1, "B"), (3, "A")]


def test_negative_quantity_only_on_adjustment_lines(workspace, tmp_path):
    source = write(tmp_path / "orders.csv", ORDERS
                   + "O1,C1,2024-01-05,,A,2,9.90,,,\nO1,C1,2024-01-05,,X,-1,0,adjustment,,\n"
                   + "O2,C1,2024-01-06,,A,2,9.90,,,\nO2,C1,2024-01-06,,D,-1,5,discount,,\n")
    result = workspace.data.import_file("orders", source)
    assert reasons(result) == {4: "another line of order O2 was rejected (line 5)",
                               5: "negative quantity allowed only on adjustment lines"}


def test_an_invoice_with_two_customers_is_rejected(workspace, tmp_path):
    header = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
    source = write(tmp_path / "retail.csv", header
                   + "100001,85048,GLASS BALL,12,2010-11-30 09:00:00,6.95,13085,United Kingdom\n"
                   + "100001,22111,BOTTLE,2,2010-11-30 09:00:00,4.25,,United Kingdom\n"
                   + "100002,85048,GLASS BALL,1,2010-11-30 10:00:00,6.95,13085.0,United Kingdom\n"
                   + "100002,22111,BOTTLE,1,2010-11-30 10:00:00,4.25,13086,United Kingdom\n")
    result = workspace.data.import_file("orders", source, preset="online-retail-ii")
    assert (result.rows_accepted, result.rows_rejected) == (2, 2)
    # 13085.0 is 13085, as everywhere in this preset; 13086 is another customer
    assert reasons(result)[5] == ("invoice 100002 has Customer ID '13085.0' on line 4; the lines of an invoice must "
                                  "agree on its fields (or leave them blank)")


def test_ids_that_differ_only_by_invisible_characters_are_one(workspace, tmp_path):
    customers = write(tmp_path / "customers.csv", "customer_id,name\n\u200fC1,Ann\nCafe\u0301,Bob\n")
    workspace.data.import_file("customers", customers)
    orders = write(tmp_path / "orders.csv", ORDERS
                   + "O1\u200b,C1\u200b,2024-01-05,,SKU\u2060-1,1,9.90,,,\n"
                   + "O1,\ufeffC1,2024-01-05,,B,1,9.90,,,\n"
                   + "O2,Caf\u00e9,2024-01-06,,SKU-1,1,9.90,,,\n")
    assert workspace.data.import_file("orders", orders).rows_accepted == 3
    q = workspace.store.fetchall
    assert q("SELECT external_id, name FROM customers ORDER BY name") == [("C1", "Ann"), ("Caf\u00e9", "Bob")]
    assert q("SELECT order_id, COUNT(*) FROM order_lines GROUP BY order_id ORDER BY 1") == [("O1", 2), ("O2", 1)]
    assert q("SELECT DISTINCT sku FROM order_lines ORDER BY 1") == [("B",), ("SKU-1",)]
    # An id typed (or pasted) on the command line is read the same way.
    c1 = q("SELECT customer_id FROM customers WHERE external_id = 'C1'")[0][0]
    assert find_customer_id(workspace.store, "C1\u200b") == c1


def test_normalise_id():
    assert normalise_id(" \u202aC1\u202c ") == "C1"
    assert normalise_id("Cafe\u0301") == "Caf\u00e9"
    assert normalise_id("\u200b") == ""
    assert normalise_id("\u00e9l\u00e8ve") == "\u00e9l\u00e8ve"  # visible letters stay as they are


def test_merged_xlsx_cells_reject_the_rows_they_span(workspace, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["order_id", "placed_at", "sku", "description", "notes", "quantity", "unit_price"])
    sheet.append(["O1", "2024-01-05", "A", "Tea", None, 1, 9.9])
    sheet.append(["O1", "2024-01-05", "B", "Mug", None, 2, 4.5])
    sheet.append(["O2", "2024-01-06", "A", "Tea", None, 1, 9.9])
    sheet.append(["O2", "2024-01-06", "B", "Mug", None, 1, 4.5])
    sheet.merge_cells("D2:E2")  # within one row: read as it is
    sheet.merge_cells("G4:G5")  # one price shown for two lines: which line costs what is unknown
    book.save(tmp_path / "orders.xlsx")
    result = workspace.data.import_file("orders", tmp_path / "orders.xlsx")
    assert (result.rows_accepted, result.rows_rejected) == (2, 2)
    assert set(reasons(result).values()) == {
        "merged cells G4:G5 hold one value for rows 4 to 5; unmerge them and fill in the value on every row"}
    assert workspace.store.fetchall("SELECT order_id, description FROM order_lines ORDER BY line_no") == [
        ("O1", "Tea"), ("O1", "Mug")]


# -- item 6: plausible dates ----------------------------------------------------------------

def test_dates_outside_the_configured_range_are_rejected(workspace, tmp_path):
    today = date(2024, 6, 30)
    settings = ImportSettings(earliest_date=date(2000, 1, 1), latest_days_ahead=0)
    source = write(tmp_path / "orders.csv", ORDERS
                   + "O1,C1,2000-01-01 00:00:00,,A,1,9.90,,,\n"   # the first day: in
                   + "O2,C1,1999-12-31 23:59:59,,A,1,9.90,,,\n"   # the second before: out
                   + "O3,C1,2024-06-30 23:59:59,,A,1,9.90,,,\n"   # today, 0 days ahead: in
                   + "O4,C1,2024-07-01 00:00:00,,A,1,9.90,,,\n")  # tomorrow: out
    result = workspace.data.import_file("orders", source, settings=settings, today=today)
    advice = "if it is right, change earliest_date or latest_days_ahead under [import] in retainly.toml"
    assert reasons(result) == {3: f"outside the plausible dates 2000-01-01 to 2024-06-30; {advice}",
                               5: f"outside the plausible dates 2000-01-01 to 2024-06-30; {advice}"}
    assert workspace.store.fetchall("SELECT order_id FROM orders ORDER BY 1") == [("O1",), ("O3",)]


def test_by_default_tomorrow_is_the_last_day(workspace, tmp_path):
    today = date(2024, 6, 30)
    source = write(tmp_path / "orders.csv", ORDERS + "O1,C1,2024-07-01 23:00,,A,1,9.90,,,\n"
                   + "O2,C1,2024-07-02,,A,1,9.90,,,\nO3,C1,1990-01-01,,A,1,9.90,,,\nO4,C1,1989-12-31,,A,1,9.90,,,\n")
    result = workspace.data.import_file("orders", source, today=today)
    assert sorted(reasons(result)) == [3, 5]


def test_birthdays_and_planned_promotions_have_their_own_ranges(workspace, tmp_path):
    today = date(2024, 6, 30)
    customers = write(tmp_path / "customers.csv", "customer_id,birthday\nC1,1931-05-02\nC2,1899-12-31\n")
    result = workspace.data.import_file("customers", customers, today=today)
    assert reasons(result) == {3: "outside the plausible dates 1900-01-01 to 2024-07-01; check the birthday"}
    promotions = write(tmp_path / "promotions.csv", "promotion_id,name,starts_on,ends_on\n"
                       "P1,Next winter,2025-01-02,2025-01-31\nP2,Far ahead,2029-07-01,2029-07-31\n")
    result = workspace.data.import_file("promotions", promotions, today=today)
    # P2 starts on the last day (2024-07-01 + 1,826 days = 2029-07-01) but ends after it
    assert list(reasons(result)) == [3]
    assert result.rejects["column"].tolist() == ["ends_on"]
    assert "promotions may be planned up to five years ahead" in reasons(result)[3]


def test_widening_the_dates_imports_the_file_again(workspace, tmp_path):
    source = write(tmp_path / "orders.csv", ORDERS + "O1,C1,2024-01-05,,A,1,9.90,,,\nO2,C1,1985-06-01,,A,1,9.90,,,\n")
    assert workspace.data.import_file("orders", source).rows_accepted == 1
    assert workspace.data.import_file("orders", source).skipped_as_duplicate_of == 1
    wider = ImportSettings(earliest_date=date(1980, 1, 1))
    again = workspace.data.import_file("orders", source, settings=wider)
    assert (again.skipped_as_duplicate_of, again.rows_accepted) == (None, 2)
    assert workspace.data.import_file("orders", source, settings=wider).skipped_as_duplicate_of == again.import_id


def test_import_settings_from_the_settings_file(tmp_path):
    path = write(tmp_path / "retainly.toml", '[import]\nearliest_date = "2005-03-01"\nlatest_days_ahead = 0\n')
    assert AnalysisSettings.load(path).imports == ImportSettings(date(2005, 3, 1), 0)
    write(path, "[import]\nearliest_date = 2005-03-01\n")  # a TOML date works too
    assert AnalysisSettings.load(path).imports == ImportSettings(date(2005, 3, 1), 1)
    assert AnalysisSettings.load(write(tmp_path / "empty.toml", "")).imports == ImportSettings(date(1990, 1, 1), 1)
    for text, message in [('earliest_date = "March 2005"', 'earliest_date = \'March 2005\': give a date like'),
                          ("latest_days_ahead = -1", "latest_days_ahead = -1: give a whole number of days"),
                          ("latest_day_ahead = 2", "has no setting latest_day_ahead")]:
        with pytest.raises(InputError, match=message):
            AnalysisSettings.load(write(path, f"[import]\n{text}\n"))


def test_the_import_uses_the_settings_file(tmp_path):
    from retainly import Workspace

    write(tmp_path / "retainly.toml", "[import]\nearliest_date = 2024-01-06\n")
    source = write(tmp_path / "orders.csv", ORDERS + "O1,C1,2024-01-05,,A,1,9.90,,,\nO2,C1,2024-01-06,,A,1,9.90,,,\n")
    with Workspace.open(f"duckdb:///{tmp_path}/s.duckdb", settings=tmp_path / "retainly.toml") as ws:
        result = ws.data.import_file("orders", source)
    assert (result.rows_accepted, list(reasons(result))) == (1, [2])


# -- item 7: what the store can hold, the same on both engines ------------------------------

def test_the_largest_values_the_store_holds_go_in_and_one_more_is_rejected(workspace, tmp_path):
    source = write(tmp_path / "orders.csv", ORDERS
                   + "O1,C1,2024-01-05,,A,1,99999999999999.9999,,,\n"
                   + "O2,C1,2024-01-05,,A,1,100000000000000,,,\n"
                   + "O3,C1,2024-01-05,,A,2147483647,1,,,\n"
                   + "O4,C1,2024-01-05,,A,2147483648,1,,,\n"
                   + "O5,C1,2024-01-05,,A,-2147483647,0,adjustment,,\n"
                   + "O6,C1,2024-01-05,2147483648,A,1,1,,,\n"
                   + "O7,C1,2024-01-05,,A,1000,99999999999.9999,,,\n"    # 99,999,999,999,999.9
                   + "O8,C1,2024-01-05,,A,1000,100000000000.0000,,,\n"   # 10^14
                   + f"{'x' * 255},C1,2024-01-05,,A,1,1,,,\n"
                   + f"{'y' * 256},C1,2024-01-05,,A,1,1,,,\n")
    result = workspace.data.import_file("orders", source)
    assert sorted(reasons(result)) == [3, 5, 7, 9, 11]
    assert reasons(result)[9] == ("quantity x price is more than the store can hold; amounts must be below "
                                  "100,000,000,000,000")
    assert workspace.store.fetchall("SELECT order_id, gross FROM orders ORDER BY 1") == [
        ("O1", Decimal("99999999999999.9999")), ("O3", Decimal("2147483647")), ("O5", Decimal("0")),
        ("O7", Decimal("99999999999999.9000")), ("x" * 255, Decimal("1"))]


def test_a_nul_byte_is_rejected_on_both_engines(workspace, tmp_path):
    source = write(tmp_path / "orders.csv", ORDERS.replace("kind,", "description,kind,")
                   + "O1,C1,2024-01-05,,A,1,1,Tea,,,\n"
                   + "O2,C1,2024-01-05,,A,1,1,T\x00ea,,,\n")
    result = workspace.data.import_file("orders", source)
    assert reasons(result) == {3: "contains a NUL byte (\\x00), which the store cannot hold; remove it"}
    # Recorded with the NUL written out, so that PostgreSQL can keep it too.
    assert workspace.store.fetchall("SELECT line, column_name, value FROM import_rejects") == [
        (3, "description", "T\\x00ea")]


def test_rates_and_floats_the_store_cannot_hold(workspace, tmp_path):
    source = write(tmp_path / "promotions.csv", "promotion_id,name,starts_on,ends_on,discount_rate\n"
                   "P1,A,2024-01-02,2024-01-31,0.2\nP2,B,2024-01-02,2024-01-31,1\nP3,C,2024-01-02,2024-01-31,nan\n"
                   "P4,D,2024-01-02,2024-01-31,inf\nP5,E,2024-01-02,2024-01-31,20\nP6,F,2024-01-02,2024-01-31,-0.1\n")
    result = workspace.data.import_file("promotions", source)
    assert sorted(reasons(result)) == [4, 5, 6, 7]
    assert workspace.store.fetchall("SELECT promotion_id, discount_rate FROM promotions ORDER BY 1") == [
        ("P1", Decimal("0.2000")), ("P2", Decimal("1.0000"))]


# -- item 16: a file imported as the wrong kind ---------------------------------------------

@pytest.fixture(scope="module")
def shop_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shop")
    files = write_generated_shop(40, 7, folder)
    return {path.stem: read_table(path) for path in files}


KINDS = ("orders", "customers", "products", "returns", "spend", "interactions", "events", "promotions")


@pytest.mark.parametrize("asked", KINDS)
def test_each_native_file_is_its_own_kind_and_no_other(shop_files, asked):
    assert sorted(shop_files) == sorted(KINDS)
    for holds, raw in shop_files.items():
        if holds == asked:
            refuse_other_kind(asked, raw)
            continue
        article = "an" if holds[0] in "aeiou" else "a"
        with pytest.raises(InputError, match=f"this looks like {article} {holds} file; did you mean "
                                             f"`retainly import {holds}`"):
            refuse_other_kind(asked, raw)


@pytest.mark.parametrize("fixture", ["cdnow_sample_tiny.csv", "online_retail_ii_tiny.csv", "shopify_orders.csv",
                                     "woocommerce_orders.csv"])
def test_preset_files_are_orders(fixture):
    raw = read_table(DATA / fixture)
    refuse_other_kind("orders", raw)
    for kind in KINDS[1:]:
        with pytest.raises(InputError, match="this looks like an orders file"):
            refuse_other_kind(kind, raw)


def test_an_orders_file_with_customer_columns_is_still_an_orders_file(tmp_path):
    raw = read_table(write(tmp_path / "o.csv", "order_id,customer_id,date,qty,price,name,email,phone,city,country,"
                                               "gender,birthday,email_consent,sms_consent\n"
                                               "O1,C1,2024-01-05,1,9.90,Ann,a@x,1,B,DE,f,1980-01-01,yes,no\n"))
    refuse_other_kind("orders", raw)


def test_a_named_preset_or_mapping_skips_the_check(workspace, tmp_path):
    source = write(tmp_path / "cd.csv", "customer_id,date,number_of_cds,dollar_value\n00001,19970101,1,11.77\n")
    with pytest.raises(InputError, match="this looks like an orders file"):
        workspace.data.import_file("customers", source)
    assert workspace.data.import_file("customers", source, preset="retainly").rows_accepted == 1
    assert pd.DataFrame(workspace.store.fetchall("SELECT external_id FROM customers")).iloc[0, 0] == "00001"


def test_a_products_page_and_picture_must_be_web_addresses(workspace, tmp_path):
    """What a message links to or shows: http(s) with a host; ``javascript:`` or a bare path is
    refused with its line and column, and a later import without them keeps the ones stored."""
    products = write(tmp_path / "products.csv", "sku,name,price,url,image\n"
                     "A,Mug,9.90,https://shop.example/mug, https://cdn.example/mug.jpg \n"
                     "B,Cup,4.50,javascript:alert(1),\n"
                     "C,Pot,19.00,/products/pot,https://cdn.example/pot.jpg\n")
    result = workspace.data.import_file("products", products)
    assert reasons(result) == {3: "not a web address; give it as https://host/path",
                               4: "not a web address; give it as https://host/path"}
    assert result.rejects["column"].tolist() == ["url", "url"]
    assert result.rejects["value"].tolist() == ["javascript:alert(1)", "/products/pot"]
    names = write(tmp_path / "names.csv", "sku,name\nA,Big mug\n")
    assert workspace.data.import_file("products", names).rows_accepted == 1
    assert workspace.store.fetchall("SELECT sku, name, url, image_url FROM products") == [
        ("A", "Big mug", "https://shop.example/mug", "https://cdn.example/mug.jpg")]
