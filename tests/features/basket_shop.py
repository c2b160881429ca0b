"""The hand-checked basket shop in tests/data/basket_shop: replenishment and associations.

Products: M coffee machine, F coffee filters, T tea (category coffee); L laptop, S mouse,
K HDMI cable (category computers). AS_OF = 2024-06-30. Every order is at 12:00 unless said; one line per
product. Customer by customer (order: products):

    A  A1 Jan 1: M, F, T (+ a POSTAGE shipping line: no product)   A2 Jan 21: F
       A3 Feb 20: F   A4 Mar 31: F
    B  B1 Feb 1: F   B2 Mar 22: F   B3 Mar 22 18:00: F (same day as B2: one purchase day)
    C  C1 May 1: L, S   C2 Jun 1: M, F (31 days after C1)
    D  D1 Jan 10: T   D2 Jan 12: T, L   D3 Jun 29: T   (D4 Feb 1: S is cancelled: no purchase)
    E  E1 Mar 1: L   E2 Mar 20: S   (E3 Jul 5: F is after AS_OF)
    H  H1 Apr 1: L, S   H2 Apr 15: K
    J  J1 Jan 5: F   J2 Mar 26: T
    a guest order G1 Apr 5: L, S (no customer: in no count)

Through AS_OF that makes 18 baskets (purchase orders of customers with a product):
A1-A4, B1-B3, C1, C2, D1-D3, E1, E2, H1, H2, J1, J2. Baskets holding M 2, F 9, T 5, L 4,
S 3, K 1; both M and F 2 (A1, C2), L and S 2 (C1, H1), M-T, F-T, T-L 1 each.
"""

from datetime import date

from retainly import Workspace
from tests.conftest import DATA

BASKET_SHOP = DATA / "basket_shop"
AS_OF = date(2024, 6, 30)


def load_basket_shop(ws: Workspace) -> Workspace:
    for kind in ("products", "orders"):
        result = ws.data.import_file(kind, BASKET_SHOP / f"{kind}.csv")
        assert result.rows_rejected == 0, result.rejects
    return ws


def customer_ids(ws: Workspace) -> dict[str, int]:
    """The shop's customer letters -> retainly's customer_id."""
    rows = ws.store.fetchall("SELECT external_id, customer_id FROM customers")
    return {external: int(number) for external, number in rows}
