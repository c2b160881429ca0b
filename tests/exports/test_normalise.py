"""Each platform's normalisation of emails, phones, names, countries and zips, and the hashes.

Expected values come from the platforms' documented examples (quoted in ../shared/ACTIONS.md),
from published hash test vectors, or are worked out by hand from the rules; each test says which."""

import hashlib

import phonenumbers
import pyarrow as pa
import pytest

from retainly.errors import InputError
from retainly.exports.normalise import (
    Name,
    hash_column,
    md5_hex,
    normalise_countries,
    normalise_email,
    normalise_emails,
    normalise_phone,
    normalise_phones,
    normalise_zips,
    sha256_hex,
    split_name,
)


@pytest.mark.parametrize(("given", "expected"), [
    ("cloudy.sanfrancisco+shopping@gmail.com", "cloudysanfrancisco@gmail.com"),  # Google's documented pair
    ("user.name+NYC@Example.com", "user.name+nyc@example.com"),  # Google's documented pair: not gmail, dots kept
    ("  Jane.Doe+news@GoogleMail.com ", "janedoe@googlemail.com"),  # by hand: trimmed, lowercased, gmail rule
    ("john smith@example.com", "johnsmith@example.com"),  # by hand: Google removes inner spaces
])
def test_google_emails_follow_the_documented_pairs(given, expected):
    assert normalise_email(given, "google") == expected


@pytest.mark.parametrize("platform", ["meta", "vk", "mailchimp", "unisender"])
def test_other_platforms_only_trim_and_lowercase_emails(platform):
    # By hand from the rule "trim, lowercase": the gmail dots and +tag stay.
    assert normalise_email(" Cloudy.SanFrancisco+Shopping@Gmail.com\t", platform) == \
        "cloudy.sanfrancisco+shopping@gmail.com"


@pytest.mark.parametrize("given", [None, "", "   ", "no-at-sign", "a@b@c.com", "@example.com", "someone@"])
def test_empty_or_invalid_emails_normalise_to_none(given):
    assert normalise_email(given, "meta") is None
    assert normalise_email(given, "google") is None


def test_a_gmail_address_with_nothing_before_its_tag_is_invalid_for_google():
    # By hand: dropping "+shopping" leaves an empty local part.
    assert normalise_email("+shopping@gmail.com", "google") is None


def test_emails_keep_their_rows_in_a_chunked_column():
    column = pa.chunked_array([["A@X.com", None], ["b@y.org "]])
    assert normalise_emails(column, "meta").to_pylist() == ["a@x.com", None, "b@y.org"]


def test_us_phone_to_e164_with_and_without_plus():
    # Google's documented pair: (800)555-0100 -> +18005550100; Meta and VK drop the "+".
    assert normalise_phone("(800)555-0100", "google", "US") == ("+18005550100", None)
    assert normalise_phone("(800)555-0100", "meta", "US").value == "18005550100"
    assert normalise_phone("(800)555-0100", "vk", "us").value == "18005550100"


def test_uk_mobile_for_meta_is_digits_with_country_code():
    # By hand: +44 7400 123456 is a UK mobile (the phone library's own example); Meta wants 447400123456.
    assert normalise_phone("+44 7400 123456", "meta", "US") == ("447400123456", None)
    # A national number is read in the default country: the trunk 0 goes, 44 comes in front.
    assert normalise_phone("07400 123456", "meta", "GB") == ("447400123456", None)
    assert normalise_phone("07400 123456", "google", "GB") == ("+447400123456", None)


def test_a_number_in_no_assigned_range_is_refused_with_a_reason():
    # +44 7700 900123 has the right length but lies in Ofcom's range kept for drama: never a real phone.
    value, reason = normalise_phone("+447700900123", "meta", "GB")
    assert value is None
    assert "'+447700900123'" in reason and "numbering plan" in reason


@pytest.mark.parametrize(("given", "words"), [
    ("abc", "is not a phone number"),
    ("12", "is too short"),
    ("+999 123 456 789", "country code that does not exist"),
])
def test_a_phone_that_cannot_be_normalised_gives_none_and_a_reason(given, words):
    value, reason = normalise_phone(given, "google", "US")
    assert value is None
    assert repr(given) in reason and words in reason and "US" in reason


@pytest.mark.parametrize("given", [None, "", "   "])
def test_a_missing_phone_is_none_without_a_reason(given):
    assert normalise_phone(given, "google", "US") == (None, None)


def test_phones_are_parsed_once_per_distinct_value(monkeypatch):
    calls = []
    parse = phonenumbers.parse
    monkeypatch.setattr(phonenumbers, "parse", lambda *args: calls.append(args) or parse(*args))
    phones, reasons = normalise_phones(pa.array(["(800)555-0100", "abc", None] * 1000), "google", "US")
    assert sorted(call[0] for call in calls) == ["(800)555-0100", "abc"]
    assert phones.to_pylist() == ["+18005550100", None, None] * 1000
    assert reasons.null_count == 2000 and reasons[1].as_py().startswith("'abc'")


@pytest.mark.parametrize("country", ["", "XX", "USA", None])
def test_an_unknown_default_country_is_refused(country):
    with pytest.raises(InputError, match="default_country") as error:
        normalise_phone("(800)555-0100", "google", country)
    assert error.value.parameter == "default_country"


def test_an_unknown_platform_is_refused():
    with pytest.raises(InputError, match="'tiktok'.*google, meta, vk, mailchimp, unisender"):
        normalise_email("a@b.com", "tiktok")


@pytest.mark.parametrize(("name", "platform", "expected"), [
    ("Dr. John Smith", "google", ("john", "smith")),  # Google: titles dropped, lowercase
    ("  MRS   Jane  van der Berg ", "google", ("jane", "van der berg")),  # first word / the rest, trimmed
    ("Prof Dr Ada Lovelace", "google", ("ada", "lovelace")),  # every leading title
    ("Анна Иванова", "meta", ("анна", "иванова")),  # Cyrillic survives for Meta (its SDK would empty it)
    ("Mary-Jane O'Brien", "meta", ("maryjane", "obrien")),  # Meta: punctuation removed
    ("José Núñez de Balboa", "meta", ("josé", "núñezdebalboa")),  # accents kept; Meta's rule has no spaces
    ("Mr. John Smith", "mailchimp", ("John", "Smith")),  # greetings keep the case as written
    ("Cher", "google", ("cher", None)),
    ("Dr.", "google", (None, None)),
    (None, "meta", (None, None)),
])
def test_names_split_into_first_and_last(name, platform, expected):
    assert split_name(name, platform) == Name(*expected)


def test_meta_names_are_composed_utf8():
    # By hand: "e" + combining acute is the one letter U+00E9 once composed (NFC), as typed on most keyboards.
    assert split_name("Jose\u0301 Smith", "meta").first == "jos\u00e9"


def test_countries_are_iso2_upper_for_google_and_lower_for_meta():
    given = pa.array(["us", " GB ", "uk", "USA", None, ""])
    assert normalise_countries(given, "google").to_pylist() == ["US", "GB", "GB", None, None, None]
    assert normalise_countries(given, "meta").to_pylist() == ["us", "gb", "gb", None, None, None]


def test_zips_as_given_for_google_and_compact_lowercase_for_meta():
    given = pa.array([" SW1A 1AA ", "12345-6789", "", None])
    assert normalise_zips(given, "google").to_pylist() == ["SW1A 1AA", "12345-6789", None, None]
    # Meta's rules: lowercase, no spaces, US ZIP+4 cut to its first five digits.
    assert normalise_zips(given, "meta").to_pylist() == ["sw1a1aa", "12345", None, None]


def test_sha256_and_md5_match_published_vectors():
    # FIPS 180-2 (SHA-256) and RFC 1321 (MD5) test vectors for "abc".
    assert sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert md5_hex("abc") == "900150983cd24fb0d6963f7d28e17f72"


def test_hashes_of_utf8_text_match_hashlib():
    # The expected digest is computed independently here with hashlib over the UTF-8 bytes.
    assert sha256_hex("анна") == hashlib.sha256("анна".encode("utf-8")).hexdigest()
    hashed = hash_column(pa.array(["cloudysanfrancisco@gmail.com", None, "cloudysanfrancisco@gmail.com"]))
    expected = hashlib.sha256(b"cloudysanfrancisco@gmail.com").hexdigest()
    assert hashed.to_pylist() == [expected, None, expected]
    assert hash_column(pa.array(["abc"]), "md5").to_pylist() == [hashlib.md5(b"abc").hexdigest()]

