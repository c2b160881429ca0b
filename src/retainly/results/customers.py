"""Customer 360: everything the store knows about one customer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from retainly.results.base import Result


@dataclass(frozen=True, kw_only=True)
class Profile(Result):
    customer_id: int
    external_id: str
    name: str | None
    email: str | None
    phone: str | None
    gender: str | None
    birthday: date | None
    country: str | None
    city: str | None
    acquisition_channel: str | None
    first_seen_at: datetime | None
    postal_code: str | None = None


@dataclass(frozen=True, kw_only=True)
class Consents(Result):
    email_consent: bool | None
    email_consent_at: datetime | None
    sms_consent: bool | None
    sms_consent_at: datetime | None
    ads_consent: bool | None = None  # consent covers advertising (ad platforms' audiences, docs/exports.md)
    ads_consent_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class CustomerKpis(Result):
    orders: int
    revenue: Decimal
    returns: Decimal
    net_revenue: Decimal
    aov: float | None
    first_order_at: datetime | None
    last_order_at: datetime | None
    days_since_last_order: int | None
    avg_days_between_orders: float | None


@dataclass(frozen=True, kw_only=True)
class RfmScores(Result):
    as_of: date
    recency_days: int
    frequency: int
    monetary: Decimal
    r_score: int
    f_score: int
    m_score: int
    segment: str
    bins: int


@dataclass(frozen=True, kw_only=True)
class Prediction(Result):
    as_of: date
    model: str
    order_chance: float | None  # calibrated chance to order within order_window_days: the figure to act on
    order_window_days: int | None
    p_alive: float | None
    expected_orders: float | None
    p_order: float | None
    expected_spend: float | None
    clv: float | None
    next_order_date: date | None
    confidence: str
    horizon_days: int


@dataclass(frozen=True, kw_only=True)
class BuyerTypeLabel(Result):
    type: str
    source: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class CustomerReorder(Result):
    sku: str
    name: str | None
    last_purchase: date
    due_date: date
    days_overdue: int


@dataclass(frozen=True, kw_only=True)
class Offer(Result):
    """A product worth offering (``sku``, ``name``), because the customer bought ``because_of``."""

    sku: str
    name: str | None
    confidence: float
    because_of: str
    because_of_name: str | None
    kind: str


@dataclass(frozen=True, kw_only=True)
class Standing(Result):
    """Stage, VIP flag, churn risk and signs, buyer type, reorders due and products to offer."""

    as_of: date
    stage: str
    vip: bool
    reason: str
    risk_score: float | None
    warning_signs: list[str]
    buyer_type: BuyerTypeLabel | None
    reorders_due: list[CustomerReorder]
    next_products: list[Offer]


@dataclass(frozen=True, kw_only=True)
class OrderLine(Result):
    line_no: int
    sku: str | None
    description: str | None
    quantity: int
    unit_price: Decimal | None
    discount: Decimal | None
    amount: Decimal
    kind: str


@dataclass(frozen=True, kw_only=True)
class Order(Result):
    order_id: str
    placed_at: datetime
    status: str
    channel: str | None
    promo_code: str | None
    currency: str | None
    gross: Decimal | None
    discount: Decimal | None
    shipping: Decimal | None
    tax: Decimal | None
    net: Decimal | None
    is_purchase: bool
    lines: list[OrderLine]


@dataclass(frozen=True, kw_only=True)
class CustomerMessage(Result):
    """A playbook's message to the customer, or a manager's task about them (channel ``task``): an
    outbox row (docs/playbooks.md), with the subject and text it says. ``status`` is the outbox's
    (queued, sending, sent, failed, unknown, suppressed, skipped) and ``reason`` why, where one is
    given; ``sent_at`` is when it was delivered (status sent), else null."""

    playbook: str
    step: int
    channel: str
    status: str
    reason: str | None
    subject: str | None
    text: str | None
    due_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class CustomerView(Result):
    """Profile, consents, KPIs, RFM, predictions, standing, orders, returns, contacts, and the
    playbooks' messages and tasks (newest first).

    Returns and contacts are the stored rows as they are (their columns are documented in
    docs/schema.md), so a new column reaches every shell without a change here.
    """

    customer: Profile
    consents: Consents
    kpis: CustomerKpis
    rfm: RfmScores | None
    predictions: Prediction | None
    lifecycle: Standing | None
    orders: list[Order]
    returns: list[dict]
    interactions: list[dict]
    messages: list[CustomerMessage]
    last_contact_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class CustomerMatch(Result):
    """A customer found by a search: the shop's id and how to reach them."""

    customer_id: str
    name: str | None
    email: str | None
    phone: str | None
    country: str | None


@dataclass(frozen=True, kw_only=True)
class CustomerSearch(Result):
    """A page of a search: how many customers match in all, and this page of them; ``as_of`` is the
    day the segments, stages and buyer types filtered by are of (null without those filters)."""

    total: int
    matches: list[CustomerMatch]
    as_of: date | None = None


@dataclass(frozen=True, kw_only=True)
class CustomerFilters(Result):
    """The values each filter of the customer search takes: RFM segments, lifecycle stages and buyer
    types (in their own order), and the saved audiences (by name)."""

    segments: list[str]
    stages: list[str]
    buyer_types: list[str]
    audiences: list[str]
