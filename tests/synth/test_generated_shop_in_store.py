"""The generated shop, end to end: straight into a store, and through its export files.

Both routes must give the same store (the native writer and the import pipeline agree), and
the malformed rows that `--dirty` plants must come back as rejects, each at its own line,
column and value.
"""

from __future__ import annotations

import pandas as pd
import pytest

from retainly import Workspace
from retainly.cli.app import main
from retainly.synth.files import FILE_KINDS

CUSTOMERS, SEED = 1500, 3


def generate_files(folder, *extra: str) -> None:
    main(["generate", "--customers", str(CUSTOMERS), "--seed", str(SEED), "--out", str(folder), *extra])


def test_files_and_direct_load_give_the_same_store(store_url, tmp_path):
    with Workspace.open(store_url) as direct:
        direct.data.generate(CUSTOMERS, SEED)
        expected = direct.data.summary()
        expected_rows = direct.data.table_rows()
        truth = direct.store.fetchall("SELECT buyer_type, COUNT(*) FROM generator_truth GROUP BY buyer_type")
    # Hit-and-run, discount-only and active buyers, about 45/20/35 % (the generator's default mix).
    shares = {kind: count / CUSTOMERS for kind, count in truth}
    assert shares == pytest.approx({"hit_and_run": 0.45, "discount_only": 0.20, "active": 0.35}, abs=0.01)

    generate_files(tmp_path / "shop")
    other = tmp_path / "files.duckdb"
    with Workspace.open(f"duckdb:///{other}") as via_files:
        for kind in FILE_KINDS:
            result = via_files.data.import_file(kind, tmp_path / "shop" / f"{kind}.csv")
            assert result.rows_rejected == 0, result.rejects.head()
        assert via_files.data.summary() == expected
        rows = via_files.data.table_rows()
    # The hidden truth is not an import kind; the ledger has one entry per file instead of one.
    skip = {"generator_truth", "generator_product_truth", "imports"}
    assert {k: v for k, v in rows.items() if k not in skip} == {k: v for k, v in expected_rows.items() if k not in skip}


def test_dirty_rows_come_back_as_rejects(tmp_path):
    shop = tmp_path / "shop"
    generate_files(shop, "--dirty")
    faults = pd.read_csv(shop / "orders.faults.csv", dtype=str, keep_default_na=False)
    assert len(faults) > 0
    with Workspace.open(f"duckdb:///{tmp_path}/s.duckdb") as ws:
        result = ws.data.import_file("orders", shop / "orders.csv")
    rejects = result.rejects
    own = rejects[rejects["column"].notna()]
    # Every planted fault is reported at its line (header is line 1) and column, with its value.
    reported = {(int(r.line), r.column) for r in own.itertuples()}
    for fault in faults.itertuples():
        line = int(fault.row_index) + 2
        assert (line, fault.column) in reported, f"fault {fault.fault} at line {line} not reported"
    # And nothing else is reported as a fault of its own.
    assert len(own) == len(faults)
    # The other lines of a faulted order are set aside with it, so no order is half imported.
    assert (rejects["column"].isna()).sum() == result.rows_rejected - len(faults)
