"""Recovery on the generated shop: the estimated intervals and pairs are the ones it was generated with.

The generator (src/retainly/synth) keeps its truth in ``generator_product_truth``: 11
consumables with a re-order interval (gaps ~ Gamma(20, interval / 20)) and 11 companions
whose ``companion_of`` is their anchor ("laptop, then mouse": the anchor is bought first, the
companion in the same order 45 % of the time, else 60 % come back for it within 30 days).

10,000 customers, seed 42, as of the last order day, default thresholds. Measured:

* all 11 consumables have enough evidence (14 to 247 repeat buyers) and are flagged; their
  medians are 0 to 6.7 % off the true interval (shortest 112 for 120 days: long gaps are cut
  short by the end of the data and by dropout); no other product is flagged (the closest,
  body lotion, has a spread of 1.6 and a repeat share of 0.25);
* basket pairs: the first 46 rules by lift all pair products that belong together (anchor and
  companion, machine and consumable, two consumables of one machine); every anchor -> companion
  rule is among the top 37;
* sequence pairs: 10 of the 11 anchor -> companion rules are among the top 20 (Laptop 16" ->
  sleeve has 4 later buyers, below the 5 required); the first rule between unrelated products
  is the 21st.

With seed 7 the figures are alike (intervals within 6.7 %, companions in the top 37 basket
and top 21 sequence rules, the first unrelated basket rule 47th; the toner has 15 intervals,
short of 20, and is not flagged). At 5,000 customers (seed 42) the toner (4 repeat buyers)
and two pairs (bicycle, camera: 2 and 4 baskets) lack evidence, so the larger shop is used
here. Tolerances: ±10 % on intervals; top 40 basket rules, top 25 sequence rules.
"""

import pytest

from retainly import Workspace
from retainly.features.associations import basket_pairs, sequence_pairs
from retainly.features.replenishment import MIN_INTERVALS, MIN_REPEAT_BUYERS, product_intervals
from retainly.synth.catalog import build_catalog

pytestmark = pytest.mark.slow

INTERVAL_TOLERANCE = 0.10
TOP_BASKET_RULES = 40
TOP_SEQUENCE_RULES = 25


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    ws = Workspace.open(f"duckdb:///{tmp_path_factory.mktemp('generated')}/shop.duckdb")
    ws.data.generate(10_000, 42)
    as_of = ws.data.last_order_date()
    truth = ws.store.table("generator_product_truth").to_pandas()
    yield ws, as_of, truth
    ws.close()


def belong_together() -> set[tuple[str, str]]:
    """Pairs the generator ties together, both ways: anchor-companion, machine-consumable, consumables of a machine."""
    catalog = build_catalog()
    sku = catalog.sku
    pairs = {(sku[a], sku[c]) for a, c in zip(catalog.companion_anchor, catalog.companions)}
    pairs |= {(sku[m], sku[c]) for m, c in zip(catalog.consumable_machine, catalog.consumables)}
    for machine in set(catalog.consumable_machine):
        mine = catalog.consumables[catalog.consumable_machine == machine]
        pairs |= {(sku[x], sku[y]) for x in mine for y in mine if x != y}
    return pairs | {(b, a) for a, b in pairs}


def test_consumables_and_their_intervals(shop):
    ws, as_of, truth = shop
    table = product_intervals(ws.store, as_of).merge(truth, on="sku")
    true = table[table["reorder_interval_days"].notna()]
    evident = true[(true.repeat_buyers >= MIN_REPEAT_BUYERS) & (true.intervals >= MIN_INTERVALS)]
    assert len(evident) == 11
    assert evident["consumable"].all()
    error = evident["median_days"] / evident["reorder_interval_days"].astype(float) - 1
    assert error.abs().max() <= INTERVAL_TOLERANCE, evident[["sku", "median_days", "reorder_interval_days"]]
    false_consumables = table[table["consumable"] & table["reorder_interval_days"].isna()]
    assert false_consumables.empty, false_consumables[["sku", "name", "repeat_share", "spread"]]


def companion_ranks(pairs, truth) -> dict[str, int | None]:
    """1-based rank of each anchor -> companion rule in ``pairs`` (None when absent)."""
    rank = {(a, b): i + 1 for i, (a, b) in enumerate(zip(pairs.sku_a, pairs.sku_b))}
    companions = truth[truth["companion_of"].notna()]
    return {sku: rank.get((anchor, sku)) for sku, anchor in zip(companions.sku, companions.companion_of)}


def test_basket_pairs_recover_the_companions(shop):
    ws, as_of, truth = shop
    pairs = basket_pairs(ws.store, as_of)
    ranks = companion_ranks(pairs, truth)
    assert len(ranks) == 11
    assert all(r is not None and r <= TOP_BASKET_RULES for r in ranks.values()), ranks
    top = set(zip(pairs.sku_a[:TOP_BASKET_RULES], pairs.sku_b[:TOP_BASKET_RULES]))
    assert top <= belong_together(), top - belong_together()


def test_sequence_pairs_recover_the_companions(shop):
    ws, as_of, truth = shop
    ranks = companion_ranks(sequence_pairs(ws.store, as_of), truth)
    found = [sku for sku, r in ranks.items() if r is not None and r <= TOP_SEQUENCE_RULES]
    assert len(found) >= 10, ranks
