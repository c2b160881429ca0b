"""A shop whose playbooks' effects are known by hand, and a server of its own over it (both engines).

Orders are imported (EUR, one line each at 12:00); the enrolments are written straight into the
table, as a run would write them (tests/experiments/test_measure.py does the same), with the arm
chosen here rather than by the hash. Nobody bought in the year before entering, so CUPED changes
nothing (its covariate is constant) and the figures are plain Welch. As of the last order,
2024-03-01 (Z's), every window below has ended.

    win-back-180   entered 2024-01-01, goal 30 days, 50 % held out: 30 treated, 30 held out.
                   Treated: 15 spent 10, 15 spent 30 (mean 20); held out: 15 spent nothing, 15
                   spent 20 (mean 10). Difference 10; each arm's variance 15 * 10² * 2 / 29 =
                   3000/29, so se = sqrt(2 * 3000/29 / 30) = 2.626129 on 58 degrees of freedom
                   (equal sizes and variances), t(0.975, 58) = 2.001717 (a t table): the 95 %
                   range is 10 ± 5.256768 = 4.7432 to 15.2568, "added"; times 30 treated:
                   300.00 added (142.30 to 457.70). Who ordered in the window: all 30 treated,
                   15 of 30 held out (100 % and 50 %).
    cross-sell     entered 2024-01-15, goal 30 days, 10 % set but 30 treated and 30 held out: the
                   split is wrong (a warning). In each arm 15 spent 5 and 15 spent 15 (mean 10):
                   the test finds 2.801585 * sqrt(750/29) * sqrt(2/30) = 3.68 per customer, above a
                   tenth of 10, so "not enough customers yet to tell"; it needs
                   ceil((2.801585 * sqrt(750/29) / 1)² / (0.1 * 0.9)) = 2,256 customers, 2,196
                   more, at 60 in the last 8 weeks: 2,196 / 7.5 = 292.8 weeks.
    birthday       entered 2024-02-01, goal 14 days, 10 % held out: 4 treated, 1 held out: too few
                   for any figure; 30 in the held-out group needs 30 / 0.1 = 300 customers, 295 more.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from retainly import Workspace
from retainly.web.app import create_app
from tests.conftest import fresh_store_url
from tests.web.conftest import serving, settings_file
from tests.web.test_login import PASSWORD, Visitor

AS_OF = date(2024, 3, 1)
ANALYST, MANAGER = "lab-analyst@shop.example", "lab-manager@shop.example"
ORDER_HEADER = ("order_id,customer_id,placed_at,status,currency,channel,promo_code,country,shipping,tax,"
                "order_discount,line_no,sku,description,quantity,unit_price,line_discount,line_amount,kind")
# (playbook, entered, share, goal days, [(customer, arm, spent in the window, day it was spent)])
ENROLMENTS = (
    ("win-back-180", date(2024, 1, 1), 0.5, 30,
     [(f"W{i:02d}", "treatment", 10.0 if i <= 15 else 30.0, date(2024, 1, 10)) for i in range(1, 31)]
     + [(f"W{i:02d}", "holdout", 0.0 if i <= 45 else 20.0, date(2024, 1, 10)) for i in range(31, 61)]),
    ("cross-sell", date(2024, 1, 15), 0.1, 30,
     [(f"C{i:02d}", "treatment" if i <= 30 else "holdout", 5.0 if i % 2 else 15.0, date(2024, 1, 20))
      for i in range(1, 61)]),
    ("birthday", date(2024, 2, 1), 0.1, 14,
     [(f"B{i}", "treatment" if i <= 4 else "holdout", 25.0, date(2024, 2, 5)) for i in range(1, 6)]),
)


def load_experiment_shop(ws: Workspace, folder: Path) -> None:
    """Import the customers and orders above and write the enrolments."""
    customers = ["customer_id,name"] + [f"{c},{c}" for *_, people in ENROLMENTS for c, *_ in people] + ["Z,Zed"]
    orders = [ORDER_HEADER, "Z1,Z,2024-03-01 12:00:00,completed,EUR,online,,,0,0,,1,P1,Product,1,40.00,,,merchandise"]
    for *_, people in ENROLMENTS:
        orders += [f"O{c},{c},{day} 12:00:00,completed,EUR,online,,,0,0,,1,P1,Product,1,{spent:.2f},,,merchandise"
                   for c, _, spent, day in people if spent]
    for kind, lines in (("customers", customers), ("orders", orders)):
        path = folder / f"{kind}.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        assert ws.data.import_file(kind, path).rows_rejected == 0
    for playbook, entered, share, goal, people in ENROLMENTS:
        for customer, arm, *_ in people:
            (customer_id,) = ws.store.fetchone("SELECT customer_id FROM customers WHERE external_id = ?", (customer,))
            ws.store.execute("INSERT INTO enrolments (playbook, customer_id, occurrence, enrolled_on, arm, "
                             "holdout_share, goal_days, run_id, created_at) VALUES (?, ?, 'once', ?, ?, ?, ?, 1, ?)",
                             (playbook, customer_id, entered, arm, share, goal, datetime(entered.year, entered.month,
                                                                                       entered.day)))


@dataclass
class Lab:
    app: FastAPI
    client: httpx.Client
    token: str  # an analyst's API key, for the JSON twins

    @property
    def base(self) -> str:
        return str(self.client.base_url).rstrip("/")

    def api(self, path: str, **params) -> httpx.Response:
        # No params at all when none are given: httpx would replace the query ``path`` carries.
        return self.client.get(f"/api/v1{path}", params=params or None, headers={"X-API-Key": self.token})

    @contextlib.contextmanager
    def visitor(self, email: str = ANALYST) -> Iterator[Visitor]:
        found = Visitor(SimpleNamespace(client=self.client))
        try:
            assert found.log_in(email).status_code == 303
            yield found
        finally:
            found.close()


@pytest.fixture(scope="module", params=["duckdb", "postgres"], name="lab")
def lab_fixture(request, tmp_path_factory) -> Iterator[Lab]:
    """The shop above served once per test module and engine (a module imports this to use ``lab``)."""
    folder = tmp_path_factory.mktemp(f"experiments-{request.param}")
    with fresh_store_url(request.param, folder) as url:
        settings = settings_file(folder)
        with Workspace.open(url, settings=settings) as ws:
            load_experiment_shop(ws, folder)
            ws.users.add(ANALYST, "analyst", PASSWORD)
            ws.users.add(MANAGER, "manager", PASSWORD)
            _, token = ws.keys.create("analyst")
        app = create_app(url, settings_path=settings)
        with serving(app) as base, httpx.Client(base_url=base, timeout=60) as client:
            yield Lab(app, client, token)
