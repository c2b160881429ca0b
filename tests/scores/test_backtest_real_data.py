"""Backtests on Online Retail II (../shared/datasets), imported once into a DuckDB store.

Reference figures are the dataset README's (../shared/datasets/README.md, "Calibration /
holdout splits on clean purchases, counting one purchase per customer per day"):

    calibration ends 2010-12-09 (holdout 52 weeks): 4,312 customers, 2,893 repeat buyers,
        2,698 active in the holdout, 12,264 holdout purchase days; plain BG/NBD about +53 %
    calibration ends 2011-06-09 (holdout 26 weeks): BG/NBD within 2 %

retainly's figures differ slightly, for reasons checked against the store below:

* 4,314 customers, not 4,312: the README's "clean purchases" need price > 0, retainly's
  purchase orders only a line of positive quantity (an order of free items still counts,
  retainly.store.purchases). The two extra customers, 14103 and 14827, each have one order
  only, on 2010-02-12: five TEST001 at price 0 (invoices 497819 and 497843).
* 12,266 holdout purchase days, not 12,264: two days with free items only, customer 17560 on
  2011-02-10 (16 notebooks at price 0, invoice 543599) and 12748 on 2011-09-27 ("M", Manual,
  at price 0, invoice 568384). The 2,698 active customers are the same.
* 2,818 repeat buyers, not 2,893: the README's 2,893 counts customers with two or more
  invoices; by purchase days (what the models count) there are 2,818, whichever purchase
  definition is used.
* BG/NBD over-predicts the first holdout by +54.3 % (measured), asserted as 50-58 %; on the
  second split it is -1.35 %, asserted within 2 %.
"""

from datetime import date

import pytest

from retainly import Workspace
from tests.conftest import ONLINE_RETAIL, needs_shared_data, online_retail_copy

pytestmark = [pytest.mark.realdata, pytest.mark.slow, needs_shared_data(ONLINE_RETAIL)]

FIRST_CUT, SECOND_CUT, END = date(2010, 12, 9), date(2011, 6, 9), date(2011, 12, 9)
# The README's "clean purchases": known customer, not a cancellation or adjustment, a line with
# quantity > 0 and price > 0 (the overlap of the two source sheets is removed on import).
CLEAN = """SELECT o.order_id, o.customer_id, o.placed_at FROM orders o
    WHERE o.customer_id IS NOT NULL AND o.status NOT IN ('cancelled', 'adjustment')
    AND EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.order_id AND l.quantity > 0 AND l.unit_price > 0)"""
OURS = "SELECT order_id, customer_id, placed_at FROM purchases WHERE customer_id IS NOT NULL"
BY_CUT = "placed_at < TIMESTAMP '2010-12-10'"


@pytest.fixture(scope="module")
def retail(tmp_path_factory, store_templates):
    # A copy of a new DuckDB store into which the file was imported (tests/conftest.py).
    folder = tmp_path_factory.mktemp("online_retail")
    with online_retail_copy(store_templates, "duckdb", folder) as (url, _):
        ws = Workspace.open(url)
        yield ws
        ws.close()


@pytest.fixture(scope="module")
def first_split(retail):
    return retail.predictions.backtest(FIRST_CUT, END, ["bgnbd"])


def test_first_split_counts_and_bgnbd_over_prediction(first_split):
    assert first_split.calibration_end == date(2010, 12, 9) and first_split.holdout_end == date(2011, 12, 9)
    [bgnbd] = first_split.models
    assert bgnbd["customers"] == 4_314  # README 4,312: see the module docstring
    assert bgnbd["actual_purchases"] == 12_266  # README 12,264
    assert 0.50 <= bgnbd["aggregate_error"] <= 0.58  # measured +54.3 %, README "about 53 %"
    assert bgnbd["tracking"][-1]["actual"] == 12_266


def test_first_split_summary(retail):
    from retainly.features.model_summary import holdout_activity, model_summary

    summary = model_summary(retail.store, FIRST_CUT)
    assert len(summary) == 4_314
    assert int((summary["frequency"] > 0).sum()) == 2_818  # purchase days; README's 2,893 counts invoices
    holdout = holdout_activity(retail.store, FIRST_CUT, END)
    buyers = int((holdout["purchases"] > 0).sum())
    assert (buyers, int(holdout["purchases"].sum())) == (2_698, 12_266)  # README: 2,698 active
    assert len(holdout) - buyers == 31  # customers who only returned something in the holdout (net spend < 0)
    assert (holdout.loc[holdout["purchases"] == 0, "spend"] < 0).all()


def test_the_differences_from_the_readme_are_free_items_and_invoices(retail):
    def one(sql):
        return retail.store.fetchone(sql)[0]

    # Customers by the cut-off: the README's 4,312 under its definition, 4,314 under retainly's.
    assert one(f"SELECT COUNT(DISTINCT customer_id) FROM ({CLEAN}) x WHERE {BY_CUT}") == 4_312
    assert one(f"SELECT COUNT(DISTINCT customer_id) FROM ({OURS}) x WHERE {BY_CUT}") == 4_314
    extra = retail.store.fetchall(
        f"SELECT c.external_id, l.sku, l.quantity, l.unit_price FROM purchases p "
        f"JOIN customers c ON c.customer_id = p.customer_id JOIN order_lines l ON l.order_id = p.order_id "
        f"WHERE p.customer_id IN (SELECT customer_id FROM ({OURS}) x WHERE {BY_CUT} "
        f"EXCEPT SELECT customer_id FROM ({CLEAN}) y WHERE {BY_CUT}) ORDER BY 1")
    assert [(row[0], row[1], row[2], float(row[3])) for row in extra] == [
        ("14103", "TEST001", 5, 0.0), ("14827", "TEST001", 5, 0.0)]  # all they ever ordered
    # Repeat buyers: 2,893 by invoices and 2,818 by purchase days, under either definition.
    for source in (CLEAN, OURS):
        by_invoices = one(f"SELECT COUNT(*) FROM (SELECT customer_id FROM ({source}) x WHERE {BY_CUT} "
                          "GROUP BY customer_id HAVING COUNT(*) >= 2) r")
        by_days = one(f"SELECT COUNT(*) FROM (SELECT customer_id FROM ({source}) x WHERE {BY_CUT} "
                      "GROUP BY customer_id HAVING COUNT(DISTINCT CAST(placed_at AS DATE)) >= 2) r")
        assert (by_invoices, by_days) == (2_893, 2_818)


def test_second_split_bgnbd_within_two_percent(retail):
    [bgnbd] = retail.predictions.backtest(SECOND_CUT, END, ["bgnbd"]).models
    assert bgnbd["customers"] == 4_971  # README 4,969: the same free-item orders
    assert bgnbd["actual_purchases"] == 7_798  # README 7,797
    assert abs(bgnbd["aggregate_error"]) < 0.02  # measured -1.35 %


def test_auto_score_names_its_backtest(retail):
    # History 2009-12-01 to 2011-12-09 is 738 days: the holdout is min(365, 738 // 3) = 246 days.
    fit = retail.predictions.fit(as_of=END)
    assert fit.model in ("bgnbd", "mbgnbd", "paretonbd") and fit.confidence == "model"
    assert fit.reason.startswith("backtest on 246 days before 2011-12-09: ")
    assert [row["model"] for row in fit.backtest] == ["bgnbd", "mbgnbd", "paretonbd"]
    assert (fit.customers, fit.repeat_buyers) == (5_881, 4_189)
    assert retail.store.fetchone("SELECT COUNT(*) FROM customer_scores WHERE as_of = ?", (END,))[0] == 5_881


def test_customers_who_returned_everything_are_worth_nothing(retail):
    # Online Retail II's 12346 bought 74,215 jars for 77,556.46 and its credit note (tied to no
    # order) returned them: 77,621.14 returned in all, net -64.68 (`retainly customer show 12346`);
    # 16446 did the same with 80,995 items. Gross, both were VIPs (CLV 17,163 and 158,580).
    from retainly.features.model_summary import model_summary
    from retainly.models import GammaGammaModel
    from retainly.models.returns import fit_net_spend

    summary = model_summary(retail.store, END).set_index("customer_id", drop=False)
    ids = dict(retail.store.fetchall("SELECT external_id, customer_id FROM customers "
                                     "WHERE external_id IN ('12346', '16446')"))
    assert tuple(summary.loc[ids["12346"], ["bought", "returned"]]) == pytest.approx((77_556.46, 77_621.14))
    spend = fit_net_spend(GammaGammaModel().fit(summary), summary)
    # The shop's rate, by plain SQL: the returns of customers who bought (by their purchase orders,
    # or by the return's customer when tied to no order) over what they bought, by END (all the data).
    # Returns of customers without a purchase in the data (bought before it began) count for no one.
    returned, bought = retail.store.fetchone(
        "SELECT (SELECT SUM(r.amount) FROM returns r LEFT JOIN purchases p ON p.order_id = r.order_id "
        "        WHERE COALESCE(p.customer_id, CASE WHEN r.order_id IS NULL THEN r.customer_id END) IN "
        "              (SELECT customer_id FROM purchases)),"
        "       (SELECT SUM(revenue) FROM purchases WHERE customer_id IS NOT NULL)")
    assert spend.returns.return_rate == pytest.approx(float(returned) / float(bought))
    assert round(spend.returns.return_rate, 4) == 0.0589
    expected = spend.expected_spend(summary.loc[[ids["12346"], ids["16446"]]])
    assert list(expected) == [0.0, 0.0]
