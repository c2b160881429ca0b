"""Who the customers are: identities, acquisition channels, consents, and marketing spend.

Names, e-mail addresses (under the reserved example.* domains) and phone numbers are
made up; e-mail addresses are unique because they carry the customer number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retainly.synth.arrays import (
    SECONDS_PER_DAY, choose, customer_refs, frame, id_strings, join, pick, text, timestamps,
)
from retainly.synth.timing import BUYER_TYPES

CHANNELS = ("organic", "paid_search", "social", "email", "referral", "marketplace")
# Acquisition channel mix per buyer type (rows follow BUYER_TYPES, columns CHANNELS):
# paid search and social bring the one-off buyers, referrals the loyal ones.
CHANNEL_MIX = np.array(
    [
        [0.25, 0.30, 0.20, 0.05, 0.05, 0.15],  # hit_and_run
        [0.15, 0.20, 0.20, 0.25, 0.05, 0.15],  # discount_only
        [0.35, 0.20, 0.10, 0.10, 0.18, 0.07],  # active
    ]
)
# Cost of acquiring one customer, EUR; channels without spend are absent.
CAC = {"paid_search": 38.0, "social": 26.0, "email": 6.0, "marketplace": 14.0}
SPEND_NOISE = 0.15  # log-normal sigma of a month's spend around CAC x customers acquired

# country, share, phone prefix, cities
COUNTRIES = (
    ("DE", 0.55, "+49", ("Berlin", "Hamburg", "Munich", "Cologne", "Frankfurt", "Stuttgart", "Leipzig", "Dresden")),
    ("AT", 0.12, "+43", ("Vienna", "Graz", "Linz", "Salzburg")),
    ("NL", 0.10, "+31", ("Amsterdam", "Rotterdam", "Utrecht", "The Hague")),
    ("FR", 0.08, "+33", ("Paris", "Lyon", "Marseille", "Lille")),
    ("BE", 0.06, "+32", ("Brussels", "Antwerp", "Ghent")),
    ("IT", 0.05, "+39", ("Milan", "Rome", "Turin")),
    ("ES", 0.04, "+34", ("Madrid", "Barcelona", "Valencia")),
)
FEMALE = ("Anna", "Maria", "Laura", "Julia", "Sophie", "Emma", "Lena", "Sarah", "Lisa", "Hannah",
          "Clara", "Marie", "Nina", "Eva", "Chloe", "Lucia", "Elena", "Sofia", "Mila", "Ines")
MALE = ("Lukas", "Jonas", "Paul", "Felix", "Leon", "Max", "David", "Thomas", "Jan", "Tim",
        "Noah", "Elias", "Luca", "Hugo", "Louis", "Marco", "Pablo", "Daan", "Sem", "Finn")
SURNAMES = ("Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
            "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz", "Braun", "Huber",
            "Gruber", "de Jong", "Jansen", "de Vries", "Bakker", "Martin", "Bernard", "Dubois",
            "Lambert", "Peeters", "Maes", "Rossi", "Russo", "Ferrari", "Garcia", "Martinez", "Lopez")
DOMAINS = ("example.com", "example.net", "example.org")
GENDERS = ("female", "male", "diverse")
GENDER_SHARE = (0.52, 0.45, 0.01)  # the remaining 2 % is unknown (null)
EMAIL_CONSENT = (0.50, 0.80, 0.70)  # share consenting per buyer type
SMS_CONSENT = 0.30  # share of customers with a phone number who consent to SMS
PHONE_SHARE = 0.7
BIRTHDAY_SHARE = 0.75


@dataclass
class Customers:
    """Per-customer draws made before the purchase process runs."""

    buyer_type: np.ndarray
    channel: np.ndarray
    country: np.ndarray
    acquired: np.ndarray  # first purchase, days since start


def draw_customers(rng, calendar, buyer_type: np.ndarray) -> Customers:
    n = len(buyer_type)
    channel = np.empty(n, dtype=np.int64)
    for code in range(len(BUYER_TYPES)):
        members = buyer_type == code
        channel[members] = choose(rng, CHANNEL_MIX[code], members.sum())
    return Customers(
        buyer_type=buyer_type,
        channel=channel,
        country=choose(rng, [c[1] for c in COUNTRIES], n),
        acquired=calendar.sample_acquisitions(rng, n),  # sorted: numbers follow acquisition
    )


def customers_frame(rng, start: date, end_seconds: int, people: Customers, first_seen: np.ndarray) -> pd.DataFrame:
    """The canonical ``customers`` entity; ``first_seen`` in seconds since start."""
    n = len(people.buyer_type)
    gender = choose(rng, GENDER_SHARE + (0.02,), n)
    female = (gender == 0) | ((gender >= 2) & (rng.random(n) < 0.5))  # diverse/unknown: either list
    first = np.where(female, choose(rng, np.ones(len(FEMALE)), n), len(FEMALE) + choose(rng, np.ones(len(MALE)), n))
    first_name = pick(FEMALE + MALE, first)
    surname = pick(SURNAMES, choose(rng, np.ones(len(SURNAMES)), n))
    mailbox = pc.utf8_lower(pc.replace_substring(join(first_name, surname, separator="."), " ", ""))
    email = join(mailbox, pc.cast(pa.array(np.arange(1, n + 1)), pa.large_string()), "@",
                 pick(DOMAINS, choose(rng, [0.6, 0.25, 0.15], n)))

    has_phone = rng.random(n) < PHONE_SHARE
    prefix = pick([c[2] for c in COUNTRIES], people.country)
    phone = join(prefix, " 15", id_strings("", rng.integers(0, 10**8, n), 8))
    phone = pc.if_else(pa.array(has_phone), phone, pa.nulls(n, pa.large_string()))

    city_offsets = np.cumsum([0] + [len(c[3]) for c in COUNTRIES])
    cities = tuple(city for c in COUNTRIES for city in c[3])
    sizes = np.diff(city_offsets)[people.country]
    # Earlier cities in each list are the bigger ones.
    city = city_offsets[people.country] + np.floor(sizes * rng.random(n) ** 1.6).astype(np.int64)

    age_days = (np.clip(rng.normal(41, 13, n), 18, 85) * 365.25).astype(np.int64)
    birthday = np.datetime64(start, "D") - age_days + people.acquired.astype(np.int64)
    no_birthday = rng.random(n) >= BIRTHDAY_SHARE

    email_consent = rng.random(n) < np.array(EMAIL_CONSENT)[people.buyer_type]
    sms_consent = has_phone & (rng.random(n) < SMS_CONSENT)
    # Made from the customer's number, not drawn: the random draws (and every figure pinned on
    # them) stay as they were before these columns existed.
    number = np.arange(n, dtype=np.int64)
    postal_code = ((number * 7919 + 1013) % 90000 + 10000).astype(str)
    ads_consent = email_consent & (number % 5 != 0)  # four in five of those who take email also take ads
    email_at = _consent_times(rng, first_seen, end_seconds, 0.2)  # drawn where the frame drew it before

    return frame(
        {
            "external_id": text(customer_refs(np.arange(n), n)),
            "name": text(join(first_name, surname, separator=" ")),
            "email": text(email),
            "phone": text(phone),
            "gender": text(pick(GENDERS, np.where(gender < 3, gender, -1))),
            "birthday": pd.Series(np.where(no_birthday, np.datetime64("NaT"), birthday).astype("datetime64[ns]")),
            "country": text(pick([c[0] for c in COUNTRIES], people.country)),
            "city": text(pick(cities, city)),
            "acquisition_channel": text(pick(CHANNELS, people.channel)),
            "first_seen_at": timestamps(start, first_seen),
            "email_consent": email_consent,
            "email_consent_at": timestamps(start, email_at, ~email_consent),
            "sms_consent": sms_consent,
            "sms_consent_at": timestamps(start, _consent_times(rng, first_seen, end_seconds, 0.3), ~sms_consent),
            "postal_code": pd.Series(postal_code, dtype="string"),
            "ads_consent": ads_consent,
            "ads_consent_at": timestamps(start, email_at, ~ads_consent),  # given with email consent, at sign-up
        }
    )


def _consent_times(rng, first_seen: np.ndarray, end_seconds: int, late_share: float) -> np.ndarray:
    """Most customers consent at sign-up, the others at some later visit (seconds since start)."""
    n = len(first_seen)
    later = first_seen + (rng.random(n) * (end_seconds - first_seen)).astype(np.int64)
    at_sign_up = first_seen + rng.integers(30, 600, n)
    return np.where(rng.random(n) < late_share, later, at_sign_up).clip(max=end_seconds - 1)


def spend_frame(rng, start: date, people: Customers, first_seen: np.ndarray) -> pd.DataFrame:
    """Monthly spend per paid channel: customers acquired that month x CAC x noise."""
    month_of = (np.datetime64(start, "D") + first_seen // SECONDS_PER_DAY).astype("datetime64[M]")
    first_month = month_of.min().astype(np.int64) if len(month_of) else 0
    month = month_of.astype(np.int64) - first_month
    months = int(month.max()) + 1 if len(month) else 0
    rows = []
    for code, name in enumerate(CHANNELS):
        if name not in CAC:
            continue
        acquired = np.bincount(month[people.channel == code], minlength=months)
        active = np.flatnonzero(acquired)
        amount = acquired[active] * CAC[name] * rng.lognormal(0.0, SPEND_NOISE, len(active))
        days = (np.datetime64(0, "M") + first_month + active).astype("datetime64[D]")
        rows.append(pd.DataFrame({"spend_date": days, "channel": name, "amount": np.round(amount, 2)}))
    frame = pd.concat(rows, ignore_index=True).sort_values(["spend_date", "channel"], ignore_index=True)
    return pd.DataFrame(
        {
            "spend_date": frame["spend_date"].astype("datetime64[ns]"),
            "channel": frame["channel"].astype("str"),
            "campaign": (frame["channel"] + "-" + frame["spend_date"].dt.strftime("%Y-%m")).astype("str"),
            "amount": frame["amount"].astype(float),
            "currency": pd.Series(["EUR"] * len(frame), dtype="str"),
        }
    )
