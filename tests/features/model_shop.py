"""The hand-checked model shop in tests/data/model_shop: what the purchase models read.

The calibration cut-off used throughout is AS_OF = 2024-03-31 (a Sunday); the holdout runs to
HOLDOUT_END = 2024-06-30. Amounts are one line each; the time of day matters only where said.
Customer by customer (purchase orders; returns; what is not a purchase):

    P  Jan 7 10:00 100 + Jan 7 18:00 50 (same day: one purchase day of 150), Jan 21 80,
       Feb 4 120;  holdout: Apr 14 90 + Apr 14 10 (one day), May 5 60;  after it: Jul 1 40
       returns: 20 of Jan 21's order on Jan 25 (before AS_OF), 40 of Feb 4's on Apr 5
       (after AS_OF), 15 of May 5's on May 10
    Q  Jan 14 200;  return of 50 of it on Jan 20;  Mar 20 500 and Apr 20 70 are cancelled
    R  Mar 31 23:00 70 (first purchase on AS_OF);  holdout: Apr 1 00:30 30, Jun 30 23:59 25
       return of 5 of the Jun 30 order on Jul 5 (after the holdout)
    S  Feb 1 40, Feb 11 60, Mar 31 08:00 30;  a goodwill refund of 10 on Feb 20 tied to no
       order;  holdout: Jun 1 80
    U  Apr 10 25, Apr 14 16:00 45: first bought after AS_OF (in no calibration summary)
    V  Feb 15 90 cancelled (no purchase by AS_OF), May 1 55
    W  a customer record without any order
    a guest order (no customer) on Mar 5, 35: never in a customer summary

Repeat buyers by AS_OF: P and S only (2, far below the default min_repeat_buyers of 50).
The last purchase order is P's on Jul 1, so that is the store's default as-of date.
"""

from datetime import date

from retainly import Workspace
from tests.conftest import DATA

MODEL_SHOP = DATA / "model_shop"
AS_OF = date(2024, 3, 31)
HOLDOUT_END = date(2024, 6, 30)
LAST_ORDER_DAY = date(2024, 7, 1)


def load_model_shop(ws: Workspace) -> Workspace:
    for kind in ("customers", "orders", "returns"):
        result = ws.data.import_file(kind, MODEL_SHOP / f"{kind}.csv")
        assert result.rows_rejected == 0, result.rejects
    return ws


def customer_ids(ws: Workspace) -> dict[str, int]:
    """The shop's customer ids (P, Q, ...) to retainly's numeric ones."""
    return dict(ws.store.fetchall("SELECT external_id, customer_id FROM customers"))
