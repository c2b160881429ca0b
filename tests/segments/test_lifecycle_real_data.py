"""Lifecycle stages and warning signs on Online Retail II (../shared/datasets), as documented in docs/lifecycle.md.

The figures were measured with the default settings and the model `retainly score` chooses
(Pareto/NBD at 2011-12-09); a change of rules or defaults must update docs/lifecycle.md too.
DuckDB only: the same queries run on PostgreSQL in test_lifecycle_store.py.
"""

import json
from collections import Counter
from datetime import date

import pytest

from retainly import Workspace
from tests.conftest import ONLINE_RETAIL, needs_shared_data, online_retail_copy

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@needs_shared_data(ONLINE_RETAIL)
def test_online_retail_ii_stages_and_signs(tmp_path, store_templates):
    # A copy of a new DuckDB store into which the file was imported (tests/conftest.py).
    with online_retail_copy(store_templates, "duckdb", tmp_path) as (url, _), \
            Workspace.open(url) as ws:
        as_of = ws.lifecycle.compute()
        assert as_of == date(2011, 12, 9)
        counts = {row.stage: row.customers for row in ws.lifecycle.counts(as_of)}
        assert counts == {"new": 355, "active": 2551, "at_risk": 666, "lapsed": 947, "lost": 973, "won_back": 389}
        signs = Counter(s["sign"] for row in ws.lifecycle.customers(as_of) for s in json.loads(row.signs))
        assert signs == {"overdue": 1337, "recent_returns": 759, "slowing_down": 527, "spending_less": 434,
                         "fading": 57}
        flow = ws.lifecycle.flow(date(2011, 6, 30), as_of)
        moves = {(f.from_stage, f.to_stage): f.customers for f in flow.flow}
        assert moves[("active", "at_risk")] == 359 and moves[("lapsed", "won_back")] == 169
