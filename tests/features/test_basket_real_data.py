"""Replenishment and associations on Online Retail II (../shared/datasets), on DuckDB.

The figures are the ones docs/replenishment.md reports, as of the last order day
(2011-12-09). Online Retail II is a wholesaler of gifts: nothing in it is a consumable in the
generated shop's sense, and its products have no category.
"""

import math

import pytest

from retainly import Workspace
from retainly.features.associations import basket_pairs, next_products, sequence_pairs
from retainly.features.replenishment import product_intervals, product_purchases
from tests.conftest import ONLINE_RETAIL, needs_shared_data, online_retail_copy

pytestmark = [pytest.mark.realdata, pytest.mark.slow, needs_shared_data(ONLINE_RETAIL)]

BASKETS = 36_597  # purchase orders of customers with a product (36,975 purchase orders less postage-only ones)
MIN_SUPPORT = 0.005  # the pairs reported: in at least 0.5 % of baskets
MIN_SEQUENCE_CUSTOMERS = 50


@pytest.fixture(scope="module")
def retail(tmp_path_factory, store_templates):
    # A copy of a new DuckDB store into which the file was imported (tests/conftest.py).
    folder = tmp_path_factory.mktemp("retail")
    with online_retail_copy(store_templates, "duckdb", folder) as (url, _):
        ws = Workspace.open(url)
        yield ws, ws.data.last_order_date()
        ws.close()


def test_product_intervals(retail):
    ws, as_of = retail
    table = product_intervals(ws.store, as_of)
    assert len(table) == 4_620
    consumables = table[table["consumable"]]
    # 14 pass every test; with the repeat share and evidence alone it would be 472.
    assert len(consumables) == 14
    top = [(r.sku, r.repeat_buyers, r.intervals, r.median_days, r.p25_days, r.p75_days)
           for r in consumables.head(5).itertuples()]
    assert top == [
        ("23344", 120, 189, 29.0, 17.0, 42.0),  # JUMBO BAG 50'S CHRISTMAS
        ("22528", 93, 161, 33.0, 23.0, 53.0),  # GARDENERS KNEELING PAD
        ("22837", 78, 143, 20.0, 12.0, 28.5),  # HOT WATER BOTTLE BABUSHKA
        ("79323W", 69, 121, 42.0, 26.0, 59.0),  # WHITE CHERRY LIGHTS
        ("10002", 62, 131, 74.0, 42.0, 114.0),  # INFLATABLE POLITICAL GLOBE
    ]
    heart = table.set_index("sku").loc["85123A"]  # the most re-bought: re-stocked, with no rhythm
    assert (heart.buyers, heart.repeat_buyers, heart.intervals) == (1_490, 827, 3_305)
    assert (heart.median_days, heart.p25_days, heart.p75_days) == (52.0, 24.0, 112.0)
    assert round(heart.spread, 2) == 1.69 and not heart.consumable


def test_top_basket_pairs(retail):
    ws, as_of = retail
    pairs = basket_pairs(ws.store, as_of, min_orders=math.ceil(MIN_SUPPORT * BASKETS))  # 183 baskets
    assert set(pairs["baskets"]) == {BASKETS}
    assert len(pairs) == 2_800  # 1,400 pairs, both ways
    # Each pair comes twice (A->B, B->A) with one lift; the first of the two has the higher confidence.
    top = [(r.sku_a, r.sku_b, r.orders_both, round(r.confidence, 3), round(r.lift, 2))
           for r in pairs.iloc[:10:2].itertuples()]
    assert top == [
        ("22916", "22917", 183, 0.948, 175.26),  # HERB MARKER THYME -> ROSEMARY
        ("22524", "22525", 186, 0.802, 122.25),  # CHILDRENS GARDEN GLOVES BLUE -> PINK
        ("23172", "23171", 202, 0.902, 122.23),  # REGENCY TEA PLATE PINK -> GREEN
        ("23174", "23175", 206, 0.769, 103.42),  # REGENCY SUGAR BOWL GREEN -> MILK JUG PINK
        ("23172", "23170", 197, 0.879, 98.13),  # REGENCY TEA PLATE PINK -> ROSES
    ]


def test_top_sequence_pairs(retail):
    ws, as_of = retail
    pairs = sequence_pairs(ws.store, as_of, min_customers=MIN_SEQUENCE_CUSTOMERS)
    assert len(pairs) == 136 and int((pairs["lift"] > 1).sum()) == 30
    assert set(pairs["customers"]) == {5_256}  # first purchase by 2011-09-10 (90 days before the end)
    top = [(r.sku_a, r.sku_b, r.customers_a, r.customers_then_b, round(r.lift, 2)) for r in pairs.head(3).itertuples()]
    assert top == [
        ("23199", "23200", 263, 55, 4.49),  # JUMBO BAG APPLES, then JUMBO BAG PEARS
        ("23170", "23245", 163, 52, 3.97),  # REGENCY TEA PLATE ROSES, then SET OF 3 REGENCY CAKE TINS
        ("22866", "22834", 363, 64, 3.20),  # HAND WARMER SCOTTY DOG, then HAND WARMER BABUSHKA
    ]


def test_next_products_offer_nothing_owned(retail):
    ws, as_of = retail
    offers = next_products(ws.store, as_of)
    assert offers["customer_id"].nunique() == 5_851 and len(offers) == 17_547
    owned = product_purchases(ws.store, as_of).select("customer_id", "sku").distinct().to_pandas()
    clash = offers.merge(owned, on=["customer_id", "sku"])
    assert clash.empty
    assert (offers.groupby("customer_id")["rank"].max() <= 3).all()
