"""Each platform's files and API bodies, the audience minimums, match keys and the generic files.

Headers, limits and minimums are the platforms' documented ones (../shared/ACTIONS.md); hashes
are recomputed here with hashlib from values normalised by hand; counts are worked out by hand."""

import csv
import hashlib
import json
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retainly.errors import InputError
from retainly.exports.formats import (
    COLUMNS,
    MINIMUM_SIZE,
    MatchKeys,
    PhoneProblem,
    check_audience_size,
    match_keys,
    prepare,
    write_fields,
)
from retainly.exports.platforms import (
    mailchimp_batch,
    mailchimp_members,
    meta_payloads,
    meta_rows,
    unisender_imports,
    vk_ids,
    write_google_csv,
    write_mailchimp_csv,
    write_meta_csv,
    write_vk_csv,
)


def sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def md5(text):
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def customers(**columns) -> pa.Table:
    """A customers table; columns not given are null."""
    rows = len(next(iter(columns.values())))
    types = {"birthday": pa.date32()}
    return pa.table({name: pa.array(columns.get(name, [None] * rows), types.get(name, pa.string()))
                     for name in COLUMNS})


def many(count: int) -> pa.Table:
    return customers(customer=[f"c{i}" for i in range(count)], email=[f"user{i}@example.com" for i in range(count)])


SHOP = customers(
    customer=["c1", "c2", "c3", "c4"],
    name=["Dr. Анна Иванова", "John Smith", "Ann Lee", None],
    email=["Anna@Example.COM ", "cloudy.sanfrancisco+shopping@gmail.com", None, None],
    phone=["abc", "(800)555-0100", "+1 800 555 0100", None],
    country=["ru", "US", "us", None],
    zip=[None, "94103", "10001 ", None],
    birthday=[date(1990, 3, 7), None, None, None],
)


def read(path):
    with open(path, encoding="utf-8", newline="") as file:
        return list(csv.reader(file))


def test_a_phone_that_cannot_be_normalised_is_reported_and_the_customer_exported_without_it(tmp_path):
    prepared = prepare(SHOP, "google", "US")
    assert len(prepared.problems) == 1
    assert prepared.problems[0][:2] == ("c1", "abc") and isinstance(prepared.problems[0], PhoneProblem)
    assert write_google_csv(prepared, tmp_path / "google.csv") == 3  # c4 has nothing to match on
    rows = read(tmp_path / "google.csv")
    assert rows[1] == [sha("anna@example.com"), "", sha("анна"), sha("иванова"), "RU", ""]


def test_google_csv_header_hashes_and_clear_country_and_zip(tmp_path):
    write_google_csv(prepare(SHOP, "google", "US"), tmp_path / "google.csv")
    rows = read(tmp_path / "google.csv")
    assert rows[0] == ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]  # Google's template, exactly
    # Google's documented pairs, then SHA-256 computed here with hashlib.
    assert rows[2] == [sha("cloudysanfrancisco@gmail.com"), sha("+18005550100"), sha("john"), sha("smith"), "US",
                       "94103"]
    assert rows[3] == ["", sha("+18005550100"), sha("ann"), sha("lee"), "US", "10001"]
    (tmp_path / "google.csv").read_bytes().decode("utf-8")  # UTF-8, or this raises


def test_meta_payload_is_hashed_in_schema_order_with_cyrillic_names():
    [payload] = meta_payloads(prepare(SHOP, "meta", "US"))
    assert payload["schema"] == ["EMAIL", "PHONE", "FN", "LN", "COUNTRY", "ZIP"]
    # By hand: Meta keeps "анна" (its SDK would strip it to ""); everything, country and zip too, is hashed.
    assert payload["data"][0] == [sha("anna@example.com"), "", sha("анна"), sha("иванова"), sha("ru"), ""]
    assert payload["data"][1][:2] == [sha("cloudy.sanfrancisco+shopping@gmail.com"), sha("18005550100")]
    assert payload["data"][1][4:] == [sha("us"), sha("94103")]
    json.dumps(payload)  # ready for JSON


def test_meta_calls_hold_at_most_ten_thousand_rows():
    payloads = meta_payloads(prepare(many(10_001), "meta", "US"))
    assert [len(payload["data"]) for payload in payloads] == [10_000, 1]
    assert payloads[1]["data"][0][0] == sha("user10000@example.com")


def test_meta_csv_holds_the_payloads_rows(tmp_path):
    prepared = prepare(SHOP, "meta", "US")
    assert write_meta_csv(prepared, tmp_path / "meta.csv") == 3
    rows = read(tmp_path / "meta.csv")
    assert rows[0] == ["email", "phone", "fn", "ln", "country", "zip"]
    assert rows[1:] == meta_rows(prepared)


def test_vk_files_hold_one_identifier_a_line(tmp_path):
    prepared = prepare(SHOP, "vk", "US")
    assert write_vk_csv(prepared, tmp_path / "vk.csv", "phone") == 1  # c2 and c3 share one number
    assert (tmp_path / "vk.csv").read_text(encoding="utf-8").splitlines() == ["id", "18005550100"]
    write_vk_csv(prepared, tmp_path / "vk_md5.csv", "email_md5")
    assert read(tmp_path / "vk_md5.csv") == [["id"], [md5("anna@example.com")],
                                             [md5("cloudy.sanfrancisco+shopping@gmail.com")]]
    with pytest.raises(InputError, match="'vk_id'.*email, phone, email_md5, phone_md5"):
        vk_ids(prepared, "vk_id")


def test_an_audience_prepared_for_one_platform_is_refused_by_another():
    with pytest.raises(InputError, match="prepared for google, not vk"):
        vk_ids(prepare(SHOP, "google", "US"), "email")


def test_mailchimp_members_are_keyed_by_md5_of_the_lowercased_email():
    [[anna, john]] = mailchimp_members(prepare(SHOP, "mailchimp", "US"), ["vip"])
    # Mailchimp's subscriber hash: MD5 of the lowercased address, computed here with hashlib.
    assert anna == {"subscriber_hash": md5("anna@example.com"), "email_address": "anna@example.com",
                    "status_if_new": "subscribed", "tags": ["vip"],
                    "merge_fields": {"FNAME": "Анна", "LNAME": "Иванова", "BIRTHDAY": "03/07"}}
    assert john["merge_fields"] == {"FNAME": "John", "LNAME": "Smith", "PHONE": "+18005550100"}


def test_mailchimp_never_sends_a_status_that_resubscribes():
    [members] = mailchimp_members(prepare(SHOP, "mailchimp", "US"), ["vip"], status_if_new="pending")
    operations = mailchimp_batch("a1b2c3", members)["operations"]
    assert [op["method"] for op in operations] == ["PUT", "POST", "PUT", "POST"]
    assert operations[0]["path"] == f"/lists/a1b2c3/members/{md5('anna@example.com')}"
    bodies = [json.loads(op["body"]) for op in operations]
    assert all("status" not in body for body in bodies)
    assert bodies[0]["status_if_new"] == "pending" and bodies[1] == {"tags": [{"name": "vip", "status": "active"}]}
    with pytest.raises(InputError, match="status_if_new"):
        mailchimp_members(prepare(SHOP, "mailchimp", "US"), status_if_new="unsubscribed")


def test_mailchimp_batches_hold_at_most_500_members():
    batches = mailchimp_members(prepare(many(501), "mailchimp", "US"))
    assert [len(batch) for batch in batches] == [500, 1]
    assert batches[1][0]["email_address"] == "user500@example.com"


def test_mailchimp_csv_labels_birthday_and_tags(tmp_path):
    assert write_mailchimp_csv(prepare(SHOP, "mailchimp", "US"), tmp_path / "mc.csv", ["vip", "spring sale"]) == 2
    rows = read(tmp_path / "mc.csv")
    assert rows[0] == ["Email Address", "First Name", "Last Name", "Phone Number", "Birthday", "Tags"]
    assert rows[1] == ["anna@example.com", "Анна", "Иванова", "", "03/07", "vip,spring sale"]  # MM/DD, one cell
    with pytest.raises(InputError, match="'a,b'"):
        write_mailchimp_csv(prepare(SHOP, "mailchimp", "US"), tmp_path / "bad.csv", ["a,b"])


def test_unisender_calls_hold_at_most_500_rows_with_an_email_or_a_phone():
    [call] = unisender_imports(prepare(SHOP, "unisender", "US"), [12, 34], ["vip"])
    assert call["field_names"] == ["email", "phone", "Name", "email_list_ids", "tags"]
    assert call["data"] == [["anna@example.com", "", "Анна Иванова", "12,34", "vip"],
                            ["cloudy.sanfrancisco+shopping@gmail.com", "+18005550100", "John Smith", "12,34", "vip"],
                            ["", "+18005550100", "Ann Lee", "12,34", "vip"]]  # c4: neither, left out
    assert [len(c["data"]) for c in unisender_imports(prepare(many(1001), "unisender", "US"))] == [500, 500, 1]
    with pytest.raises(InputError, match="list_ids"):
        unisender_imports(prepare(SHOP, "unisender", "US"), ["12"])


def test_minimum_sizes_are_the_documented_ones():
    assert MINIMUM_SIZE == {"google": 1000, "meta": 100, "vk": 2000, "mailchimp": 1, "unisender": 1}
    check_audience_size("vk", 2000)


@pytest.mark.parametrize(("platform", "size", "words"), [
    ("vk", 1999, ("vk", "1,999", "2,000")),
    ("meta", 99, ("meta", "99", "100")),
    ("mailchimp", 0, ("mailchimp", "0", "1")),
])
def test_a_too_small_audience_is_refused_naming_platform_size_and_minimum(platform, size, words):
    with pytest.raises(InputError) as error:
        check_audience_size(platform, size)
    message = str(error.value)
    assert all(word in message for word in words), message


def test_match_keys_count_each_identifier():
    # By hand from SHOP: emails c1 c2; phones c2 c3 (c1's is unreadable); names c1-c3; addresses c2 c3.
    assert match_keys(prepare(SHOP, "google", "US")) == MatchKeys(rows=4, email=2, phone=2, name=3, address=2,
                                                                  usable=3)
    assert match_keys(prepare(SHOP, "mailchimp", "US")).usable == 2  # Mailchimp needs the email


def test_generic_files_with_chosen_fields(tmp_path):
    assert write_fields(SHOP, tmp_path / "out.csv", ["email", "customer"]) == 4
    assert read(tmp_path / "out.csv")[:2] == [["email", "customer"], ["Anna@Example.COM ", "c1"]]  # as stored
    write_fields(SHOP, tmp_path / "out.parquet", ["customer", "birthday"], "parquet")
    assert pq.read_table(tmp_path / "out.parquet").to_pydict()["birthday"][0] == date(1990, 3, 7)


def test_an_unknown_field_is_refused_naming_it_and_the_known_ones(tmp_path):
    with pytest.raises(InputError, match="'mobile'.*customer, name, email, phone, country, zip, birthday"):
        write_fields(SHOP, tmp_path / "out.csv", ["customer", "mobile"])
    with pytest.raises(InputError, match="file_format"):
        write_fields(SHOP, tmp_path / "out.xlsx", ["customer"], "xlsx")
    with pytest.raises(InputError, match="does not exist"):
        write_fields(SHOP, tmp_path / "missing" / "out.csv", ["customer"])


def test_a_table_without_the_export_columns_is_refused():
    with pytest.raises(InputError, match="lack the column.*zip, birthday"):
        prepare(SHOP.drop_columns(["zip", "birthday"]), "google", "US")


def test_no_csv_cell_runs_as_a_formula_when_the_shop_opens_the_file(tmp_path):
    # A name written as a formula gets a leading apostrophe; an E.164 phone is a plain number and stays, while
    # a phone as written with spaces ("+1 800 ...") is text a spreadsheet would read as a formula.
    shop = customers(customer=["c1"], name=["=cmd|' /C calc'!A0 Smith"], email=["a@example.com"],
                     phone=["+1 800 555 0100"])
    write_mailchimp_csv(prepare(shop, "mailchimp", "US"), tmp_path / "mailchimp.csv")
    assert read(tmp_path / "mailchimp.csv")[1][:4] == ["a@example.com", "'=cmd|'", "/C calc'!A0 Smith",
                                                       "+18005550100"]
    write_fields(shop, tmp_path / "fields.csv", ["name", "phone"])
    assert read(tmp_path / "fields.csv")[1] == ["'=cmd|' /C calc'!A0 Smith", "'+1 800 555 0100"]
