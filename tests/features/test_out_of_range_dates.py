"""A stored order dated 9999-12-31 (or 0001-01-01) breaks no analysis: analyses read the orders
dated from 1900-01-01 through tomorrow, so every result equals the one of the same shop without
those orders, `summary` names them, and `delete orders` removes them.

The dates are written with SQL, as an import before dates were checked at import would have
stored them: one purchase order of customer A on each date, a return, a contact and a site
event on 9999-12-31.
"""

from __future__ import annotations

from datetime import date

import pytest

from retainly import Workspace
from retainly.cli.app import main
from tests.conftest import kpi_shop_url

LAST_ORDER = date(2024, 3, 20)  # the KPI shop's last purchase order (D2)
FAR = (("Z9", "9999-12-31 00:00:00"), ("Z0", "0001-01-01 00:00:00"))


def add_far_dates(ws: Workspace) -> None:
    s = ws.store
    for order_id, moment in FAR:
        s.execute("INSERT INTO orders (order_id, customer_id, placed_at, status, gross, discount, shipping, tax, net, "
                  f"import_id) VALUES (?, 1, TIMESTAMP '{moment}', 'completed', 10, 0, 0, 0, 10, 2)", (order_id,))
        s.execute("INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price, discount, amount, kind) "
                  "VALUES (?, 1, 'P1', 1, 10, 0, 10, 'merchandise')", (order_id,))
        s.execute(f"INSERT INTO purchases (order_id, customer_id, placed_at, revenue) "
                  f"VALUES (?, 1, TIMESTAMP '{moment}', 10)", (order_id,))
    s.execute("INSERT INTO returns (return_id, line_no, customer_id, order_id, returned_at, amount) "
              "VALUES ('RZ', 1, 1, 'A1', TIMESTAMP '9999-12-31 00:00:00', 5)")
    s.execute("INSERT INTO interactions (interaction_id, customer_id, occurred_at, kind) "
              "VALUES ('IZ', 1, TIMESTAMP '9999-12-31 00:00:00', 'call')")
    s.execute("INSERT INTO site_events (event_id, customer_id, occurred_at, kind) "
              "VALUES ('EZ', 1, TIMESTAMP '9999-12-31 00:00:00', 'visit')")


def analyses(ws: Workspace) -> dict:
    """Every analysis with its default dates, as plain data (times of computation left out)."""
    fit = ws.predictions.fit()
    view = ws.customers.view("A")
    report = ws.reports.data().shop
    return {
        "as_of": ws.data.last_order_date(),
        "summary": ws.data.summary(),
        "kpis": ws.measures.kpis(), "kpis by month": ws.measures.kpis(by="month"),
        "cohorts": ws.measures.cohorts(),
        "rfm": ws.rfm.compute().customers, "segments": ws.rfm.segments(),
        "fit": (fit.as_of, fit.model, fit.customers, fit.repeat_buyers, fit.reason),
        "scores": ws.predictions.scores().drop_columns(["fit_id"]).to_pylist(),
        "stages": ws.lifecycle.counts(), "buyer types": ws.insights.buyer_type_mix(),
        "customer": (view.kpis, view.rfm, view.lifecycle),
        "report": (report.as_of, report.store_first, report.unit, report.kpis, report.trend, report.segments,
                   report.retention, report.stages),
    }


@pytest.fixture(params=["duckdb", "postgres"])
def shops(request, tmp_path, store_templates):
    """The KPI shop with the far dates, and without them: two fresh stores of their own on the same engine,
    each holding the KPI shop alone (copies of one loaded once per session, tests/conftest.py)."""
    (tmp_path / "dirty").mkdir()
    (tmp_path / "clean").mkdir()
    with kpi_shop_url(store_templates, request.param, tmp_path / "dirty") as dirty_url, \
            kpi_shop_url(store_templates, request.param, tmp_path / "clean") as clean_url:
        dirty = Workspace.open(dirty_url)
        add_far_dates(dirty)
        clean = Workspace.open(clean_url)
        yield dirty, clean
        dirty.close()
        clean.close()


def test_every_analysis_leaves_the_far_dates_out(shops):
    dirty, clean = shops
    found = analyses(dirty)
    assert found["as_of"] == LAST_ORDER
    assert found == analyses(clean)


def test_summary_names_them_and_delete_removes_them(shops):
    dirty, clean = shops
    left = dirty.data.left_out_orders()
    assert left.count == 2
    assert [(o.order_id, o.placed_at[:10]) for o in left.first] == [("Z0", "0001-01-01"), ("Z9", "9999-12-31")]
    assert left.analysed_from == date(1900, 1, 1)
    assert (left.analysed_through - date.today()).days == 1  # through tomorrow
    done = dirty.data.delete("orders", ["Z9", "Z0"])
    assert done.rows_removed == {"order_lines": 2, "purchases": 2, "orders": 2}
    assert dirty.data.left_out_orders().count == 0
    assert dirty.data.summary() == clean.data.summary()


def run(capsys, db: str, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["--db", db, *args])
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


COMMANDS = (["summary"], ["kpis"], ["kpis", "--by", "month"], ["cohorts"], ["rfm"], ["segments"], ["score"],
            ["lifecycle"], ["buyer-types"], ["reorders"], ["customer", "show", "A"], ["customer", "show", "A", "--json"])


def test_every_command_runs(kpi_shop_db, capsys, tmp_path):
    store_url = kpi_shop_db  # a fresh store holding the KPI shop alone
    ws = Workspace.open(store_url)
    add_far_dates(ws)
    ws.close()
    for argv in COMMANDS:
        code, out, err = run(capsys, store_url, *argv)
        assert (argv, code) == (argv, 0), err
    code, out, err = run(capsys, store_url, "report", "--out", str(tmp_path / "report.html"))
    assert code == 0, err
    code, out, err = run(capsys, store_url, "summary")
    assert err == ("warning: 2 purchase orders are dated outside 1900-01-01.."
                   f"{date.fromordinal(date.today().toordinal() + 1)} and left out of this summary and every "
                   "analysis: Z0 (0001-01-01 00:00:00), Z9 (9999-12-31 00:00:00); fix their dates and import them "
                   "again, or remove them with `retainly delete orders Z0 Z9`\n")
    assert "2024-03-20 12:00:00" in out  # the last order the analyses see
    code, out, err = run(capsys, store_url, "delete", "orders", "Z0", "Z9", "--yes")
    assert (code, err) == (0, "")
    code, out, err = run(capsys, store_url, "summary")
    assert (code, err) == (0, "")


def test_the_model_backtest_ignores_them(store_url):
    # Big enough for a backtest (the KPI shop is fitted by heuristics without one).
    with Workspace.open(store_url) as ws:
        ws.data.generate(400, seed=7)
        before = ws.predictions.fit()
        add_far_dates(ws)
        after = ws.predictions.fit()
    assert before.backtest is not None
    assert (after.as_of, after.model, after.reason, after.params, after.backtest) == (
        before.as_of, before.model, before.reason, before.params, before.backtest)


@pytest.mark.parametrize("argv, flag, day", [
    (["rfm", "--as-of", "9999-12-31"], "--as-of", "9999-12-31"),
    (["kpis", "--to", "9999-12-31"], "--to", "9999-12-31"),
    (["kpis", "--from", "0001-01-01"], "--from", "0001-01-01"),
    (["score", "--as-of", "2200-01-01"], "--as-of", "2200-01-01"),
    (["customer", "show", "A", "--as-of", "9999-12-31"], "--as-of", "9999-12-31"),
    (["segments", "--from", "1899-12-31"], "--from", "1899-12-31"),
    (["lifecycle", "--from", "0999-01-01"], "--from", "0999-01-01"),
    (["backtest", "--calibration-end", "9999-01-01"], "--calibration-end", "9999-01-01"),
])
def test_a_day_no_analysis_can_reach_is_refused(capsys, kpi_shop_db, argv, flag, day):
    store_url = kpi_shop_db  # a fresh store holding the KPI shop alone
    assert run(capsys, store_url, *argv) == (1, "", f"error: {flag} {day} is outside the days retainly can analyse "
                                             "(1900-01-01 to 2199-12-31); pick a day in between\n")
