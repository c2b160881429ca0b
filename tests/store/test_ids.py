"""Ids come from sequences: unique even for commands running at once, and never given out twice.

With "highest + 1", removing the newest import, customer or fit handed its id to the next one.
"""

from retainly import Workspace
from tests.conftest import DATA


def test_import_customer_and_fit_ids_are_never_reused(store_url):
    with Workspace.open(store_url) as ws:
        store = ws.store
        assert ws.data.import_file("orders", DATA / "native" / "orders.csv").import_id == 1
        # New customers are numbered in the order of the shop's ids: c1, then c2.
        assert sorted(store.fetchall("SELECT external_id, customer_id FROM customers")) == [("c1", 1), ("c2", 2)]
        assert ws.data.import_file("products", DATA / "native" / "products.csv").import_id == 2
        fit = ws.predictions.fit()
        assert fit.fit_id == 1
        # The newest of each goes (as a delete or an undone import would remove it) ...
        store.execute("DELETE FROM imports WHERE import_id = 2")
        store.execute("DELETE FROM customers WHERE customer_id = 2")
        store.execute("DELETE FROM model_fits WHERE fit_id = 1")
        # ... and its id is not handed out again.
        assert ws.data.import_file("customers", DATA / "native" / "customers.csv").import_id == 3
        assert sorted(store.fetchall("SELECT external_id, customer_id FROM customers")) == [
            ("c1", 1), ("c2", 3), ("c3", 4)]
        assert ws.predictions.fit(as_of=fit.as_of).fit_id == 2
