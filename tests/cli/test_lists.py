"""Every list the CLI prints also comes as --json and --csv, and names customers and products
the way the shop does."""

from __future__ import annotations

import csv
import io
import json

import pytest
import typer

from retainly import Workspace
from retainly.cli.app import app
from tests.cli.running import captured

# Every command that prints a list, with what it needs to run on the generated shop.
LISTS = {
    "summary": [], "imports": [], "kpis": ["--by", "quarter"], "cohorts": [], "rfm": [], "segments": [],
    "lifecycle": [], "buyer-types": [], "reorders": [], "backtest": ["--calibration-end", "2025-06-30"],
    "customer show": ["CUSTOMER"], "customer search": ["CUSTOMER"], "db status": [],
    "audiences fields": [], "audiences preview": ["vip or stage = at_risk"], "audiences list": [],
    "playbooks list": [], "run": ["--dry-run"], "outbox": [], "keys list": [], "users list": [],
    "sites list": [], "playbooks results": [], "nps": [], "email codes list": [],
    "exports list": [], "exports targets": [],
    "tasks list": [], "tasks managers": [], "tasks team": [], "experiments effects": [], "experiments offers": [],
}
# Lists that are empty on a fresh generated shop (no saved audience, no enabled playbook, no
# message yet, no API key): their CSV is the header alone.
EMPTY_ON_A_FRESH_SHOP = {"db status", "audiences list", "run", "outbox", "keys list", "users list", "sites list",
                         "playbooks results", "nps", "email codes list",  # no message sent; feedback in words
                         "exports list",
                         "tasks list", "tasks managers", "tasks team"}  # no manager, no task yet
# Commands that print no list: a change's report, a fit record, a file written, a showcase of
# several tables (the demo), or a command of another area whose output is a report of what it did.
NOT_LISTS = {"import", "generate", "demo", "report", "score", "db upgrade", "delete", "customer erase",
             "customer attributes", "customer set", "audiences save", "audiences show", "audiences delete",
             "playbooks show", "playbooks enable", "playbooks disable", "playbooks edit",
             "keys create", "keys revoke", "serve",  # a key made (its token, once) or revoked; a server
             "users add", "users password", "users disable", "users unlock",  # a user added or changed
             "sites add", "sites revoke",  # a site key made (with its snippet) or revoked
             "email preview", "email test", "email bounces",  # a message shown or sent; a report of what was read
             "email codes add",  # a pool filled
             "exports add", "exports show", "exports run", "exports remove",  # an export saved, shown, run, removed
             # a task shown, made, worked or moved; a manager changed; tasks given out; digests sent
             "tasks show", "tasks add", "tasks log", "tasks cancel", "tasks reassign", "tasks manager", "tasks assign",
             "tasks digest",
             # a list of a saved audience's members: its --csv is in the golden output (audiences-members-csv)
             "audiences members",
             "simulate",  # a report of the days simulated
             "db publish"}  # partitions published to Spark: none without it (tests/spark/test_publish_command.py)
# Lists of customers: led by the shop's id of the customer.
PER_CUSTOMER = ("rfm", "lifecycle", "reorders", "customer show")


def commands(group=None, prefix="") -> list[str]:
    group = group or typer.main.get_command(app)
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found += commands(command, f"{prefix}{name} ")
        else:
            found.append(f"{prefix}{name}")
    return found


def test_every_command_is_known_as_a_list_or_not():
    assert set(commands()) - set(LISTS) - NOT_LISTS == set()


@pytest.fixture(scope="module")
def customer(generated_shop) -> str:
    code, out, err = captured(["--db", generated_shop, "reorders", "--json"])
    assert code == 0, err
    return json.loads(out)["due"][0]["customer"]


def argv_of(db: str, name: str, customer: str, *flags: str) -> list[str]:
    return ["--db", db, *name.split(), *(customer if a == "CUSTOMER" else a for a in LISTS[name]), *flags]


@pytest.mark.parametrize("name", list(LISTS))
def test_json_and_csv(generated_shop, customer, name):
    code, out, err = captured(argv_of(generated_shop, name, customer, "--json"))
    assert code == 0, err
    assert json.loads(out) or (name in EMPTY_ON_A_FRESH_SHOP and json.loads(out) == [])
    code, out, err = captured(argv_of(generated_shop, name, customer, "--csv"))
    assert (code, err) == (0, "")
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert len(rows) >= (1 if name in EMPTY_ON_A_FRESH_SHOP else 2), out  # e.g. no pending migration
    header = rows[0]
    assert len(set(header)) == len(header) and all(header)
    assert all(len(row) == len(header) for row in rows), "a row with more or fewer cells than the header"
    if name in PER_CUSTOMER:
        assert header[0] == "customer"


def test_per_customer_csv_holds_the_shops_ids(generated_shop):
    with Workspace.open(generated_shop) as ws:
        shop_ids = dict(ws.store.fetchall("SELECT customer_id, external_id FROM customers"))
    for command in (["rfm"], ["lifecycle"]):
        code, out, err = captured(["--db", generated_shop, *command, "--csv"])
        assert code == 0, err
        rows = list(csv.DictReader(io.StringIO(out, newline="")))
        assert len(rows) > 1000  # every customer who bought
        assert all(row["customer"] == shop_ids[int(row["customer_id"])] for row in rows)


def test_kpis_csv_spreads_each_channels_figures_into_columns(generated_shop):
    code, out, err = captured(["--db", generated_shop, "kpis", "--by", "channel", "--json"])
    by_json = {row["channel"]: row for row in json.loads(out)}
    code, out, err = captured(["--db", generated_shop, "kpis", "--csv"])
    (row,) = list(csv.DictReader(io.StringIO(out, newline="")))
    # Without --by, one row: its CAC per channel is the CAC of each channel's own row.
    for channel, own in by_json.items():
        if own["cac"] is not None:
            assert float(row[f"cac_{channel}"]) == pytest.approx(own["cac"])


def test_backtest_csv_has_every_metric_and_no_tracking(generated_shop):
    code, out, err = captured(["--db", generated_shop, "backtest", "--calibration-end", "2025-06-30", "--json"])
    models = json.loads(out)["models"]
    code, out, err = captured(["--db", generated_shop, "backtest", "--calibration-end", "2025-06-30", "--csv"])
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert [row["model"] for row in rows] == [m["model"] for m in models]
    assert set(rows[0]) == {key for m in models for key in m} - {"tracking"}


def test_products_by_name_and_customers_by_the_shops_id(store_url, tmp_path):
    # A generated shop on each engine; its products table names every SKU.
    code, _, err = captured(["--db", store_url, "generate", "--customers", "300", "--seed", "3"])
    assert code == 0, err
    with Workspace.open(store_url) as ws:
        names = dict(ws.store.fetchall("SELECT sku, name FROM products"))
        shop_ids = dict(ws.store.fetchall("SELECT customer_id, external_id FROM customers"))
    code, out, err = captured(["--db", store_url, "rfm", "--csv"])
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert list(rows[0])[:2] == ["customer", "customer_id"]
    assert len(rows) > 200 and all(row["customer"] == shop_ids[int(row["customer_id"])] for row in rows)
    with Workspace.open(store_url) as ws:
        as_of = ws.rfm.ensure()
        ws.insights.ensure_offers(as_of)
        offered = ws.store.fetchall("SELECT customer_id FROM next_products WHERE as_of = ? ORDER BY customer_id, rank",
                                    (as_of,))
    who = shop_ids[offered[0][0]]
    code, out, err = captured(["--db", store_url, "customer", "show", who, "--json"])
    assert code == 0, err
    offers = json.loads(out)["lifecycle"]["next_products"]
    assert offers and all(o["name"] == names[o["sku"]] and o["because_of_name"] == names[o["because_of"]]
                          for o in offers)
    code, out, err = captured(["--db", store_url, "customer", "show", who])
    first = offers[0]
    assert (f"worth offering: {names[first['sku']]} ({first['sku']}), because they bought "
            f"{names[first['because_of']]} ({first['because_of']})") in out


def test_customer_search_finds_the_customer_by_id_first_and_pages(generated_shop, customer):
    # The exact id comes first (docs/api.md, customer search); the total counts every match, and
    # the next page starts where the first ended. Checked against the store's own rows.
    code, out, err = captured(["--db", generated_shop, "customer", "search", customer, "--json"])
    assert code == 0, err
    found = json.loads(out)
    assert found["matches"][0]["customer_id"] == customer
    with Workspace.open(generated_shop) as ws:
        [(containing,)] = ws.store.fetchall(
            "SELECT COUNT(*) FROM customers WHERE LOWER(external_id) LIKE ? OR LOWER(name) LIKE ? "
            "OR LOWER(email) LIKE ? OR LOWER(phone) LIKE ?", [f"%{customer.lower()}%"] * 4)
    assert found["total"] == containing
    code, out, err = captured(["--db", generated_shop, "customer", "search", "a", "--limit", "2", "--offset", "2",
                               "--json"])
    assert code == 0, err
    second_page = json.loads(out)
    code, out, err = captured(["--db", generated_shop, "customer", "search", "a", "--limit", "4", "--json"])
    assert json.loads(out)["matches"][2:] == second_page["matches"]
