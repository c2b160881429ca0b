"""Buyer-type rules, order facts and early features on a hand-checked shop, on DuckDB and PostgreSQL.

The shop (tests/data/buyer_shop) is described as of 2024-12-31; every order is one order at
12:00, so day counts are whole. A summer sale runs 2024-07-01..2024-07-14 (code SUMMER).

    ann  a1 2023-01-15 (machine 200 + 2 filters 20; 1 filter returned 10 days later), then
         filters on 2023-04-15, 07-15, 10-15, 2024-01-15, 07-12 (in the sale), 12-01
    ben  2024-01-10, 2024-01-19
    cai  2024-02-01 with code WELCOME10 and a 1.50 order discount (phone)
    dee  2024-02-05 code WELCOME10; 03-05 order discount 5; 04-05 line discount 2;
         07-03 in the sale; 07-10 in the sale with SUMMER and a line discount; 09-05 plain;
         (10-01 with SUMMER is cancelled: no purchase)
    eve  2024-05-01 (returned 45 days later), 08-01, 12-15
    fay  2024-03-01, 07-02 (in the sale)
    gus  2024-07-04 (in the sale), exactly 180 days before 2024-12-31
    hal  2024-07-05 (179 days before), 10-01
    ida  2024-12-20
    jo   six orders 2024-01-02..01-07, one a day
    kim  five orders 2024-02-10..02-14, one a day
    a guest order with WELCOME10 (no customer: in no measure)

Gaps between a customer's consecutive orders, in days: ann 90, 91, 92, 92, 179, 142; ben 9;
dee 29, 31, 89, 7, 57; eve 92, 136; fay 123; hal 88; jo 1 x 5; kim 1 x 4. Sorted, the 13th of
25 is 31: the typical gap is 31 days, so gone = max(180, 3 x 31) = 180 days and a rule label
needs a first order 180 days before the as-of day.
"""

from datetime import date

import pandas as pd
import pytest

from retainly.errors import InputError
from retainly.segments import buyer_types as bt
from tests.conftest import DATA, workspace_on_copy

SHOP = DATA / "buyer_shop"
AS_OF = date(2024, 12, 31)


def load(ws, calendar: bool = True, codes_and_discounts: bool = True, tmp_path=None):
    for kind in ("customers", "products", "orders", "returns", "promotions"):
        path = SHOP / f"{kind}.csv"
        if not calendar and kind == "promotions":
            continue
        if not codes_and_discounts and kind == "orders":
            # The same orders without promo codes or discounts.
            orders = pd.read_csv(path, dtype=str, keep_default_na=False)
            orders[["promo_code", "order_discount", "line_discount"]] = ""
            path = tmp_path / "orders.csv"
            orders.to_csv(path, index=False)
        result = ws.data.import_file(kind, path)
        assert result.rows_rejected == 0, result.rejects
    return ws


def ids(ws) -> dict[str, int]:
    return {external: int(number) for number, external in
            ws.store.fetchall("SELECT customer_id, external_id FROM customers")}


@pytest.fixture(params=["duckdb", "postgres"])
def shop(request, tmp_path, store_templates):
    """On each engine, a fresh store holding the buyer shop alone, as ``load`` makes it on a new store
    (loaded once per session and copied for each test, tests/conftest.py)."""
    with workspace_on_copy(store_templates, request.param, "buyer-shop", load, tmp_path) as ws:
        yield ws


def test_order_facts_say_which_promotion(shop):
    who = ids(shop)
    facts = bt.order_facts(shop.store, AS_OF).to_pandas()
    # 7 + 2 + 1 + 6 + 3 + 2 + 1 + 2 + 1 + 6 + 5: not dee's cancelled order, not the guest order
    assert len(facts) == 36
    dee = facts[facts["customer_id"] == who["dee"]].sort_values("order_no")
    assert dee["order_id"].tolist() == ["d1", "d2", "d3", "d4", "d5", "d6"]
    assert dee["order_no"].tolist() == [0, 1, 2, 3, 4, 5]
    assert dee["has_promo_code"].tolist() == [True, False, False, False, True, False]
    assert dee["has_discount"].tolist() == [False, True, True, False, True, False]  # d3: a line discount only
    assert dee["in_sale"].tolist() == [False, False, False, True, True, False]
    assert dee["promoted"].tolist() == [True, True, True, True, True, False]
    # Orders after the as-of day are left out.
    through = bt.order_facts(shop.store, date(2024, 1, 15)).to_pandas()
    assert sorted(through["order_id"]) == ["a1", "a2", "a3", "a4", "a5", "b1", "j1", "j2", "j3", "j4", "j5", "j6"]


def test_promotion_sources(shop):
    sources = bt.promotion_sources(shop.store)
    assert (sources["promo_code"], sources["discount"], sources["sale_period"], sources["known"]) == (
        True, True, True, True)
    assert sources["note"] == ("promoted orders come from promo codes, order or line discounts and the promotion "
                               "calendar")


def test_rule_labels_and_reasons(shop):
    labels = bt.rule_labels(shop.store, AS_OF)
    assert labels.attrs["typical_gap_days"] == 31.0 and labels.attrs["gone_days"] == 180
    name = {v: k for k, v in ids(shop).items()}
    reasons = {name[c]: r for c, r in zip(labels["customer_id"], labels["reason"])}
    assert reasons == {
        # 7 orders is more than hit-and-run's 5; 2023-01-15 to 2024-12-01 is 686 days = 22.5 months.
        "ann": "active: 7 orders over 23 months, the last 30 days ago, 1 of 7 promoted",
        "ben": "hit_and_run: 2 orders within 9 days, none in the 347 days since",
        # A promoted single order is not enough for discount_only (2 orders at least).
        "cai": "hit_and_run: 1 order, none in the 334 days since",
        "dee": "discount_only: 5 of 6 orders with a promo code or a discount or in a sale (83 %)",
        # 3 orders but the last only 16 days ago: still buying. 228 days = 7.5 months, rounded to 7.
        "eve": "active: 3 orders over 7 months, the last 16 days ago, 0 of 3 promoted",
        # 1 of 2 promoted is 50 %, under 60 %; 182 days gone >= 180.
        "fay": "hit_and_run: 2 orders within 123 days, none in the 182 days since",
        "gus": "hit_and_run: 1 order, none in the 180 days since",  # exactly 180 days: enough history, gone
        "jo": "active: 6 orders over 5 days, the last 359 days ago, 0 of 6 promoted",  # 6 > 5 orders
        "kim": "hit_and_run: 5 orders within 4 days, none in the 321 days since",
    }
    labelled = dict(zip(labels["customer_id"].map(name), labels["label"]))
    assert labelled["dee"] == "discount_only" and labelled["ann"] == "active" and labelled["kim"] == "hit_and_run"
    dee = labels[labels["customer_id"] == ids(shop)["dee"]].iloc[0]
    assert (dee["orders"], dee["promoted_orders"], dee["promoted_share"]) == (6, 5, 0.8333)
    assert (dee["first_order_on"], dee["last_order_on"], dee["days_since_last"]) == (
        date(2024, 2, 5), date(2024, 9, 5), 117)


def test_not_enough_history_and_distribution(shop):
    history = bt.customer_history(shop.store, AS_OF)
    name = {v: k for k, v in ids(shop).items()}
    young = history[history["label"] == bt.NOT_ENOUGH_HISTORY]
    assert dict(zip(young["customer_id"].map(name), young["reason"])) == {
        "hal": "first order 179 days ago; a rule label needs 180",
        "ida": "first order 11 days ago; a rule label needs 180",
    }
    result = bt.distribution(shop.store, AS_OF)
    assert result["customers"] == 11
    assert [(r["label"], r["customers"], r["share"]) for r in result["labels"]] == [
        ("hit_and_run", 5, 0.4545),  # ben, cai, fay, gus, kim
        ("discount_only", 1, 0.0909),  # dee
        ("active", 3, 0.2727),  # ann, eve, jo
        ("not enough history", 2, 0.1818),  # hal, ida
    ]
    assert result["promotion_sources"] == {"promo_code": True, "discount": True, "sale_period": True}


def test_settings_move_the_lines(shop):
    name = {v: k for k, v in ids(shop).items()}
    # gone = max(180, 7 x 31 = 217): fay (182 days) is not gone yet; gus (180 days old) is too young.
    labels = bt.rule_labels(shop.store, AS_OF, gone_multiple=7.0)
    assert labels.attrs["gone_days"] == 217 and labels.attrs["enough_history_days"] == 217
    reasons = dict(zip(labels["customer_id"].map(name), labels["reason"]))
    assert reasons["fay"] == "active: 2 orders over 4 months, the last 182 days ago, 1 of 2 promoted"
    assert "gus" not in reasons
    # At least 90 % promoted: dee's 83 % is not enough, and 6 orders make her active.
    strict = bt.rule_labels(shop.store, AS_OF, discount_share=0.9)
    assert dict(zip(strict["customer_id"].map(name), strict["label"]))["dee"] == "active"
    # Up to 6 orders for hit-and-run: jo becomes one.
    loose = bt.rule_labels(shop.store, AS_OF, max_hit_and_run_orders=6)
    assert dict(zip(loose["customer_id"].map(name), loose["reason"]))["jo"] == (
        "hit_and_run: 6 orders within 5 days, none in the 359 days since")


def test_as_of_earlier_day(shop):
    labels = bt.rule_labels(shop.store, date(2024, 1, 31))
    name = {v: k for k, v in ids(shop).items()}
    # Only ann's first five orders and jo's six exist by then; ann's first is 381 days old.
    assert dict(zip(labels["customer_id"].map(name), labels["reason"])) == {
        "ann": "active: 5 orders over 12 months, the last 16 days ago, 0 of 5 promoted",
    }


def test_early_features_after_first_order(shop):
    who = ids(shop)
    features = bt.early_features(shop.store, AS_OF, 1).set_index("customer_id")
    assert len(features) == 11
    assert list(features.columns[:3]) == ["first_order_on", "kth_order_on", "orders_to_date"]
    assert list(features.columns[3:]) == list(bt.feature_columns(1))
    ann = features.loc[who["ann"]]
    assert (ann["first_revenue"], ann["first_items"], ann["first_lines"]) == (220.0, 3.0, 2.0)
    assert ann["first_mean_item_price"] == pytest.approx(220 / 3)
    assert ann["first_returned"] == 1.0  # a filter back 10 days after the order
    assert (ann["first_category"], ann["first_channel"], ann["acquisition_channel"], ann["country"]) == (
        "machines", "online", "search", "Slovenia")
    assert (ann["first_month"], ann["orders_to_date"], ann["first_order_on"]) == ("1", 7, date(2023, 1, 15))
    cai = features.loc[who["cai"]]
    # No recorded channel or country: the first order's channel and ship-to country.
    assert (cai["acquisition_channel"], cai["country"], cai["first_channel"]) == ("phone", "DE", "phone")
    assert (cai["first_promo_code"], cai["first_discount"], cai["first_in_sale"]) == (1.0, 1.0, 0.0)
    assert features.loc[who["gus"], "first_in_sale"] == 1.0
    assert features.loc[who["eve"], "first_returned"] == 0.0  # returned after 45 days: not "right after"


def test_early_features_after_second_order(shop):
    who = ids(shop)
    features = bt.early_features(shop.store, AS_OF, 2).set_index("customer_id")
    assert sorted(features.index) == sorted(who[n] for n in ("ann", "ben", "dee", "eve", "fay", "hal", "jo", "kim"))
    assert list(features.columns[3:]) == list(bt.feature_columns(2))
    ben = features.loc[who["ben"]]
    assert (ben["days_to_second"], ben["second_items"], ben["second_revenue"]) == (9.0, 2.0, 30.0)
    assert ben["kth_order_on"] == date(2024, 1, 19)
    dee = features.loc[who["dee"]]
    assert (dee["first_promo_code"], dee["second_promo_code"], dee["second_discount"]) == (1.0, 0.0, 1.0)
    with pytest.raises(InputError, match="after_orders must be 1 or 2, not 3"):
        bt.early_features(shop.store, AS_OF, 3)


def test_too_small_to_learn_and_no_truth(shop):
    with pytest.raises(InputError, match="too few settled customers to learn buyer types after 1 order"):
        bt.train_classifier(shop.store, AS_OF, 1)
    with pytest.raises(InputError, match="generator_truth is empty"):
        bt.evaluate(shop.store, AS_OF)


def test_without_promotions_nobody_is_discount_only(workspace, tmp_path):
    ws = load(workspace, calendar=False, codes_and_discounts=False, tmp_path=tmp_path)
    sources = bt.promotion_sources(ws.store)
    assert not sources["known"]
    assert sources["note"].startswith("promotions unknown: the store has no promo codes, no order or line "
                                      "discounts and no promotion calendar, so nobody is labelled discount_only")
    labels = bt.rule_labels(ws.store, AS_OF)
    assert "discount_only" not in set(labels["label"])
    assert labels.attrs["promotion_note"] == sources["note"]
    name = {v: k for k, v in ids(ws).items()}
    assert dict(zip(labels["customer_id"].map(name), labels["reason"]))["dee"] == (
        "active: 6 orders over 7 months, the last 117 days ago, promotions unknown")
    assert bt.distribution(ws.store, AS_OF)["promotion_note"] == sources["note"]


def test_without_a_calendar_sales_are_not_seen(workspace):
    ws = load(workspace, calendar=False)
    sources = bt.promotion_sources(ws.store)
    assert (sources["promo_code"], sources["discount"], sources["sale_period"]) == (True, True, False)
    assert sources["note"] == ("promoted orders come from promo codes and order or line discounts; the store has "
                               "no promotion calendar, so promotions seen only there are missed")
    name = {v: k for k, v in ids(ws).items()}
    labels = bt.rule_labels(ws.store, AS_OF)
    reasons = dict(zip(labels["customer_id"].map(name), labels["reason"]))
    # d4 (in the sale, no code, no discount) no longer counts: 4 of 6 is still at least 60 %.
    assert reasons["dee"] == "discount_only: 4 of 6 orders with a promo code or a discount (67 %)"
    assert reasons["ann"] == "active: 7 orders over 23 months, the last 30 days ago, 0 of 7 promoted"


def test_empty_store(workspace):
    with pytest.raises(InputError, match="no purchase orders yet"):
        bt.rule_labels(workspace.store)
