"""Net Promoter Score (retainly.features.nps) on hand-counted answers, imported as contacts.

The run loop's hand-made shop (tests/playbooks/test_run.py; its customers' acquisition channel is
empty, so "unknown"), with these feedback answers (customer: score on day, as of 2024-06-15):

    T3   2 on 06-01, then 9 on 06-10  -> latest 9: promoter        (June: 9)
    T4   10 on 06-12                  -> promoter                   (June)
    N1   7 on 05-20                   -> passive                    (May)
    N2   6 on 05-02                   -> detractor                  (May)
    W60  0 on 2023-01-10              -> outside the 365 days; in no month of the last 12
    R1   "great" on 06-01             -> not a score: not counted

365 days: 4 answers, 2 promoters, 1 passive, 1 detractor: NPS = 100 * (2 - 1) / 4 = 25.0.
By month: 2024-05: N1 passive, N2 detractor -> 100 * (0 - 1) / 2 = -50.0; 2024-06: T3 (latest
in June: 9), T4 -> 100.0. A window of 30 days: T3 9, T4 10, N1 7 -> 100 * 2 / 3 = 66.7.
"""

from __future__ import annotations

import csv
from datetime import date

import pytest

from retainly import Workspace
from retainly.errors import InputError
from tests.playbooks.test_run import AS_OF, load_shop, settings_file, write_shop

ANSWERS = [("T3", "2024-06-01 10:00", "2"), ("T3", "2024-06-10 10:00", "9"), ("T4", "2024-06-12 10:00", "10"),
           ("N1", "2024-05-20 10:00", "7"), ("N2", "2024-05-02 10:00", "6"), ("W60", "2023-01-10 10:00", "0"),
           ("R1", "2024-06-01 10:00", "great")]


@pytest.fixture
def shop(store_url, tmp_path):
    ws = Workspace.open(store_url, settings=settings_file(tmp_path))
    load_shop(ws, write_shop(tmp_path / "shop"))
    path = tmp_path / "interactions.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["interaction_id", "customer_id", "occurred_at", "kind", "direction", "outcome"])
        for number, (customer, moment, score) in enumerate(ANSWERS, start=1):
            out.writerow([f"F{number}", customer, moment, "feedback", "inbound", score])
    assert ws.data.import_file("interactions", path).rows_rejected == 0
    yield ws
    ws.close()


def figures(table) -> list[tuple]:
    return [(r.group, r.answers, r.promoters, r.passives, r.detractors, r.nps) for r in table.rows]


def test_nps_counts_each_customers_latest_answer_in_the_window(shop):
    assert figures(shop.measures.nps(as_of=AS_OF)) == [("all", 4, 2, 1, 1, 25.0)]
    assert figures(shop.measures.nps(as_of=AS_OF, days=30)) == [("all", 3, 2, 1, 0, 66.7)]
    assert figures(shop.measures.nps("channel", as_of=AS_OF)) == [("unknown", 4, 2, 1, 1, 25.0)]
    assert figures(shop.measures.nps_trend(as_of=AS_OF)) == [("2024-05", 2, 0, 1, 1, -50.0),
                                                            ("2024-06", 2, 2, 0, 0, 100.0)]
    assert shop.measures.nps().as_of == AS_OF  # the later of the last order's and the last answer's day


def test_nps_by_an_unknown_grouping_is_refused(shop):
    with pytest.raises(InputError, match="`by` 'colour': choose all, segment, stage, buyer_type, channel"):
        shop.measures.nps("colour", as_of=date(2024, 6, 15))


def test_nps_by_segment_puts_each_answer_in_its_customers_segment_of_the_day(shop):
    table = shop.measures.nps("segment", as_of=AS_OF)
    segments = dict(shop.store.fetchall(
        "SELECT c.external_id, r.segment FROM rfm_scores AS r JOIN customers AS c USING (customer_id) "
        "WHERE r.as_of = ?", (AS_OF,)))
    expected: dict[str, list[int]] = {}
    for customer, score in (("T3", 9), ("T4", 10), ("N1", 7), ("N2", 6)):
        expected.setdefault(segments.get(customer, "unknown"), []).append(score)
    assert {r.group: (r.answers, r.promoters, r.detractors) for r in table.rows} == {
        group: (len(scores), sum(s >= 9 for s in scores), sum(s <= 6 for s in scores))
        for group, scores in expected.items()}


def test_the_report_shows_nps_by_segment_and_by_month(shop):
    from retainly.views.report import render_report

    data = shop.reports.data()
    assert sum(row.answers for row in data.shop.nps.rows) == 4
    assert [(r.group, r.nps) for r in data.shop.nps_trend.rows] == [("2024-05", -50.0), ("2024-06", 100.0)]
    html = render_report(data)
    assert 'id="nps-by-segment"' in html
    assert '<td>2024-05</td><td class="num">2</td><td class="num">-50.0</td>' in html
