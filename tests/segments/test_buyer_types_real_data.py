"""Buyer types on Online Retail II (../shared/datasets), on DuckDB and PostgreSQL.

There is no truth here, so the test pins the distribution as measured, as of the last order
day (2011-12-09). The online-retail-ii preset maps no promo codes (the file has none), no
order or line discounts and no promotion calendar. Its discount stock code 'D' becomes a
line of kind 'discount': 168 of them sit on cancellation (C) invoices and become returns;
the 5 on sales invoices carry a positive price, so the loader's order discount
(line discounts less discount lines) is negative there, never positive. So promotions are
unknown, the note says so, and nobody is labelled discount_only.
"""

from datetime import date

import pytest

from retainly.segments import buyer_types as bt
from tests.conftest import ONLINE_RETAIL, needs_shared_data

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@needs_shared_data(ONLINE_RETAIL)
def test_online_retail_ii_buyer_types(online_retail):
    workspace, _ = online_retail  # the file imported into a new store (tests/conftest.py)
    store = workspace.store
    assert store.fetchone("SELECT COUNT(*) FROM order_lines WHERE kind = 'discount'")[0] == 5
    assert store.fetchone("SELECT COUNT(*) FROM orders WHERE discount > 0")[0] == 0

    result = bt.distribution(store)
    assert result["as_of"] == date(2011, 12, 9) and result["customers"] == 5_881
    assert result["promotion_sources"] == {"promo_code": False, "discount": False, "sale_period": False}
    assert result["promotion_note"].startswith("promotions unknown:")
    # The median gap between a customer's consecutive orders is 24.7 days: gone = max(180, 74) = 180.
    assert round(result["typical_gap_days"], 2) == 24.74
    assert (result["gone_days"], result["enough_history_days"]) == (180, 180)
    assert [(r["label"], r["customers"], r["share"]) for r in result["labels"]] == [
        ("hit_and_run", 2_193, 0.3729),
        ("discount_only", 0, 0.0),
        ("active", 2_786, 0.4737),
        ("not enough history", 902, 0.1534),
    ]

    # The early classifier learns from the shop's own settled customers: two types here.
    after_2 = bt.train_classifier(store, None, 2)
    assert after_2.classes == ("active", "hit_and_run")
    assert after_2.training_customers == 3_429
    cross_validated = after_2.cross_validated
    assert cross_validated["macro_f1"] == pytest.approx(0.583, abs=0.01)  # baseline 0.4107
    assert cross_validated["macro_f1"] > cross_validated["baseline_macro_f1"]
    predicted = bt.predict_types(store, None, 2, classifier=after_2)
    assert len(predicted) == 197  # exactly two orders, first less than 180 days before the end
    assert (predicted["p_discount_only"] == 0.0).all()
