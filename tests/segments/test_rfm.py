"""RFM scores and segments on the hand-checked shop (tests/features/kpi_shop.py), both engines.

As of 2024-03-20, per customer (recency days, purchase orders, net monetary):
A (10, 3, 270), B (70, 1, 200), C (24, 2, 200), D (0, 2, 150), E (15, 1, 40).
With 5 customers and 5 bins the score is 1 + the number of customers strictly worse.
"""

import json
from datetime import date

import pytest

from retainly import Workspace
from retainly.errors import InputError
from retainly.settings import DEFAULT_GRID, SEGMENTS

AS_OF = date(2024, 3, 20)


@pytest.fixture
def shop(kpi_shop_store):
    return kpi_shop_store  # the KPI shop alone, in a fresh store of its own on each engine (tests/conftest.py)


def scores_by_customer(ws: Workspace, as_of=AS_OF) -> dict:
    rows = ws.rfm.scores(as_of).to_pylist()
    ids = dict(ws.store.fetchall("SELECT customer_id, external_id FROM customers"))
    return {ids[r["customer_id"]]: r for r in rows}


def test_scores_and_segments_by_hand(shop):
    run = shop.rfm.compute()
    assert (run.as_of, run.customers) == (AS_OF, 5)  # default as-of: the day of the last purchase order
    got = scores_by_customer(shop)
    assert {c: (r["recency_days"], r["frequency"], float(r["monetary"])) for c, r in got.items()} == {
        "A": (10, 3, 270.0), "B": (70, 1, 200.0), "C": (24, 2, 200.0), "D": (0, 2, 150.0), "E": (15, 1, 40.0)}
    # Recency ranked from longest ago: B, C, E, A, D. Ties share the lower score:
    # frequency B = E = 1 -> 1, C = D = 2 -> 3; monetary B = C = 200 -> 3.
    assert {c: (r["r_score"], r["f_score"], r["m_score"]) for c, r in got.items()} == {
        "A": (4, 5, 5), "B": (1, 1, 3), "C": (2, 3, 3), "D": (5, 3, 2), "E": (3, 1, 1)}
    # FM = rounded-up mean of F and M; the default grid gives:
    assert {c: r["segment"] for c, r in got.items()} == {
        "A": "Champions",  # R4 FM5
        "B": "Hibernating",  # R1 FM2
        "C": "At Risk",  # R2 FM3
        "D": "Potential Loyalist",  # R5 FM3
        "E": "About to Sleep",  # R3 FM1
    }


def test_scores_as_of_an_earlier_date_and_rerun_replaces(shop):
    shop.rfm.compute(date(2024, 1, 31))
    early = scores_by_customer(shop, date(2024, 1, 31))
    assert sorted(early) == ["A", "B"]  # only they had bought by then
    assert early["A"]["recency_days"] == 11 and early["A"]["frequency"] == 2
    shop.rfm.compute(date(2024, 1, 31))
    assert shop.store.fetchone("SELECT COUNT(*) FROM rfm_scores WHERE as_of = ?", (date(2024, 1, 31),))[0] == 2


def test_segment_summary(shop):
    rows = {row.segment: row for row in shop.rfm.segments()}
    assert set(rows) == {"Champions", "Hibernating", "At Risk", "Potential Loyalist", "About to Sleep"}
    champions = rows["Champions"]
    assert (champions.customers, champions.customer_share) == (1, 0.2)
    assert champions.revenue_share == round(270 / 860, 4)  # A's net of the shop's net
    assert champions.mean_recency_days == 10.0 and champions.action.startswith("Reward them")
    assert sum(r.customers for r in rows.values()) == 5


def test_moves_between_segments(shop):
    moves = {(m.from_segment, m.to_segment): m.customers for m in shop.rfm.moves(date(2024, 1, 31))}
    # On Jan 31 only A and B were customers; C, D, E arrived later.
    assert moves[("(not a customer yet)", "At Risk")] == 1  # C
    assert sum(n for (source, _), n in moves.items() if source == "(not a customer yet)") == 3
    assert sum(moves.values()) == 5
    with pytest.raises(InputError, match="must be before the as-of date"):
        shop.rfm.moves(date(2024, 3, 20))


def test_settings_file_overrides_grid_bins_and_window(shop, tmp_path):
    grid = [list(row) for row in DEFAULT_GRID]
    grid[1][4] = "Loyal"  # R4 FM5 (customer A) becomes Loyal instead of Champions
    rows = "\n".join(f"  [{', '.join(json.dumps(name) for name in row)}]," for row in grid)
    settings = tmp_path / "retainly.toml"
    settings.write_text(f'[kpis]\nactivity_window_days = 30\n\n[rfm]\nbins = 5\ngrid = [\n{rows}\n]\n'
                        '[rfm.actions]\n"Loyal" = "Thank them."\n')
    ws = Workspace(shop.store, settings_path=settings)
    ws.rfm.compute()
    assert scores_by_customer(ws)["A"]["segment"] == "Loyal"
    assert {r.segment: r.action for r in ws.rfm.segments()}["Loyal"] == "Thank them."
    assert ws.measures.kpis(by="month")[1].churn_rate == 1.0  # the 30-day window from the file


def test_other_bin_counts_map_onto_the_grid(shop):
    shop.rfm.compute(bins=10)
    got = scores_by_customer(shop)
    # 10 bins over 5 customers: score = 1 + floor(10 * rank / 5) = 1 + 2 * rank.
    assert got["D"]["r_score"] == 9 and got["B"]["r_score"] == 1
    assert {r["bins"] for r in got.values()} == {10}
    assert got["A"]["segment"] == "Champions"  # R 7 -> ceil(7 * 5 / 10) = 4; F, M 9 -> 5


def test_bad_settings_file(tmp_path, shop):
    bad = tmp_path / "retainly.toml"
    bad.write_text("[rfm]\nbins = 0\n")
    with pytest.raises(InputError) as error:
        Workspace(shop.store, settings_path=bad).rfm.compute()
    assert str(error.value) == f"{bad} [rfm] bins = 0: give a whole number of at least 1"
    bad.write_text('[rfm]\ngrid = [["Lost"]], ["x"]\n')
    with pytest.raises(InputError, match="not valid TOML"):
        Workspace(shop.store, settings_path=bad).rfm.segments()
    bad.write_text('[rfm]\ngrid = [["Lost", "New"], ["Lost"]]\n')
    with pytest.raises(InputError, match="must be a square list"):
        Workspace(shop.store, settings_path=bad).rfm.segments()


def test_default_grid_names_every_segment_once_at_least():
    assert {name for row in DEFAULT_GRID for name in row} == set(SEGMENTS)

