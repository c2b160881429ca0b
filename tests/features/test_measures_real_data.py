"""KPIs, RFM and cohorts on Online Retail II (../shared/datasets), on DuckDB and PostgreSQL.

Expected figures are the issue's: over the whole period, gross of returns, with the
purchase-order definition of retainly.features.orders (see tests/ingest/test_real_data.py).
"""

from decimal import Decimal

import pytest

from tests.conftest import ONLINE_RETAIL, needs_shared_data

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@needs_shared_data(ONLINE_RETAIL)
def test_online_retail_ii_measures(online_retail):
    workspace, _ = online_retail  # the file imported into a new store (tests/conftest.py)
    [kpis] = workspace.measures.kpis()
    assert kpis.revenue == Decimal("17431533.18") and kpis.orders == 36_975
    assert kpis.aov == 471.44
    assert kpis.customers == 5_881
    assert kpis.repeat_purchase_rate == 0.7235  # 4,255 of 5,881
    assert kpis.top20_revenue_share == 0.7720  # the top 1,177 customers (20 % rounded up)
    quarters = workspace.measures.kpis(by="quarter")
    assert sum(q.orders for q in quarters) == 36_975
    assert sum(q.new_customers for q in quarters) == 5_881

    cohorts = workspace.measures.cohorts("month", "customers")
    assert (cohorts[0].cohort, cohorts[0].customers) == ("2009-12", 955)
    assert sum(c.customers for c in cohorts) == 5_881

    run = workspace.rfm.compute()
    as_of, scored = run.as_of, run.customers
    assert (str(as_of), scored) == ("2011-12-09", 5_881)
    segments = workspace.rfm.segments()
    assert sum(s.customers for s in segments) == 5_881
    assert sum(s.revenue_share for s in segments) == pytest.approx(1.0, abs=1e-3)
