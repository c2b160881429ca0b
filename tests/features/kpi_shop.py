"""The hand-checked KPI shop in tests/data/kpi_shop: five customers, Jan-Mar 2024.

Every order is one line at 12:00, so day counts are whole. Customer by customer
(acquisition channel; purchase orders; returns):

    A  search   Jan 5 100, Jan 20 50, Mar 10 150      returns 30 on Mar 12
    B  search   Jan 10 200
    C  social   Feb 5 80, Feb 25 120
    D  email    Feb 15 60, Mar 20 90                  (Mar 1 500 is cancelled: no purchase)
    E  (none)   Mar 5 40, an offline order            -> channel "offline" from the order
    spend: search Jan 1 300, social Feb 1 160, email Feb 1 100
"""

from retainly import Workspace
from tests.conftest import DATA

KPI_SHOP = DATA / "kpi_shop"


def load_kpi_shop(ws: Workspace) -> Workspace:
    for kind in ("customers", "orders", "returns", "spend"):
        result = ws.data.import_file(kind, KPI_SHOP / f"{kind}.csv")
        assert result.rows_rejected == 0, result.rejects
    return ws
