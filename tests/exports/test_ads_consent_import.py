"""Consent to advertising and the postal code come in with customers like the other consents: native
columns and their aliases, an audience field, the customer's view; an erasure clears them and a
suppression on ``ads`` wins over the imported consent."""

from __future__ import annotations

import pytest

from retainly.errors import InputError

CUSTOMERS = ("customer_id,email,zip,accepts_ads,ads_consent_at\n"
             "k1,k1@example.com,10001,yes,2024-02-01 10:00:00\n"
             "k2,k2@example.com, SW1A 1AA ,no,\n"
             "k3,k3@example.com,,,\n")
ORDERS = "order_id,customer_id,placed_at,quantity,unit_price\n" + "".join(
    f"o{i},k{i},2024-03-01 10:00:00,1,10\n" for i in (1, 2, 3))


def stored(ws):
    return {row[0]: row[1:] for row in ws.store.fetchall(
        "SELECT external_id, postal_code, ads_consent, CAST(ads_consent_at AS VARCHAR) FROM customers")}


def test_ads_consent_and_postal_code_are_imported_read_and_erased(workspace, tmp_path):
    ws = workspace
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "orders.csv").write_text(ORDERS)
    ws.data.import_file("customers", tmp_path / "customers.csv")
    ws.data.import_file("orders", tmp_path / "orders.csv")
    assert stored(ws) == {"k1": ("10001", True, "2024-02-01 10:00:00"), "k2": ("SW1A 1AA", False, None),
                          "k3": (None, None, None)}
    assert ws.audiences.preview("ads_consent").customers == 1
    assert ws.audiences.preview('postal_code = "10001"').customers == 1
    view = ws.customers.view("k1")
    assert (view.customer.postal_code, view.consents.ads_consent) == ("10001", True)
    # A later file withdraws k1's consent; a file without the column leaves what the store knew.
    (tmp_path / "again.csv").write_text("customer_id,ads_opt_in\nk1,no\n")
    ws.data.import_file("customers", tmp_path / "again.csv")
    assert stored(ws)["k1"][1] is False
    ws.customers.erase("k2")
    assert [row for key, row in stored(ws).items() if key.startswith("erased-")] == [(None, None, None)]


def test_a_suppression_on_ads_is_recorded_and_an_unknown_channel_refused(workspace, tmp_path):
    ws = workspace
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    ws.data.import_file("customers", tmp_path / "customers.csv")
    ws.playbooks.suppress("k1", "ads", "manual")
    assert ws.store.fetchall("SELECT channel, reason FROM suppressions") == [("ads", "manual")]
    with pytest.raises(InputError, match="channel 'radio' cannot be suppressed; use one of email, sms, ads, all"):
        ws.playbooks.suppress("k1", "radio", "manual")
