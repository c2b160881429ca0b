"""The catalog of customer fields a rule may name (each with its type, group and a line of help),
and how the simple ones are computed in the engine: ``SOURCES`` (per-customer tables) and
``SIMPLE`` (a field's value from them); fields with arguments are in
retainly.audiences.parameterised.

Every field is computed in the engine as of a date D (retainly.audiences.compile): "now" is
the end of D, and only orders, returns, events and contacts up to then count. Derived fields
(RFM, predictions, lifecycle, buyer type, reorders, offers) are read from the tables stored
for exactly D; a customer without a row there has a null field, and a condition on a null
field is false (its ``not`` true).

Parameterised fields take arguments (``bought(category="Baby 0-2", within_days=90)``); a
``within_days`` window is the N days up to now, the as-of day included.

Open tasks (issue 13's "open task") are not in the catalog: tasks arrive with issue 16.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import ibis
from ibis.expr.types import Table

from retainly.audiences.tree import FieldSpec, Param
from retainly.features.model_summary import end_of
from retainly.features.orders import EARLIEST
from retainly.segments.warning_signs import WEIGHTS
from retainly.store.backends import Store

GROUPS = ("profile", "orders", "rfm", "predictions", "lifecycle", "buyer type", "reorders", "offers", "site",
          "interactions", "messaging", "attributes")

# Churn warning signs (retainly.segments.warning_signs), one boolean field each: sign_<id>.
SIGN_HELP = {
    "overdue": "a repeat buyer whose time since the last order is well past their own rhythm",
    "slowing_down": "with 4+ purchase days, the last gap is much longer than the gaps before",
    "spending_less": "with 4+ purchase days, the last two orders averaged much less than before",
    "recent_returns": "returned something recently",
    "complaints": "a complaint, or a negative or unresolved contact, recently",
    "no_visits": "visited the site before, but not recently",
    "fading": "P(alive) fell sharply over the last weeks",
}
SIGN_FIELDS = {f"sign_{sign}": sign for sign in WEIGHTS}


def _sku_or_category(what: str) -> tuple[Param, ...]:
    return (Param("sku", "text", f"the product's code (give sku or category){what}"),
            Param("category", "text", f"the product category, as in products.category (give sku or category){what}"))


_WITHIN_DAYS = Param("within_days", "number", "only the last N days up to the as-of day (included); ever without it")

_FIELDS = (
    # -- profile (the customers table) -------------------------------------------------------------
    FieldSpec("country", "text", "profile", "country (from the customer file, else the last order)"),
    FieldSpec("city", "text", "profile", "city"),
    FieldSpec("postal_code", "text", "profile", "the address's postal code"),
    FieldSpec("gender", "text", "profile", "gender, as the shop records it"),
    FieldSpec("age", "number", "profile", "age in whole years on the as-of day (from birthday)"),
    FieldSpec("birthday", "date", "profile", "date of birth"),
    FieldSpec("days_to_birthday", "number", "profile",
              "days until the next birthday, 0 on the day (a 29 February birthday falls on 28 February "
              "in other years)"),
    FieldSpec("acquisition_channel", "text", "profile", "the marketing channel that brought the customer, as recorded"),
    FieldSpec("first_seen_at", "date", "profile", "first contact: the earlier of the recorded one and the first order"),
    FieldSpec("email_consent", "boolean", "profile", "may receive marketing email (as imported; see suppressed)"),
    FieldSpec("sms_consent", "boolean", "profile", "may receive marketing SMS (as imported; see suppressed)"),
    FieldSpec("ads_consent", "boolean", "profile",
              "consent covers advertising: may be in ad platforms' audiences (as imported; see suppressed)"),
    FieldSpec("has_email", "boolean", "profile", "an email address is on file"),
    FieldSpec("has_phone", "boolean", "profile", "a phone number is on file"),
    FieldSpec("email", "text", "profile", "email address"),
    FieldSpec("phone", "text", "profile", "phone number"),
    # -- orders (purchase orders up to the end of the as-of day) ------------------------------------
    FieldSpec("orders_count", "number", "orders", "purchase orders (0 for a customer who never bought)"),
    FieldSpec("first_order_at", "date", "orders", "when the first purchase order was placed"),
    FieldSpec("last_order_at", "date", "orders", "when the last purchase order was placed"),
    FieldSpec("days_since_last_order", "number", "orders", "days from the last purchase order's day to the as-of day"),
    FieldSpec("net_spend", "number", "orders", "revenue of purchase orders less everything returned (0 without any)"),
    FieldSpec("aov", "number", "orders", "average order value: revenue / purchase orders, gross of returns"),
    FieldSpec("discount_share", "number", "orders",
              "share (0-1) of purchase orders with a discount or a promo code"),
    FieldSpec("bought", "boolean", "orders", "bought the product (or one of the category), ever or within N days",
              (*_sku_or_category(""), _WITHIN_DAYS)),
    # -- rfm (rfm_scores of the as-of day) ---------------------------------------------------------
    FieldSpec("r_score", "number", "rfm", "recency score, 1 (longest ago) to the number of bins"),
    FieldSpec("f_score", "number", "rfm", "frequency score, 1 to the number of bins"),
    FieldSpec("m_score", "number", "rfm", "monetary score, 1 to the number of bins"),
    FieldSpec("rfm_segment", "text", "rfm", "the named RFM segment as `retainly segments` shows it (\"Champions\", \"At Risk\", ...)"),
    # -- predictions (customer_scores of the as-of day) ----------------------------------------------
    FieldSpec("order_chance", "number", "predictions", "calibrated chance (0-1) of ordering within the order window"),
    FieldSpec("p_alive", "number", "predictions", "probability (0-1) the customer is still a customer"),
    FieldSpec("expected_orders", "number", "predictions", "expected purchase days within the horizon"),
    FieldSpec("clv", "number", "predictions", "predicted customer lifetime value within the horizon, discounted"),
    FieldSpec("next_order_date", "date", "predictions",
              "the date by which the customer, if still a customer, has even odds of having bought again"),
    # -- lifecycle (lifecycle_stages, lifecycle_transitions, churn_signals of the as-of day) ----------
    FieldSpec("stage", "text", "lifecycle", "lifecycle stage: new, active, at_risk, lapsed, lost or won_back"),
    FieldSpec("days_in_stage", "number", "lifecycle",
              "days since the customer's last recorded change into the current stage (lifecycle_transitions), "
              "else since the first order"),
    FieldSpec("vip", "boolean", "lifecycle", "among the most valuable customers"),
    FieldSpec("risk_score", "number", "lifecycle", "churn risk (0-1) from the warning signs that apply"),
    *(FieldSpec(name, "boolean", "lifecycle", f"warning sign {sign}: {SIGN_HELP.get(sign, sign)}")
      for name, sign in SIGN_FIELDS.items()),
    # -- buyer type -------------------------------------------------------------------------------
    FieldSpec("buyer_type", "text", "buyer type", "hit_and_run, discount_only or active"),
    # -- reorders (reorders_due of the as-of day) ------------------------------------------------------
    FieldSpec("reorder_due", "boolean", "reorders",
              "a consumable the customer buys is due (due date on or before the as-of day, or within ahead_days)",
              (Param("sku", "text", "only this consumable"), Param("category", "text", "only consumables of this category"),
               Param("ahead_days", "number", "also count reorders due within the next N days"))),
    # -- offers (next_products of the as-of day) -------------------------------------------------------
    FieldSpec("next_product", "text", "offers", "the product code of the best offer (rank 1)"),
    FieldSpec("offered", "boolean", "offers", "has a product to offer (this one, when sku is given)",
              (Param("sku", "text", "only this product"),)),
    # -- site (site_events) -------------------------------------------------------------------------
    FieldSpec("last_visit_at", "date", "site", "when the customer last visited the site"),
    FieldSpec("viewed", "boolean", "site",
              "a site event (visit, add to cart, checkout) named the product or one of the category",
              (*_sku_or_category(""), _WITHIN_DAYS)),
    FieldSpec("event_count", "number", "site", "site events of a kind (visit, add_to_cart, checkout, ...)",
              (Param("kind", "text", "the event kind", required=True), _WITHIN_DAYS,
               Param("sku", "text", "only events naming this product"))),
    FieldSpec("cart_abandoned", "boolean", "site",
              "added to cart within the last N hours and placed no purchase order after it",
              (Param("within_hours", "number", "the last N hours up to the end of the as-of day", required=True),)),
    # -- interactions --------------------------------------------------------------------------------
    FieldSpec("last_contact_at", "date", "interactions", "when the last contact of any kind took place"),
    FieldSpec("last_feedback_score", "number", "interactions",
              "the score of the latest feedback whose outcome is a number (words such as 'positive' are skipped)"),
    # -- messaging -----------------------------------------------------------------------------------
    FieldSpec("suppressed", "boolean", "messaging",
              "suppressed (unsubscribed, bounced, complained, erased, manual) for the channel, or any channel",
              (Param("channel", "text", "email, sms, ads, ...; a suppression for 'all' covers every channel"),)),
    FieldSpec("messages_received", "number", "messaging", "messages sent to the customer (outbox, status sent)",
              (Param("channel", "text", "only this channel"), _WITHIN_DAYS)),
    FieldSpec("enrolled", "boolean", "messaging", "enrolled in the playbook by the as-of day",
              (Param("playbook", "text", "the playbook's name", required=True),)),
    FieldSpec("holdout", "boolean", "messaging", "enrolled in the playbook's holdout arm by the as-of day",
              (Param("playbook", "text", "the playbook's name", required=True),)),
    # -- attributes ----------------------------------------------------------------------------------
    FieldSpec("attribute", "text", "attributes", "the shop's own attribute of the customer (customer_attributes)",
              (Param("name", "text", "the attribute's name", required=True),)),
)

CATALOG: dict[str, FieldSpec] = {spec.name: spec for spec in _FIELDS}

# Fields that need one of sku/category (one, not both).
SKU_OR_CATEGORY = ("bought", "viewed")


def fields_in(group: str) -> list[FieldSpec]:
    """The catalog's fields of one group, in catalog order."""
    return [spec for spec in _FIELDS if spec.group == group]


# A feedback outcome that is a score ("4", "4.5", "-1"); words such as "positive" are not.
NUMERIC_OUTCOME = r"^\s*-?[0-9]+(\.[0-9]+)?\s*$"


@dataclass(frozen=True)
class Context:
    """An evaluation as of a day: "now" is the end of it."""

    store: Store
    as_of: date

    @property
    def now(self) -> datetime:
        return end_of(self.as_of)

    def since(self, days) -> datetime:
        return self.now - timedelta(days=float(days))


# -- per-customer sources: each a table of customer_id and its columns ---------------------------
def purchases_until(ctx: Context) -> Table:
    bought = ctx.store.table("purchases")
    return bought.filter(bought.customer_id.notnull() & (bought.placed_at >= EARLIEST) & (bought.placed_at < ctx.now))


def _orders(ctx: Context) -> Table:
    bought = purchases_until(ctx)
    return bought.group_by("customer_id").aggregate(
        orders_count=bought.count(), first_order_at=bought.placed_at.min(), last_order_at=bought.placed_at.max(),
        revenue=bought.revenue.sum().cast("float64"))


def _returns(ctx: Context) -> Table:
    back = ctx.store.table("returns")
    back = back.filter(back.customer_id.notnull() & (back.returned_at < ctx.now))
    return back.group_by("customer_id").aggregate(returned=back.amount.sum().cast("float64"))


def _discounts(ctx: Context) -> Table:
    bought = purchases_until(ctx)
    orders = ctx.store.table("orders").select("order_id", order_discount="discount")
    joined = bought.join(orders, "order_id")
    promoted = (joined.order_discount > 0).fill_null(False) | (joined.promo_code.strip().length() > 0).fill_null(False)
    return joined.group_by("customer_id").aggregate(
        discount_share=promoted.ifelse(1.0, 0.0).sum() / joined.count().cast("float64"))


def stored_on(ctx: Context, name: str) -> Table:
    table = ctx.store.table(name)
    return table.filter(table.as_of == ctx.as_of)


def _rfm(ctx: Context) -> Table:
    rfm = stored_on(ctx, "rfm_scores")
    return rfm.select("customer_id", "r_score", "f_score", "m_score", rfm_segment=rfm.segment)


def _scores(ctx: Context) -> Table:
    return stored_on(ctx, "customer_scores").select("customer_id", "order_chance", "p_alive", "expected_orders", "clv",
                                                  "next_order_date")


def _stages(ctx: Context) -> Table:
    return stored_on(ctx, "lifecycle_stages").select("customer_id", "stage", "vip")


def _stage_entered(ctx: Context) -> Table:
    """The day of each customer's last recorded change into their current stage."""
    moves = ctx.store.table("lifecycle_transitions")
    moves = moves.filter(moves.to_date <= ctx.as_of)
    stages = stored_on(ctx, "lifecycle_stages").select("customer_id", current="stage")
    joined = moves.join(stages, [moves.customer_id == stages.customer_id, moves.to_stage == stages.current])
    return joined.group_by("customer_id").aggregate(stage_entered=joined.to_date.max())


def _signals(ctx: Context) -> Table:
    return stored_on(ctx, "churn_signals").select("customer_id", "risk_score", "signs")


def _buyer_types(ctx: Context) -> Table:
    return stored_on(ctx, "buyer_types").select("customer_id", "buyer_type")


def _next_product(ctx: Context) -> Table:
    offers = stored_on(ctx, "next_products")
    offers = offers.filter(offers["rank"] == 1)
    return offers.group_by("customer_id").aggregate(next_product=offers.sku.min())


def _visits(ctx: Context) -> Table:
    events = ctx.store.table("site_events")
    visits = events.filter(events.customer_id.notnull() & (events.kind == "visit") & (events.occurred_at < ctx.now))
    return visits.group_by("customer_id").aggregate(last_visit_at=visits.occurred_at.max())


def _contacts(ctx: Context) -> Table:
    contacts = ctx.store.table("interactions")
    contacts = contacts.filter(contacts.customer_id.notnull() & (contacts.occurred_at < ctx.now))
    return contacts.group_by("customer_id").aggregate(last_contact_at=contacts.occurred_at.max())


def _feedback(ctx: Context) -> Table:
    contacts = ctx.store.table("interactions")
    rated = contacts.filter(contacts.customer_id.notnull() & (contacts.occurred_at < ctx.now)
                            & (contacts.kind.lower() == "feedback") & contacts.outcome.re_search(NUMERIC_OUTCOME))
    # The latest rating wins; ratings at the same instant are rare, and then the higher one is kept.
    latest = rated.group_by("customer_id").aggregate(last_rated=rated.occurred_at.max())
    at_last = rated.join(latest, [rated.customer_id == latest.customer_id, rated.occurred_at == latest.last_rated])
    return at_last.group_by("customer_id").aggregate(
        last_feedback_score=at_last.outcome.strip().cast("float64").max())


SOURCES: dict[str, Callable[[Context], Table]] = {
    "orders": _orders, "returns": _returns, "discounts": _discounts, "rfm": _rfm, "scores": _scores,
    "stages": _stages, "stage_entered": _stage_entered, "signals": _signals, "buyer_types": _buyer_types,
    "next_product": _next_product, "visits": _visits, "contacts": _contacts, "feedback": _feedback,
}


# -- simple fields: the sources each needs, and its value on the joined table ---------------------
def _birthday_this_year(t, as_of: date):
    years = ibis.literal(as_of.year) - t.birthday.year()
    return years, (t.birthday + years.as_interval("Y")).cast("date")


def _age(t, ctx: Context):
    years, this_year = _birthday_this_year(t, ctx.as_of)
    return years - (this_year > ctx.as_of).ifelse(1, 0)


def _days_to_birthday(t, ctx: Context):
    years, this_year = _birthday_this_year(t, ctx.as_of)
    next_year = (t.birthday + (years + 1).as_interval("Y")).cast("date")
    upcoming = ibis.ifelse(this_year >= ctx.as_of, this_year, next_year)
    return upcoming.delta(ibis.literal(ctx.as_of), unit="day")


def _filled(text):
    return text.notnull() & (text.strip().length() > 0)


def _days_since(ctx: Context, day):
    return ibis.literal(ctx.as_of).delta(day, unit="day")


SIMPLE: dict[str, tuple[tuple[str, ...], Callable]] = {
    "country": ((), lambda t, ctx: t.country),
    "city": ((), lambda t, ctx: t.city),
    "postal_code": ((), lambda t, ctx: t.postal_code),
    "gender": ((), lambda t, ctx: t.gender),
    "age": ((), _age),
    "birthday": ((), lambda t, ctx: t.birthday),
    "days_to_birthday": ((), _days_to_birthday),
    "acquisition_channel": ((), lambda t, ctx: t.acquisition_channel),
    "first_seen_at": ((), lambda t, ctx: t.first_seen_at),
    "email_consent": ((), lambda t, ctx: t.email_consent),
    "sms_consent": ((), lambda t, ctx: t.sms_consent),
    "ads_consent": ((), lambda t, ctx: t.ads_consent),
    "has_email": ((), lambda t, ctx: _filled(t.email)),
    "has_phone": ((), lambda t, ctx: _filled(t.phone)),
    "email": ((), lambda t, ctx: t.email),
    "phone": ((), lambda t, ctx: t.phone),
    "orders_count": (("orders",), lambda t, ctx: t.orders_count.fill_null(0)),
    "first_order_at": (("orders",), lambda t, ctx: t.first_order_at),
    "last_order_at": (("orders",), lambda t, ctx: t.last_order_at),
    "days_since_last_order": (("orders",), lambda t, ctx: _days_since(ctx, t.last_order_at.date())),
    "net_spend": (("orders", "returns"), lambda t, ctx: t.revenue.fill_null(0.0) - t.returned.fill_null(0.0)),
    "aov": (("orders",), lambda t, ctx: t.revenue / t.orders_count.cast("float64")),
    "discount_share": (("discounts",), lambda t, ctx: t.discount_share),
    "r_score": (("rfm",), lambda t, ctx: t.r_score),
    "f_score": (("rfm",), lambda t, ctx: t.f_score),
    "m_score": (("rfm",), lambda t, ctx: t.m_score),
    "rfm_segment": (("rfm",), lambda t, ctx: t.rfm_segment),
    "order_chance": (("scores",), lambda t, ctx: t.order_chance),
    "p_alive": (("scores",), lambda t, ctx: t.p_alive),
    "expected_orders": (("scores",), lambda t, ctx: t.expected_orders),
    "clv": (("scores",), lambda t, ctx: t.clv),
    "next_order_date": (("scores",), lambda t, ctx: t.next_order_date),
    "stage": (("stages",), lambda t, ctx: t.stage),
    "days_in_stage": (("stages", "stage_entered", "orders"), lambda t, ctx: ibis.ifelse(
        t.stage.notnull(), _days_since(ctx, ibis.coalesce(t.stage_entered, t.first_order_at.date())),
        ibis.null("int64"))),
    "vip": (("stages",), lambda t, ctx: t.vip),
    "risk_score": (("signals",), lambda t, ctx: t.risk_score),
    "buyer_type": (("buyer_types",), lambda t, ctx: t.buyer_type),
    "next_product": (("next_product",), lambda t, ctx: t.next_product),
    "last_visit_at": (("visits",), lambda t, ctx: t.last_visit_at),
    "last_contact_at": (("contacts",), lambda t, ctx: t.last_contact_at),
    "last_feedback_score": (("feedback",), lambda t, ctx: t.last_feedback_score),
}
for _name, _sign in SIGN_FIELDS.items():
    # churn_signals.signs is json.dumps of [{"sign": id, "text": ...}]: the id appears exactly so.
    SIMPLE[_name] = (("signals",), lambda t, ctx, _sign=_sign: t.signs.contains(f'"sign": "{_sign}"'))
