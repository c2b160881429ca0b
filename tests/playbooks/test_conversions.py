"""What each message brought, on the generated shop, and the product cards its messages show.

The generated shop of 3,000 customers (seed 11) runs cross-sell, win-back-60 and the replenishment
reminder as of its last order (2025-12-31; messages due at noon, goal windows 30, 30 and 21
days; deliveries to the file channel). The expected counts come from two places:

* an independent implementation of the documented rule (``expected_results`` below, in Python
  over the store's rows: last touch per order, clicked before delivered, within the window);
* hand-checked cases added after the run, whose effect on the counts is written out by hand:

    case  the customer                        added                                   effect
    A     cross-sell only                     orders of 40.00 (Jan 3) and 15.00 (Jan 10)  cross-sell +2 orders, +1
                                                                                      customer, +55.00
    B     win-back-60 only                    an order of 30.00 on Feb 15 (46 days)   none: past the window
    C     cross-sell and replenishment        a click on the cross-sell message (Jan 2), cross-sell +1, +1, +25.00
                                              an order of 25.00 (Jan 5)               (without the click the
                                                                                      replenishment key is last)
    D     held out of cross-sell              an order of 50.00 (Jan 3)               none: no message
    E     win-back-60 only                    an order of 20.00 (Jan 20)              win-back-60 +1, +1, +20.00

Chosen among customers without an order after the run's noon, so nothing else moves.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from retainly import Workspace
from retainly.messaging.message_events import event_id, record_event
from tests.conftest import generated_copy
from tests.playbooks.test_run import settings_file

PLAYBOOKS = ("cross-sell", "win-back-60", "replenishment-reminder")
AS_OF = date(2025, 12, 31)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def run(request, tmp_path_factory, store_templates):
    folder = tmp_path_factory.mktemp(f"conversions-{request.param}")
    with pytest.MonkeyPatch.context() as patch, generated_copy(store_templates, request.param, 3000, 11,
                                                                folder) as (url, _):
        patch.setenv("RETAINLY_OUTBOX_DIR", str(folder / "outbox"))
        ws = Workspace.open(url, settings=settings_file(folder))
        try:
            ws.playbooks.enable(list(PLAYBOOKS))  # the default holdout: 10 %
            assert ws.playbooks.run().as_of == AS_OF
            yield ws, folder
        finally:
            ws.close()


def counts(results) -> dict[tuple[str, int], tuple]:
    return {(r.playbook, r.step): (r.delivered, r.converted, r.orders, round(r.revenue, 2)) for r in results}


def expected_results(ws: Workspace, until: datetime) -> dict[tuple[str, int], tuple]:
    """The attribution rule of docs/email.md written again, row by row, in Python."""
    goal = {(p, c, o): g for p, c, o, g in ws.store.fetchall(
        "SELECT playbook, customer_id, occurrence, goal_days FROM enrolments")}
    clicked = dict(ws.store.fetchall(
        "SELECT message_key, MIN(occurred_at) FROM message_events WHERE kind = 'click' GROUP BY message_key"))
    messages = defaultdict(list)
    delivered = defaultdict(int)
    for key, playbook, step, customer, occurrence, due in ws.store.fetchall(
            "SELECT key, playbook, step, customer_id, occurrence, due_at FROM outbox WHERE status = 'sent'"):
        if due < until:
            messages[int(customer)].append((key, playbook, int(step), due, goal[(playbook, customer, occurrence)]))
            delivered[(playbook, int(step))] += 1
    orders, customers, revenue = defaultdict(int), defaultdict(set), defaultdict(float)
    for _, customer, placed, amount in ws.store.fetchall(
            "SELECT order_id, customer_id, placed_at, CAST(revenue AS DOUBLE PRECISION) FROM purchases "
            "WHERE customer_id IS NOT NULL"):
        if placed >= until:
            continue
        covering = [m for m in messages.get(int(customer), ()) if m[3] <= placed < m[3] + timedelta(days=m[4])]
        if not covering:
            continue
        key, playbook, step, *_ = max(covering, key=lambda m: (
            clicked.get(m[0]) is not None and clicked[m[0]] <= placed, m[3], m[0]))
        orders[(playbook, step)] += 1
        customers[(playbook, step)].add(int(customer))
        revenue[(playbook, step)] += amount
    return {found: (delivered[found], len(customers[found]), orders[found], round(revenue[found], 2))
            for found in delivered}


def pick(ws: Workspace) -> dict[str, tuple[int, str]]:
    """The customers of cases A-E (the first by id of each kind): (customer id, the shop's id)."""
    noon = datetime(2025, 12, 31, 12)
    later = {int(c) for (c,) in ws.store.fetchall("SELECT customer_id FROM purchases WHERE placed_at >= ?", (noon,))
             if c is not None}
    sent = defaultdict(set)
    for playbook, customer in ws.store.fetchall("SELECT playbook, customer_id FROM outbox WHERE status = 'sent'"):
        sent[int(customer)].add(playbook)
    held = {int(c) for (c,) in ws.store.fetchall(
        "SELECT customer_id FROM enrolments WHERE playbook = 'cross-sell' AND arm = 'holdout'")}
    external = dict(ws.store.fetchall("SELECT customer_id, external_id FROM customers"))

    def first(test, skip=()):
        found = min(c for c in set(sent) | held if c not in later and c not in skip and test(c))
        return found, external[found]

    a = first(lambda c: sent.get(c) == {"cross-sell"})
    b = first(lambda c: sent.get(c) == {"win-back-60"})
    c = first(lambda c: sent.get(c) == {"cross-sell", "replenishment-reminder"})
    d = first(lambda c: c in held and c not in sent)
    e = first(lambda c: sent.get(c) == {"win-back-60"}, skip={b[0]})
    return {"A": a, "B": b, "C": c, "D": d, "E": e}


def add_orders(ws: Workspace, folder: Path, orders: list[tuple[str, str, str]]) -> None:
    """Orders of one line (sku, amount) as the shop's export would bring them: (shop's id, day, amount)."""
    path = folder / "later-orders.csv"
    lines = ["order_id,customer_id,placed_at,sku,quantity,unit_price"]
    lines += [f"LATE-{n},{customer},{day} 10:00:00,SKU-1001,1,{amount}" for n, (customer, day, amount)
              in enumerate(orders, start=1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ws.data.import_file("orders", path)
    assert result.rows_rejected == 0, result.rejects


@pytest.mark.slow
def test_conversions_follow_the_rule_on_the_generated_shop_and_the_hand_checked_cases(run):
    ws, folder = run
    until = datetime(2026, 3, 1)
    before = counts(ws.playbooks.results(as_of=date(2026, 2, 28)))
    assert before == expected_results(ws, until)
    assert set(before) == {(name, 1) for name in PLAYBOOKS} and all(v[0] > 50 for v in before.values())

    cases = pick(ws)
    [(c_key, c_customer)] = ws.store.fetchall(
        "SELECT key, customer_id FROM outbox WHERE playbook = 'cross-sell' AND customer_id = ?", (cases["C"][0],))
    with ws.store.transaction():
        clicked = datetime(2026, 1, 2, 8)
        record_event(ws.store, event_id("click", c_key, "https://shop.example.com/"), "click", c_key,
                     int(c_customer), "https://shop.example.com/", clicked, clicked)
    add_orders(ws, folder, [(cases["A"][1], "2026-01-03", "40.00"), (cases["A"][1], "2026-01-10", "15.00"),
                            (cases["B"][1], "2026-02-15", "30.00"), (cases["C"][1], "2026-01-05", "25.00"),
                            (cases["D"][1], "2026-01-03", "50.00"), (cases["E"][1], "2026-01-20", "20.00")])
    after = counts(ws.playbooks.results(as_of=date(2026, 2, 28)))
    assert after == expected_results(ws, until)
    change = {found: tuple(round(a - b, 2) for a, b in zip(after[found], before[found])) for found in after}
    assert change == {("cross-sell", 1): (0, 2, 3, 80.0), ("win-back-60", 1): (0, 1, 1, 20.0),
                      ("replenishment-reminder", 1): (0, 0, 0, 0.0)}


@pytest.mark.slow
def test_each_reminder_shows_its_first_due_product_with_picture_price_and_link(run):
    """Per reminder: the due product first by name (independently, in Python), with the page,
    picture and price of the generated catalogue (SHOP_URL/products/<sku>, two decimals)."""
    ws, _ = run
    products = {sku: (name, url, image, price) for sku, name, url, image, price in ws.store.fetchall(
        "SELECT sku, name, url, image_url, CAST(price AS DOUBLE PRECISION) FROM products")}
    due = defaultdict(list)
    for customer, sku in ws.store.fetchall("SELECT customer_id, sku FROM reorders_due WHERE as_of = ?", (AS_OF,)):
        due[int(customer)].append((products[sku][0], sku))
    rows = ws.store.fetchall("SELECT customer_id, payload FROM outbox WHERE playbook = 'replenishment-reminder'")
    assert len(rows) > 50
    for customer, payload in rows:
        html = json.loads(payload)["html"]
        name, url, image, price = products[min(due[int(customer)])[1]]
        assert url == f"https://shop.example.com/products/{min(due[int(customer)])[1].lower()}"
        assert f'<a href="{url}"><img src="{image}" alt="{name}"' in html
        assert f'style="font-weight:bold;">{name}</a><br>{price:.2f}</td>' in html
