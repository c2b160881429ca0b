"""Buyer types: hit-and-run, discount-only and active, by rules and, early, by a classifier.

Everything is computed as of a day (purchase orders of known customers through the end of
that day; ``docs/buyer_types.md`` has the definitions and the measured figures).

* **Promoted order**: a purchase order with a promo code, or a discount (``orders.discount``,
  which the loader fills with the order's own discount plus its line discounts and discount
  lines), or placed on a day of a sale period of the ``promotions`` calendar. The store may
  hold any of the three sources or none; with none, promotions are unknown and nobody is
  labelled discount_only: the result says so instead of guessing.
* **Rule labels**, for customers with enough history (first order at least
  ``max(history_days, gone_days)`` before the as-of day), first rule that holds:

  1. ``discount_only``: at least ``min_discount_orders`` orders and at least
     ``discount_share`` of them promoted;
  2. ``hit_and_run``: at most ``max_hit_and_run_orders`` orders and none for ``gone_days``,
     where ``gone_days = max(min_gone_days, gone_multiple x the shop's median days between
     a customer's consecutive orders)``;
  3. ``active``: everyone else (more orders, or still buying).

* **Early identification**: per customer, what is known right after their first (or second)
  order (``early_features``); a regularised logistic regression trained on the rule labels of
  the shop's own settled customers predicts the type of customers too new for a rule label.

Per-order and per-customer facts are built in the engine (Ibis); one row per customer comes
into Python for the rule's wording and for scikit-learn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import ibis
import numpy as np
import pandas as pd
from ibis.expr.types import Table

from retainly.errors import InputError
from retainly.features.model_summary import end_of
from retainly.features.orders import customer_orders, purchase_span
from retainly.store.backends import Store

BUYER_TYPES = ("hit_and_run", "discount_only", "active")
NOT_ENOUGH_HISTORY = "not enough history"
SOURCES = ("promo_code", "discount", "sale_period")
_SOURCE_NAMES = {"promo_code": "promo codes", "discount": "order or line discounts",
                 "sale_period": "promotion calendar"}

# Rule defaults (docs/buyer_types.md explains each).
HISTORY_DAYS = 180
MIN_GONE_DAYS = 180
GONE_MULTIPLE = 3.0
MAX_HIT_AND_RUN_ORDERS = 5
DISCOUNT_SHARE = 0.6
MIN_DISCOUNT_ORDERS = 2
RETURN_WINDOW_DAYS = 30  # a return within this many days of the order counts as "the order had a return"
MIN_TRAINING_CUSTOMERS = 30


# -- promotions -----------------------------------------------------------------------------
def promotion_sources(store: Store) -> dict:
    """Which promotion sources the store holds: promo_code, discount, sale_period (bools), known, note."""
    found = {
        "promo_code": store.fetchone(
            "SELECT 1 FROM orders WHERE promo_code IS NOT NULL AND TRIM(promo_code) <> '' LIMIT 1") is not None,
        "discount": store.fetchone("SELECT 1 FROM orders WHERE discount > 0 LIMIT 1") is not None
        or store.fetchone("SELECT 1 FROM order_lines WHERE discount > 0 LIMIT 1") is not None,
        "sale_period": store.fetchone("SELECT 1 FROM promotions LIMIT 1") is not None,
    }
    known = any(found.values())
    present = [("the " if s == "sale_period" else "") + _SOURCE_NAMES[s] for s in SOURCES if found[s]]
    absent = [_SOURCE_NAMES[s] for s in SOURCES if not found[s]]
    if not known:
        note = ("promotions unknown: the store has no promo codes, no order or line discounts and no promotion "
                "calendar, so nobody is labelled discount_only (import orders with promo_code or discounts, or a "
                "promotions file, to find discount-only buyers)")
    elif absent:
        note = (f"promoted orders come from {_words(present)}; the store has no {_words(absent, 'and no')}, "
                "so promotions seen only there are missed")
    else:
        note = f"promoted orders come from {_words(present)}"
    return {**found, "known": known, "note": note}


def _words(items: list[str], last: str = "and") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


def _promoted_phrase(sources: dict) -> str:
    """How a promoted order reads in a reason: 'with a promo code or a discount or in a sale'."""
    with_parts = [w for s, w in (("promo_code", "a promo code"), ("discount", "a discount")) if sources[s]]
    phrase = f"with {' or '.join(with_parts)}" if with_parts else ""
    if sources["sale_period"]:
        phrase = f"{phrase} or in a sale" if phrase else "in a sale"
    return phrase


# -- per-order facts ----------------------------------------------------------------------
def order_facts(store: Store, as_of: date) -> Table:
    """One row per purchase order of a known customer through the end of ``as_of`` (an Ibis table).

    Columns: customer_id, order_id, order_no (0 for the first order, by time then order id),
    placed_at, revenue, channel, has_promo_code, has_discount, in_sale, promoted.
    """
    bought = customer_orders(store)
    bought = bought.filter(bought.placed_at < end_of(as_of))
    orders = store.table("orders")
    discounts = orders.select("order_id", order_discount=orders.discount)
    promos = store.table("promotions")
    dated = bought.select("order_id", day=bought.placed_at.date())
    in_sale = (dated.join(promos, [dated.day >= promos.starts_on, dated.day <= promos.ends_on])
               .select("order_id").distinct().mutate(sale_hit=ibis.literal(1)))
    joined = bought.left_join(discounts, "order_id").left_join(in_sale, "order_id")
    has_code = joined.promo_code.strip().fill_null("") != ""
    has_discount = joined.order_discount.fill_null(0) > 0
    sale = joined.sale_hit.notnull()
    facts = joined.select(
        "customer_id", "order_id", "placed_at", "revenue", "channel",
        has_promo_code=has_code, has_discount=has_discount, in_sale=sale,
        promoted=has_code | has_discount | sale,
    )
    order_no = ibis.row_number().over(group_by="customer_id", order_by=["placed_at", "order_id"])
    return facts.mutate(order_no=order_no).select(
        "customer_id", "order_id", "order_no", "placed_at", "revenue", "channel",
        "has_promo_code", "has_discount", "in_sale", "promoted",
    )


def _as_of(store: Store, as_of: date | None) -> date:
    if as_of is not None:
        return as_of
    last = purchase_span(store)[1]
    if last is None:
        raise InputError("the store has no purchase orders yet; import orders first (see `retainly import --help`)")
    return last.date()


# -- rule labels ----------------------------------------------------------------------------
def customer_history(store: Store, as_of: date | None = None, *, history_days: int = HISTORY_DAYS,
                     min_gone_days: int = MIN_GONE_DAYS, gone_multiple: float = GONE_MULTIPLE,
                     max_hit_and_run_orders: int = MAX_HIT_AND_RUN_ORDERS, discount_share: float = DISCOUNT_SHARE,
                     min_discount_orders: int = MIN_DISCOUNT_ORDERS) -> pd.DataFrame:
    """Every customer who bought by ``as_of`` with their rule label, ``NOT_ENOUGH_HISTORY`` included.

    Columns: customer_id, label, reason, orders, promoted_orders, promoted_share, first_order_on,
    last_order_on, days_since_last. ``attrs`` holds as_of, typical_gap_days, gone_days,
    enough_history_days, promotion_sources and promotion_note.
    """
    as_of = _as_of(store, as_of)
    sources = promotion_sources(store)
    with store.scratch(order_facts(store, as_of)) as facts:
        previous = facts.placed_at.lag().over(group_by="customer_id", order_by=["placed_at", "order_id"])
        lagged = facts.mutate(gap=(facts.placed_at.epoch_seconds() - previous.epoch_seconds()) / 86400.0)
        gaps = lagged.filter(lagged.gap.notnull())
        typical_gap = gaps.aggregate(median=gaps.gap.median()).to_pandas()["median"].iloc[0]
        per_customer = facts.group_by("customer_id").aggregate(
            orders=facts.count(),
            promoted_orders=facts.promoted.ifelse(1, 0).sum(),
            first_day=facts.placed_at.min().date(),
            last_day=facts.placed_at.max().date(),
        )
        frame = per_customer.select(
            "customer_id", "orders", "promoted_orders", "first_day", "last_day",
            span=per_customer.last_day.delta(per_customer.first_day, unit="day"),
            days_since_last=ibis.literal(as_of).delta(per_customer.last_day, unit="day"),
            age=ibis.literal(as_of).delta(per_customer.first_day, unit="day"),
        ).order_by("customer_id").to_pandas()
    typical_gap = None if typical_gap is None or pd.isna(typical_gap) else float(typical_gap)
    gone_days = max(int(min_gone_days), math.ceil(gone_multiple * typical_gap) if typical_gap else 0)
    enough_days = max(int(history_days), gone_days)

    orders = frame["orders"].astype("int64").to_numpy()
    promoted = frame["promoted_orders"].fillna(0).astype("int64").to_numpy()
    span = frame["span"].astype("int64").to_numpy()
    since = frame["days_since_last"].astype("int64").to_numpy()
    age = frame["age"].astype("int64").to_numpy()
    share = promoted / orders
    enough = age >= enough_days
    discount = sources["known"] & (orders >= min_discount_orders) & (share >= discount_share - 1e-12)
    gone = (orders <= max_hit_and_run_orders) & (since >= gone_days)
    label = np.select([~enough, discount, gone], [NOT_ENOUGH_HISTORY, "discount_only", "hit_and_run"], "active")
    phrase = _promoted_phrase(sources)
    reasons = [
        _reason(lab, n, p, s, d, a, phrase, sources["known"], enough_days)
        for lab, n, p, s, d, a in zip(label, orders, promoted, span, since, age)
    ]
    result = pd.DataFrame({
        "customer_id": frame["customer_id"].astype("int64"),
        "label": label,
        "reason": reasons,
        "orders": orders,
        "promoted_orders": promoted,
        "promoted_share": share.round(4),
        "first_order_on": pd.to_datetime(frame["first_day"]).dt.date,
        "last_order_on": pd.to_datetime(frame["last_day"]).dt.date,
        "days_since_last": since,
    })
    result.attrs.update(as_of=as_of, typical_gap_days=typical_gap, gone_days=gone_days,
                        enough_history_days=enough_days, promotion_sources=sources, promotion_note=sources["note"])
    return result


def rule_labels(store: Store, as_of: date | None = None, *, history_days: int = HISTORY_DAYS,
                min_gone_days: int = MIN_GONE_DAYS, gone_multiple: float = GONE_MULTIPLE,
                max_hit_and_run_orders: int = MAX_HIT_AND_RUN_ORDERS, discount_share: float = DISCOUNT_SHARE,
                min_discount_orders: int = MIN_DISCOUNT_ORDERS) -> pd.DataFrame:
    """Rule labels and reasons of the customers with enough history; columns and attrs as ``customer_history``.

    ``as_of`` defaults to the day of the last purchase order. The settings (module docstring):
    history_days, min_gone_days, gone_multiple, max_hit_and_run_orders, discount_share,
    min_discount_orders; every other function here takes the same keywords.
    """
    history = customer_history(
        store, as_of, history_days=history_days, min_gone_days=min_gone_days, gone_multiple=gone_multiple,
        max_hit_and_run_orders=max_hit_and_run_orders, discount_share=discount_share,
        min_discount_orders=min_discount_orders)
    labelled = history[history["label"] != NOT_ENOUGH_HISTORY].reset_index(drop=True)
    labelled.attrs.update(history.attrs)
    return labelled


def _reason(label: str, n: int, promoted: int, span: int, since: int, age: int, phrase: str, known: bool,
            enough_days: int) -> str:
    orders = "1 order" if n == 1 else f"{n} orders"
    promo = f"{promoted} of {n} promoted" if known else "promotions unknown"
    if label == NOT_ENOUGH_HISTORY:
        return f"first order {age} days ago; a rule label needs {enough_days}"
    if label == "discount_only":
        return f"discount_only: {promoted} of {n} orders {phrase} ({round(100 * promoted / n)} %)"
    if label == "hit_and_run":
        within = "" if n == 1 else f" within {span} days"
        return f"hit_and_run: {orders}{within}, none in the {since} days since"
    if since == 0:
        last = "the last today"
    else:
        last = f"the last {since} days ago" if since > 1 else "the last yesterday"
    over = "on one day" if span == 0 else f"over {_duration(span)}"
    return f"active: {orders} {over}, {last}, {promo}"


def _duration(days: int) -> str:
    if days < 60:
        return "1 day" if days == 1 else f"{days} days"
    if days < 730:
        return f"{round(days / 30.4375)} months"
    years = f"{days / 365.25:.1f}".removesuffix(".0")
    return f"{years} years"


def distribution(store: Store, as_of: date | None = None, **settings) -> dict:
    """Customers and shares per rule label, 'not enough history' included, with the promotion note."""
    history = customer_history(store, as_of, **settings)
    total = len(history)
    counts = history["label"].value_counts()
    rows = [{"label": name, "customers": int(counts.get(name, 0)),
             "share": round(int(counts.get(name, 0)) / total, 4) if total else 0.0}
            for name in (*BUYER_TYPES, NOT_ENOUGH_HISTORY)]
    attrs = history.attrs
    return {"as_of": attrs["as_of"], "customers": total, "labels": rows,
            "typical_gap_days": attrs["typical_gap_days"], "gone_days": attrs["gone_days"],
            "enough_history_days": attrs["enough_history_days"],
            "promotion_sources": {s: attrs["promotion_sources"][s] for s in SOURCES},
            "promotion_note": attrs["promotion_note"]}


# -- early identification -------------------------------------------------------------------
_CATEGORICAL = {1: ("first_channel", "acquisition_channel", "country", "first_category", "first_month"),
                2: ("first_channel", "acquisition_channel", "country", "first_category", "first_month",
                    "second_category")}
_FLAGS = {1: ("first_promo_code", "first_discount", "first_in_sale", "first_returned"),
          2: ("first_promo_code", "first_discount", "first_in_sale", "first_returned",
              "second_promo_code", "second_discount", "second_in_sale")}
_AMOUNTS = {1: ("first_revenue", "first_items", "first_lines", "first_mean_item_price"),
            2: ("first_revenue", "first_items", "first_lines", "first_mean_item_price",
                "second_revenue", "second_items", "second_lines", "days_to_second")}
_NUMERIC = {k: _FLAGS[k] + _AMOUNTS[k] for k in (1, 2)}


def feature_columns(after_orders: int) -> tuple[str, ...]:
    """The classifier's inputs after the first (1) or second (2) order: categorical first, then numeric."""
    _check_after(after_orders)
    return _CATEGORICAL[after_orders] + _NUMERIC[after_orders]


def _check_after(after_orders: int) -> None:
    if after_orders not in (1, 2):
        raise InputError(f"after_orders must be 1 or 2, not {after_orders!r}")


def early_features(store: Store, as_of: date | None, after_orders: int) -> pd.DataFrame:
    """What is known of each customer right after their first (1) or second (2) order.

    One row per customer with at least ``after_orders`` purchase orders by ``as_of``, from
    those first orders only: customer_id, first_order_on, kth_order_on, orders_to_date (for
    choosing who to predict, never a feature), then ``feature_columns(after_orders)``.
    A first-order return counts when it came within 30 days of the order (and by ``as_of``).
    """
    _check_after(after_orders)
    as_of = _as_of(store, as_of)
    facts = order_facts(store, as_of)
    facts = facts.mutate(orders_to_date=facts.count().over(ibis.window(group_by="customer_id")))
    early = facts.filter(facts.order_no < after_orders)
    customers = store.table("customers").select("customer_id", "acquisition_channel", customer_country="country")
    orders = store.table("orders").select("order_id", order_country="country")
    early = early.left_join(customers, "customer_id").select(*early.columns, "acquisition_channel", "customer_country")
    early = early.left_join(orders, "order_id").select(*early.columns, "order_country")
    # Materialised, and every join done per order before grouping: PostgreSQL misjudges windowed
    # and grouped rows as one row and then loops over them (60 s instead of 1 s on 5,000 customers).
    with store.scratch(early) as early:
        frame = _early_frame(store, early, as_of, after_orders)
    return _typed_features(frame, after_orders)


def _early_frame(store: Store, early: Table, as_of: date, after_orders: int) -> pd.DataFrame:
    """One row per customer from their first ``after_orders`` orders (``early``), read back."""
    lines = store.table("order_lines")
    merch = lines.filter((lines.quantity > 0) & (lines.kind == "merchandise"))
    products = store.table("products").select("sku", "category")
    merch = merch.join(early.select("order_id"), "order_id").left_join(products, "sku")
    merch = merch.mutate(category=merch.category.fill_null("unknown"))
    baskets = merch.group_by("order_id").aggregate(items=merch.quantity.sum(), lines=merch.count(),
                                                   merchandise=merch.amount.sum())
    by_category = merch.group_by("order_id", "category").aggregate(amount=merch.amount.sum())
    main_rank = ibis.row_number().over(group_by="order_id", order_by=[by_category.amount.desc(),
                                                                      by_category.category])
    main = by_category.mutate(rank=main_rank)
    main = main.filter(main.rank == 0).select("order_id", main_category="category")

    returns = store.table("returns")
    returns = returns.filter(returns.order_id.notnull() & (returns.returned_at < end_of(as_of)))
    timed = early.select("order_id", order_at="placed_at")
    returned = returns.join(timed, "order_id")
    returned = (returned.filter(returned.returned_at < returned.order_at + ibis.interval(days=RETURN_WINDOW_DAYS))
                .select("order_id").distinct().mutate(returned=ibis.literal(1)))

    per_order = early
    for extra in (baskets, main, returned):
        joined = per_order.left_join(extra, "order_id")
        per_order = joined.select(*per_order.columns, *(c for c in extra.columns if c != "order_id"))
    per_order = per_order.mutate(day=per_order.placed_at.date())

    def nth(column, n: int):
        return column.max(where=per_order.order_no == n)

    def flag(column, n: int):
        return column.ifelse(1, 0).max(where=per_order.order_no == n)

    metrics = dict(
        first_day=nth(per_order.day, 0),
        first_revenue=nth(per_order.revenue, 0),
        first_items=nth(per_order.items, 0),
        first_lines=nth(per_order.lines, 0),
        first_merchandise=nth(per_order.merchandise, 0),
        first_promo_code=flag(per_order.has_promo_code, 0),
        first_discount=flag(per_order.has_discount, 0),
        first_in_sale=flag(per_order.in_sale, 0),
        first_returned=nth(per_order.returned, 0),
        first_channel=nth(per_order.channel, 0),
        first_category=nth(per_order.main_category, 0),
        first_month=nth(per_order.placed_at.month(), 0),
        first_at=nth(per_order.placed_at, 0),
        early_orders=per_order.count(),
        orders_to_date=per_order.orders_to_date.max(),
        recorded_channel=per_order.acquisition_channel.max(),
        customer_country=per_order.customer_country.max(),
        first_country=nth(per_order.order_country, 0),
    )
    if after_orders == 2:
        metrics.update(
            second_day=nth(per_order.day, 1),
            second_revenue=nth(per_order.revenue, 1),
            second_items=nth(per_order.items, 1),
            second_lines=nth(per_order.lines, 1),
            second_promo_code=flag(per_order.has_promo_code, 1),
            second_discount=flag(per_order.has_discount, 1),
            second_in_sale=flag(per_order.in_sale, 1),
            second_category=nth(per_order.main_category, 1),
            second_at=nth(per_order.placed_at, 1),
        )
    per_customer = per_order.group_by("customer_id").aggregate(**metrics)
    per_customer = per_customer.filter(per_customer.early_orders == after_orders)
    if after_orders == 2:
        per_customer = per_customer.mutate(
            days_to_second=(per_customer.second_at.epoch_seconds() - per_customer.first_at.epoch_seconds()) / 86400.0)
    # The acquisition channel as in features.orders.acquisitions: recorded, else the first order's, else unknown.
    joined = per_customer.mutate(
        acquisition_channel=ibis.coalesce(per_customer.recorded_channel, per_customer.first_channel,
                                          ibis.literal("unknown")),
        country=ibis.coalesce(per_customer.customer_country, per_customer.first_country, ibis.literal("unknown")),
    )
    return joined.order_by("customer_id").to_pandas()


def _typed_features(frame: pd.DataFrame, after_orders: int) -> pd.DataFrame:
    out = pd.DataFrame({
        "customer_id": frame["customer_id"].astype("int64"),
        "first_order_on": pd.to_datetime(frame["first_day"]).dt.date,
        "kth_order_on": pd.to_datetime(frame["second_day" if after_orders == 2 else "first_day"]).dt.date,
        "orders_to_date": frame["orders_to_date"].astype("int64"),
    })
    for column in _CATEGORICAL[after_orders]:
        values = frame[column].astype(object).where(frame[column].notna(), "unknown")
        out[column] = values.map(lambda v: str(int(v)) if isinstance(v, (int, float, np.integer)) else str(v))
    money = {"first_revenue", "second_revenue"}
    for column in _NUMERIC[after_orders]:
        if column == "first_mean_item_price":
            merch = frame["first_merchandise"].astype(float)
            items = frame["first_items"].astype(float)
            out[column] = (merch / items.where(items > 0)).astype(float)
        elif column in money or column == "days_to_second":
            out[column] = frame[column].astype(float)
        else:
            out[column] = frame[column].fillna(0).astype(float)
    return out


# -- the classifier -------------------------------------------------------------------------
@dataclass
class BuyerTypeClassifier:
    """A fitted early classifier and what its cross-validation against the rule labels showed."""

    after_orders: int
    as_of: date
    model: object  # a fitted scikit-learn Pipeline
    classes: tuple[str, ...]
    features: tuple[str, ...]
    training_customers: int
    label_counts: dict[str, int]
    cross_validated: dict = field(default_factory=dict)
    promotion_note: str = ""

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """customer_id, predicted_type, probability, p_hit_and_run, p_discount_only, p_active."""
        probabilities = np.zeros((len(features), len(self.classes)))
        if len(features):
            with _one_thread():
                probabilities = self.model.predict_proba(features[list(self.features)])
        best = probabilities.argmax(axis=1)
        out = pd.DataFrame({
            "customer_id": features["customer_id"].to_numpy(dtype="int64"),
            "predicted_type": np.asarray(self.classes, dtype=object)[best],
            "probability": probabilities.max(axis=1, initial=0.0).round(4),
        })
        for name in BUYER_TYPES:
            known = name in self.classes
            out[f"p_{name}"] = probabilities[:, self.classes.index(name)].round(4) if known else 0.0
        return out


def _one_thread():
    """Fit and predict on one thread: on small frames OpenMP's threads mostly wait for each other,
    and on a busy machine that made a 1-second fit take 30 seconds."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _log_amount(values):
    return np.log1p(np.clip(values, 0.0, None))


def _pipeline(after_orders: int, random_state: int):
    """One-hot categories (rare ones pooled), log-scaled amounts, 0/1 flags; a balanced, L2-regularised
    multinomial logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    amounts = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                            FunctionTransformer(_log_amount), StandardScaler())
    columns = ColumnTransformer([
        ("categories", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20),
         list(_CATEGORICAL[after_orders])),
        ("flags", SimpleImputer(strategy="constant", fill_value=0.0, keep_empty_features=True),
         list(_FLAGS[after_orders])),
        ("amounts", amounts, list(_AMOUNTS[after_orders])),
    ])
    model = LogisticRegression(C=0.5, class_weight="balanced", max_iter=2000, random_state=random_state)
    return Pipeline([("columns", columns), ("model", model)])


def training_set(labels: pd.DataFrame, features: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Labelled customers whose k-th order is at least ``gone_days`` old, so their label has settled."""
    settled_before = as_of - timedelta(days=int(labels.attrs["gone_days"]))
    settled = features[features["kth_order_on"] <= settled_before]
    return settled.merge(labels[["customer_id", "label"]], on="customer_id", how="inner")


def _per_type(truth, predicted, classes) -> dict:
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=list(classes),
                                                                     zero_division=0)
    per_type = {name: {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4),
                       "support": int(s)}
                for name, p, r, f, s in zip(classes, precision, recall, f1, support)}
    macro = f1_score(truth, predicted, labels=[c for c in classes if c in set(truth)], average="macro",
                     zero_division=0)
    accuracy = float(np.mean(np.asarray(truth) == np.asarray(predicted))) if len(truth) else 0.0
    return {"per_type": per_type, "macro_f1": round(float(macro), 4), "accuracy": round(accuracy, 4),
            "customers": int(len(truth))}


def _fit(labels: pd.DataFrame, features: pd.DataFrame, as_of: date, after_orders: int, random_state: int,
         cv_folds: int) -> BuyerTypeClassifier:
    train = training_set(labels, features, as_of)
    counts = train["label"].value_counts()
    if len(train) < MIN_TRAINING_CUSTOMERS or len(counts) < 2:
        raise InputError(
            f"too few settled customers to learn buyer types after {after_orders} order(s) as of {as_of}: "
            f"{len(train)} labelled ({', '.join(f'{k} {v}' for k, v in counts.items()) or 'none'}); need at least "
            f"{MIN_TRAINING_CUSTOMERS} in two types or more. Use a later --as-of or import more history")
    classes = tuple(name for name in BUYER_TYPES if name in counts.index)
    columns = list(feature_columns(after_orders))
    x, y = train[columns], train["label"].to_numpy()
    with _one_thread():
        cross_validated = _cross_validate(x, y, counts, classes, after_orders, random_state, cv_folds)
        model = _pipeline(after_orders, random_state).fit(x, y)
    return BuyerTypeClassifier(
        after_orders=after_orders, as_of=as_of, model=model, classes=tuple(model.classes_),
        features=tuple(columns), training_customers=len(train),
        label_counts={name: int(counts.get(name, 0)) for name in classes},
        cross_validated=cross_validated, promotion_note=labels.attrs["promotion_note"],
    )


def _cross_validate(x, y, counts, classes, after_orders: int, random_state: int, cv_folds: int) -> dict:
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    cross_validated = {}
    folds = min(cv_folds, int(counts.min()))
    if folds >= 2:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
        predicted = cross_val_predict(_pipeline(after_orders, random_state), x, y, cv=splitter)
        cross_validated = _per_type(y, predicted, classes)
        cross_validated["folds"] = folds
        majority = np.full(len(y), counts.idxmax(), dtype=object)
        cross_validated["baseline_macro_f1"] = _per_type(y, majority, classes)["macro_f1"]
    return cross_validated


def train_classifier(store: Store, as_of: date | None, after_orders: int, *, random_state: int = 0,
                     cv_folds: int = 5, **rule_settings) -> BuyerTypeClassifier:
    """Fit the early classifier on the shop's settled, rule-labelled customers as of ``as_of``.

    Features come from each customer's first ``after_orders`` orders only; the target is the
    rule label. ``cross_validated`` holds per-type precision and recall of a stratified
    ``cv_folds``-fold cross-validation against the rule labels (and the majority-class baseline).
    """
    _check_after(after_orders)
    as_of = _as_of(store, as_of)
    labels = rule_labels(store, as_of, **rule_settings)
    features = early_features(store, as_of, after_orders)
    return _fit(labels, features, as_of, after_orders, random_state, cv_folds)


def predict_types(store: Store, as_of: date | None, after_orders: int, *,
                  classifier: BuyerTypeClassifier | None = None, random_state: int = 0,
                  **rule_settings) -> pd.DataFrame:
    """Predicted buyer type of customers with exactly ``after_orders`` orders and no rule label yet.

    Columns: customer_id, predicted_type, probability (of that type), p_hit_and_run,
    p_discount_only, p_active. Trains a classifier as of ``as_of`` unless one is given.
    """
    _check_after(after_orders)
    as_of = _as_of(store, as_of)
    history = customer_history(store, as_of, **rule_settings)
    features = early_features(store, as_of, after_orders)
    if classifier is None:
        labels = history[history["label"] != NOT_ENOUGH_HISTORY]
        labels.attrs.update(history.attrs)
        classifier = _fit(labels, features, as_of, after_orders, random_state, 5)
    new = history.loc[history["label"] == NOT_ENOUGH_HISTORY, "customer_id"]
    candidates = features[(features["orders_to_date"] == after_orders) & features["customer_id"].isin(new)]
    predicted = classifier.predict(candidates.reset_index(drop=True))
    predicted.attrs.update(as_of=as_of, after_orders=after_orders, promotion_note=history.attrs["promotion_note"])
    return predicted


# -- evaluation on the generated shop -------------------------------------------------------
def _truth(store: Store) -> pd.DataFrame:
    truth = store.table("generator_truth").select("customer_id", "buyer_type").to_pandas()
    if truth.empty:
        raise InputError("buyer-types --evaluate needs the hidden truth of a generated shop, and generator_truth is "
                         "empty: this store was not made by `retainly generate` (on a real shop, use the "
                         "distribution instead)")
    truth["customer_id"] = truth["customer_id"].astype("int64")
    return truth


def evaluate(store: Store, as_of: date | None = None, *, holdout_days: int = 365, random_state: int = 0,
             **rule_settings) -> dict:
    """Precision and recall per type against the generated shop's hidden truth.

    * ``rules``: the rule labels as of ``as_of`` against the truth, over every labelled customer.
    * ``after_1`` / ``after_2``: the early classifiers trained as of ``as_of - holdout_days``
      (on customers labelled then, from orders until then only), scored on the customers whose
      first order came after that day (none of whom it trained on) with at least 1 (2) orders
      by ``as_of``, from their first 1 (2) orders. ``baseline_macro_f1`` predicts the training
      set's most common label for everyone.
    """
    as_of = _as_of(store, as_of)
    truth = _truth(store)
    history = customer_history(store, as_of, **rule_settings)
    labelled = history[history["label"] != NOT_ENOUGH_HISTORY].merge(truth, on="customer_id")
    rules = _per_type(labelled["buyer_type"], labelled["label"], BUYER_TYPES)
    rules["coverage"] = round(len(labelled) / len(history), 4) if len(history) else 0.0
    rules["confusion"] = _confusion(labelled["buyer_type"], labelled["label"])
    result = {"as_of": as_of, "promotion_note": history.attrs["promotion_note"],
              "gone_days": history.attrs["gone_days"], "enough_history_days": history.attrs["enough_history_days"],
              "rules": rules}
    trained_as_of = as_of - timedelta(days=holdout_days)
    for after in (1, 2):
        classifier = train_classifier(store, trained_as_of, after, random_state=random_state, **rule_settings)
        features = early_features(store, as_of, after)
        test = features[features["first_order_on"] > trained_as_of].merge(truth, on="customer_id")
        predicted = classifier.predict(test.reset_index(drop=True))
        scored = _per_type(test["buyer_type"], predicted["predicted_type"], BUYER_TYPES)
        majority = max(classifier.label_counts, key=classifier.label_counts.get)
        scored["baseline"] = majority
        scored["baseline_macro_f1"] = _per_type(test["buyer_type"], np.full(len(test), majority, dtype=object),
                                                BUYER_TYPES)["macro_f1"]
        scored["trained_as_of"] = trained_as_of
        scored["training_customers"] = classifier.training_customers
        scored["cross_validated_against_rules"] = classifier.cross_validated
        scored["confusion"] = _confusion(test["buyer_type"], predicted["predicted_type"])
        result[f"after_{after}"] = scored
    return result


def _confusion(truth, predicted) -> dict:
    """{true type: {label: customers}}."""
    table = pd.crosstab(pd.Series(np.asarray(truth), name="truth"), pd.Series(np.asarray(predicted), name="label"))
    return {str(t): {str(p): int(v) for p, v in row.items() if v} for t, row in table.iterrows()}
