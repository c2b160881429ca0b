"""`retainly kpis`, `rfm`, `segments`, `cohorts` and `customer show` through the console script."""

import csv
import json

import pytest

from tests.cli.running import run
from tests.features.kpi_shop import KPI_SHOP


def import_kpi_shop(url: str) -> None:
    path = url.removeprefix("duckdb:///")
    for kind in ("customers", "orders", "returns", "spend"):
        run(["--db", path, "import", kind, str(KPI_SHOP / f"{kind}.csv")])


@pytest.fixture
def db(tmp_path, store_templates):
    """A store of its own holding the KPI shop, imported through the command line into a new store
    (once per session; each test gets a copy of that store, tests/conftest.py)."""
    with store_templates.copy("duckdb", "cli-kpi-shop", import_kpi_shop, tmp_path, "shop.duckdb") as (url, _):
        yield url.removeprefix("duckdb:///")


def test_kpis_json_keys_and_rates(db, capsys):
    capsys.readouterr()
    assert run(["--db", db, "kpis", "--json", "--window", "30"]) == 0
    row = json.loads(capsys.readouterr().out)
    for key in ("customers", "new_customers", "orders", "revenue", "aov", "purchase_frequency", "repeat_purchase_rate",
                "avg_days_between_orders", "crr", "churn_rate", "warming_up", "retention_note", "historic_ltv",
                "top20_revenue_share", "cac", "ltv_cac"):
        assert key in row
    assert row["repeat_purchase_rate"] == 0.6 and row["cac"]["search"] == 150.0


def test_kpis_by_month_json_is_a_list(db, capsys):
    capsys.readouterr()
    assert run(["--db", db, "kpis", "--by", "month", "--from", "2024-02-01", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["period"] for r in rows] == ["2024-02", "2024-03"]


def test_kpis_mark_warming_up_and_the_missing_base(db, capsys):
    # First order Jan 5; 30-day window: Jan (Jan 1 - 30 days = Dec 2) and Feb (Jan 2) are warming up,
    # Mar (Jan 31) is not; January has nobody at its start, so CRR and churn are null with the reason.
    capsys.readouterr()
    assert run(["--db", db, "kpis", "--by", "month", "--window", "30", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["warming_up"] for r in rows] == [True, True, False]
    assert (rows[0]["crr"], rows[0]["churn_rate"]) == (None, None)
    assert rows[0]["retention_note"].startswith("no customers at the period start; warming up")
    assert rows[2]["retention_note"] is None
    assert run(["--db", db, "kpis", "--by", "month", "--window", "30", "--csv"]) == 0
    table = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert [(r["crr"], r["churn_rate"], r["warming_up"]) for r in table] == [
        ("", "", "True"), ("0.0", "1.0", "True"), ("1.5", "0.0", "False")]
    assert table[0]["retention_note"] == rows[0]["retention_note"]
    assert run(["--db", db, "kpis", "--by", "month", "--window", "30"]) == 0
    out = capsys.readouterr().out
    assert "warming up" in out and "no customers at the period start" in out
    assert "note: warming up = the period starts less than one activity window after the first order" in out


def test_kpis_errors(db, capsys):
    capsys.readouterr()
    assert run(["--db", db, "kpis", "--by", "week"]) == 1
    assert capsys.readouterr().err == "error: --by 'week' is not supported; use one of month, quarter, year, channel\n"
    assert run(["--db", db, "kpis", "--from", "2024-13-01"]) == 1
    assert capsys.readouterr().err == "error: --from '2024-13-01' is not a date; write it as YYYY-MM-DD, e.g. 2024-03-31\n"


def test_rfm_csv_and_segments_json(db, capsys):
    capsys.readouterr()
    assert run(["--db", db, "rfm", "--csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    # Led by the shop's own customer ids (customers.csv), then retainly's.
    assert lines[0].startswith("customer,customer_id,as_of,recency_days,frequency,monetary,r_score,f_score,m_score,"
                               "segment")
    rows = list(csv.DictReader(lines))
    # Purchase orders per customer in orders.csv (DX is cancelled): A 3, B 1, C 2, D 2, E 1.
    assert {row["customer"]: int(row["frequency"]) for row in rows} == {"A": 3, "B": 1, "C": 2, "D": 2, "E": 1}
    assert run(["--db", db, "segments", "--json", "--from", "2024-01-31"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["as_of"] == "2024-03-20"
    assert sum(s["customers"] for s in data["segments"]) == 5
    assert sum(m["customers"] for m in data["moves"]) == 5
    assert run(["--db", db, "segments"]) == 0
    assert "Reward them" in capsys.readouterr().out


def test_cohorts_csv(db, capsys):
    capsys.readouterr()
    assert run(["--db", db, "cohorts", "--csv"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "cohort,customers,+0,+1,+2", "2024-01,2,1.0,0.0,0.5", "2024-02,2,1.0,0.5,", "2024-03,1,1.0,,"]


def test_customer_show(db, capsys):
    capsys.readouterr()
    assert run(["--db", db, "customer", "show", "A", "--json"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert view["customer"]["external_id"] == "A" and view["consents"]["email_consent"] is True
    assert view["kpis"]["orders"] == 3 and view["kpis"]["net_revenue"] == 270
    assert view["rfm"]["segment"] == "Champions"
    assert [o["order_id"] for o in view["orders"]] == ["A1", "A2", "A3"]
    assert view["returns"][0]["amount"] == 30
    assert run(["--db", db, "customer", "show", "A"]) == 0
    out = capsys.readouterr().out
    assert "Champions" in out and "A3" in out
    assert run(["--db", db, "customer", "show", "nobody"]) == 1
    assert capsys.readouterr().err == ("error: no customer with id 'nobody'; use the shop's customer id (as in the "
                                       "import) or retainly's customer_id (see `retainly rfm --csv`)\n")
