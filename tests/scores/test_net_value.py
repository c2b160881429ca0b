"""Returns in value, end to end: a customer whose purchases all came back (Online Retail II's
12346: credit notes tied to no order) has no positive CLV and is not a VIP. DuckDB and PostgreSQL.

The hand-checked model shop (tests/features/model_shop.py) plus customer Z, the biggest spender:
Feb 1 3,000 and Mar 1 2,000 (a repeat buyer, own rhythm 29 days, last order 30 days before
AS_OF: P(alive) 1 by the heuristics) and a credit note of 5,000 on Mar 5 tied to no order.
Gross of returns Z would be worth far more than anyone (spend 2,000 a purchase) and the one VIP
of the five customers (top 5 %, rounded up); net, Z has kept nothing.
"""

from __future__ import annotations

from tests.features.model_shop import AS_OF, customer_ids, load_model_shop

ORDERS = """order_id,customer_id,placed_at,status,currency,channel,promo_code,country,shipping,tax,order_discount,line_no,sku,description,quantity,unit_price,line_discount,line_amount,kind
Z1,Z,2024-02-01 10:00:00,completed,EUR,online,,,0,0,,1,P1,Product,30,100.00,,,merchandise
Z2,Z,2024-03-01 10:00:00,completed,EUR,online,,,0,0,,1,P1,Product,20,100.00,,,merchandise
"""
RETURNS = """return_id,line_no,customer_id,order_id,order_line_no,returned_at,sku,quantity,unit_price,amount,reason
CZ,1,Z,,,2024-03-05 12:00:00,P1,50,,5000.00,cancellation
"""


def test_everything_returned_is_no_vip_and_worth_nothing(workspace, tmp_path):
    ws = load_model_shop(workspace)
    for kind, text in (("orders", ORDERS), ("returns", RETURNS)):
        path = tmp_path / f"z_{kind}.csv"
        path.write_text(text, encoding="utf-8")
        assert ws.data.import_file(kind, path).rows_rejected == 0
    fit = ws.predictions.fit(as_of=AS_OF)
    ids = customer_ids(ws)
    scores = {row["customer_id"]: row for row in ws.predictions.scores(AS_OF).to_pylist()}
    z = scores[ids["Z"]]
    assert z["p_alive"] == 1.0 and z["expected_orders"] > 0  # still likely to buy ...
    assert z["expected_spend"] == 0.0 and z["clv"] == 0.0  # ... but keeps nothing of it
    assert fit.spend_params["return_rate"] > 0
    stages = {row.customer_id: row for row in ws.lifecycle.customers(AS_OF)}
    assert not stages[ids["Z"]].vip
    # The one VIP (5 customers x 5 %, rounded up) is the customer with the largest CLV among the others.
    best = max((row for number, row in scores.items() if number != ids["Z"]), key=lambda row: row["clv"])
    assert best["clv"] > 0
    assert [number for number, row in stages.items() if row.vip] == [best["customer_id"]]
