"""Each platform's normalisation of a customer's identifiers, and the hashes it matches on.

A hashed identifier matches only if the shop and the platform normalised it the same way, so
each platform's rules are followed to the letter (../shared/ACTIONS.md, "Audience exports"):

    email    Google: trim, lowercase, no inner spaces; gmail.com/googlemail.com only: no "." and
             no "+tag" in the local part. Meta, VK, Mailchimp, Unisender: trim, lowercase.
    phone    E.164 in the shop's default country; Google, Mailchimp, Unisender keep the "+",
             Meta and VK want the digits only.
    names    first word / the rest of the one ``name`` column, leading titles dropped. Google:
             lowercase, trimmed. Meta: lowercase letters only, non-ASCII letters kept (Meta's
             SDK strips them, against its own docs: Cyrillic names would vanish). Mailchimp,
             Unisender, VK: as written, for greetings.
    country  ISO-2: upper-case for Google (sent in clear), lower-case for Meta (hashed).
    zip      Google: trimmed, in clear. Meta: lowercase, no spaces, ZIP+4 cut to 5 digits.

Audiences reach a million customers, so columns are Arrow arrays: emails, countries and zips
go through pyarrow.compute; phones, names and hashes are computed in Python once per distinct
value and taken back to the rows.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import NamedTuple

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from retainly.errors import InputError

PLATFORMS = ("google", "meta", "vk", "mailchimp", "unisender")
DIGITS_ONLY = frozenset({"meta", "vk"})  # phones without the "+"
GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "madam", "rev", "lord", "lady"})
COUNTRY_ALIASES = {"UK": "GB"}  # the common slip; ISO 3166 and both platforms say GB

_EMAIL = r"^(?P<local>[^@]+)@(?P<domain>[^@]+)$"  # exactly one "@", something on each side
_NOT_A_NUMBER = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "has a country code that does not exist",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "is not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "is too short after its international prefix",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "is too short to be a phone number",
    phonenumbers.NumberParseException.TOO_LONG: "is too long to be a phone number",
}
_NOT_POSSIBLE = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "has a country code that does not exist",
    phonenumbers.ValidationResult.TOO_SHORT: "is too short",
    phonenumbers.ValidationResult.TOO_LONG: "is too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "has the wrong number of digits",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "lacks its area code",
}


class PhoneResult(NamedTuple):
    """A normalised phone, or None and why (the customer is exported without it)."""

    value: str | None
    reason: str | None = None


class Name(NamedTuple):
    first: str | None
    last: str | None


def check_platform(platform: str) -> str:
    if platform not in PLATFORMS:
        raise InputError(f"`platform` {platform!r} is not one retainly exports to; use one of {', '.join(PLATFORMS)}",
                         parameter="platform")
    return platform


def check_country(default_country: str) -> str:
    """The shop's default country as an ISO-2 code the phone library knows (``"us"`` -> ``"US"``)."""
    region = str(default_country or "").strip().upper()
    region = COUNTRY_ALIASES.get(region, region)
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InputError(f"`default_country` {default_country!r} is not an ISO 3166 two-letter country code; "
                         "give the shop's country, for example US, GB or RU", parameter="default_country")
    return region


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def hash_column(values, algorithm: str = "sha256") -> pa.Array:
    """The hex digest of each value (nulls stay null), each distinct value hashed once."""
    digest = {"sha256": sha256_hex, "md5": md5_hex}[algorithm]
    return _per_distinct(_strings(values), lambda text: digest(text))


def normalise_emails(values, platform: str) -> pa.Array:
    """Each email as ``platform`` matches it; null where empty or not one ``local@domain``."""
    check_platform(platform)
    text = pc.utf8_lower(pc.utf8_trim_whitespace(_strings(values)))
    if platform == "google":
        text = pc.replace_substring_regex(text, r"\s+", "")
    parts = pc.extract_regex(text, _EMAIL)
    valid = pc.is_valid(parts)
    local, domain = pc.struct_field(parts, "local"), pc.struct_field(parts, "domain")
    if platform == "google":
        gmail = pc.is_in(domain, value_set=pa.array(GMAIL_DOMAINS))
        bare = pc.replace_substring(pc.replace_substring_regex(local, r"\+.*$", ""), ".", "")
        local = pc.if_else(gmail, bare, local)
        valid = pc.and_(valid, pc.greater(pc.utf8_length(local), 0))  # "+tag@gmail.com" leaves no one
    return pc.if_else(valid, pc.binary_join_element_wise(local, domain, "@"), pa.scalar(None, pa.string()))


def normalise_email(email: str | None, platform: str) -> str | None:
    return normalise_emails([email], platform)[0].as_py()


def normalise_phones(values, platform: str, default_country: str) -> tuple[pa.Array, pa.Array]:
    """Each phone as ``platform`` matches it, and beside it why a phone given could not be used.

    A missing phone is null with no reason; an unreadable or invalid one is null with a reason.
    """
    check_platform(platform)
    region = check_country(default_country)
    text = _blank_to_null(pc.utf8_trim_whitespace(_strings(values)))
    unique = pc.unique(text)
    results = [PhoneResult(None) if phone is None else _phone(phone, region) for phone in unique.to_pylist()]
    strip = platform in DIGITS_ONLY
    phones = pa.array([r.value[1:] if strip and r.value else r.value for r in results], pa.string())
    reasons = pa.array([r.reason for r in results], pa.string())
    where = pc.index_in(text, value_set=unique)
    return phones.take(where), reasons.take(where)


def normalise_phone(phone: str | None, platform: str, default_country: str) -> PhoneResult:
    phones, reasons = normalise_phones([phone], platform, default_country)
    return PhoneResult(phones[0].as_py(), reasons[0].as_py())


def _phone(text: str, region: str) -> PhoneResult:
    """``text`` in E.164 with its "+", read in ``region`` unless it carries its country code."""
    advice = f"give it with its country code (+...) if it is not a {region} number"
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        problem = _NOT_A_NUMBER.get(error.error_type, "cannot be read as a phone number")
        return PhoneResult(None, f"{text!r} {problem}; {advice}")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    read = f"{text!r}" if text == e164 else f"{text!r} (read as {e164})"
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible != phonenumbers.ValidationResult.IS_POSSIBLE:
        problem = _NOT_POSSIBLE.get(possible, "is not a possible phone number")
        return PhoneResult(None, f"{read} {problem}; {advice}")
    if not phonenumbers.is_valid_number(number):  # right length, but in no range the country assigns
        return PhoneResult(None, f"{read} is not a number in use in its country's numbering plan; "
                                 f"check its digits, or {advice}")
    return PhoneResult(e164)


def split_name(name: str | None, platform: str) -> Name:
    """First word and the rest of ``name``, leading titles dropped, written as ``platform`` wants them."""
    check_platform(platform)
    words = [] if name is None else name.split()
    while words and words[0].lower().rstrip(".") in TITLES:
        words = words[1:]
    if not words:
        return Name(None, None)
    first, last = words[0], " ".join(words[1:])
    if platform == "google":
        first, last = first.lower(), last.lower()
    elif platform == "meta":
        first, last = _letters(first), _letters(last)
    return Name(first or None, last or None)


def normalise_names(values, platform: str) -> tuple[pa.Array, pa.Array]:
    """First and last names of a column of full names (see ``split_name``), each distinct name split once."""
    check_platform(platform)
    text = _strings(values)
    unique = pc.unique(text)
    names = [split_name(name, platform) for name in unique.to_pylist()]
    where = pc.index_in(text, value_set=unique)
    first = pa.array([n.first for n in names], pa.string()).take(where)
    return first, pa.array([n.last for n in names], pa.string()).take(where)


def _letters(word: str) -> str:
    """Lowercase letters of any script (and their accents), nothing else: Meta's rule without its SDK's ASCII cut."""
    text = unicodedata.normalize("NFC", word.lower())
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LM")


def normalise_countries(values, platform: str) -> pa.Array:
    """ISO-2 codes, lower-case for Meta and upper-case elsewhere; null where not two letters."""
    check_platform(platform)
    text = pc.utf8_upper(pc.utf8_trim_whitespace(_strings(values)))
    for alias, code in COUNTRY_ALIASES.items():
        text = pc.if_else(pc.equal(text, alias), code, text)
    text = pc.if_else(pc.match_substring_regex(text, r"^[A-Z]{2}$"), text, pa.scalar(None, pa.string()))
    return pc.utf8_lower(text) if platform == "meta" else text


def normalise_zips(values, platform: str) -> pa.Array:
    """Postal codes: trimmed; for Meta lowercase without spaces, a US ZIP+4 cut to its 5 digits."""
    check_platform(platform)
    text = pc.utf8_trim_whitespace(_strings(values))
    if platform == "meta":
        text = pc.replace_substring_regex(pc.utf8_lower(text), r"\s+", "")
        text = pc.replace_substring_regex(text, r"^(\d{5})-\d{4}$", r"\1")
    return _blank_to_null(text)


def _strings(values) -> pa.Array:
    """``values`` (an Arrow array or chunked array, or a list) as one Arrow string array."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    elif not isinstance(values, pa.Array):
        values = pa.array(list(values), pa.string())
    return values if values.type == pa.string() else values.cast(pa.string())


def _blank_to_null(text: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(pc.utf8_length(text), 0), pa.scalar(None, pa.string()), text)


def _per_distinct(text: pa.Array, function) -> pa.Array:
    """``function`` of each non-null value, computed once per distinct value."""
    unique = pc.unique(text)
    results = pa.array([None if value is None else function(value) for value in unique.to_pylist()], pa.string())
    return results.take(pc.index_in(text, value_set=unique))
