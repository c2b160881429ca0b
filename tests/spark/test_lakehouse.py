"""Orders and their lines read from the shop's own lakehouse tables, mapped to retainly's columns.

The "lakehouse" here is Parquet files written from a generated shop in a shape of their own:
other column names, the shop's customer ids instead of retainly's, times as text, statuses in
capitals. Mapped back, every analysis on Spark must give what DuckDB gives on the store itself.
"""

from __future__ import annotations

import pytest

from retainly import Workspace
from retainly.errors import InputError
from retainly.features.cohorts import cohort_matrix
from retainly.features.kpis import shop_kpis
from retainly.features.model_summary import model_summary
from retainly.segments.rfm import rfm_table
from retainly.settings import AnalysisSettings
from tests.conftest import generated_copy
from tests.spark.conftest import assert_same, on_spark
from tests.spark.test_feature_queries import ordered

MAPPING = """
[orders]
path = "{lake}/sales_orders"
[orders.columns]
order_id = "order_number"
customer_id = "buyer"
placed_at = "to_timestamp(created)"
status = "lower(state)"
currency = "cur"
gross = "gross_value"
discount = "discount_value"
shipping = "shipping_value"
tax = "tax_value"
net = "paid"
channel = "sold_via"
promo_code = "coupon"
country = "ship_to"

[order_lines]
path = "{lake}/sales_lines"
format = "{lines_format}"
[order_lines.columns]
order_id = "order_number"
line_no = "line"
sku = "sku"
description = "title"
quantity = "qty"
unit_price = "price"
discount = "line_discount"
amount = "amount"
kind = "kind"
"""


@pytest.fixture(scope="module")
def lake(store_templates, tmp_path_factory, spark):
    """(the DuckDB store, Spark reading orders and lines from the lakehouse, the as-of day, the folder)."""
    folder = tmp_path_factory.mktemp("lakehouse")
    with generated_copy(store_templates, "duckdb", 800, 17, folder) as (url, _):
        ws = Workspace.open(url)
        try:
            as_of = ws.data.as_of(None)
            _write_lake(folder, ws)
            mapping = folder / "lakehouse.toml"
            mapping.write_text(MAPPING.format(lake=folder, lines_format="json"))
            split = on_spark(ws.store, spark, folder / "warehouse", mapping)
            yield ws.store, split, as_of, folder
        finally:
            ws.close()


def _write_lake(folder, ws: Workspace) -> None:
    """The store's orders and lines as the shop's lakehouse would hold them (DuckDB writes the files)."""
    ws.store.execute(f"""COPY (SELECT o.order_id AS order_number, c.external_id AS buyer,
            strftime(o.placed_at, '%Y-%m-%d %H:%M:%S.%f') AS created, upper(o.status) AS state, o.currency AS cur,
            o.gross AS gross_value, o.discount AS discount_value, o.shipping AS shipping_value, o.tax AS tax_value,
            o.net AS paid, o.channel AS sold_via, o.promo_code AS coupon, o.country AS ship_to
        FROM orders o LEFT JOIN customers c ON c.customer_id = o.customer_id)
        TO '{folder}/sales_orders' (FORMAT parquet, PER_THREAD_OUTPUT)""")
    ws.store.execute(f"""COPY (SELECT order_id AS order_number, line_no AS line, sku, description AS title,
            quantity AS qty, CAST(unit_price AS VARCHAR) AS price, CAST(discount AS VARCHAR) AS line_discount,
            CAST(amount AS VARCHAR) AS amount, kind FROM order_lines)
        TO '{folder}/sales_lines' (FORMAT json, PER_THREAD_OUTPUT)""")


def test_analyses_on_mapped_tables_equal_the_store_s(lake):
    store, split, as_of, _ = lake
    assert split.mapping.keys() == {"orders", "order_lines"}
    assert_same(shop_kpis(split, by="quarter"), shop_kpis(store, by="quarter"))
    assert_same(cohort_matrix(split, "month", "revenue"), cohort_matrix(store, "month", "revenue"))
    assert_same(ordered(model_summary(split, as_of, "week")), ordered(model_summary(store, as_of, "week")))
    settings = AnalysisSettings()
    found = rfm_table(split, as_of, settings.rfm_bins, settings.segment_map).drop("computed_at").to_pandas()
    expected = rfm_table(store, as_of, settings.rfm_bins, settings.segment_map).drop("computed_at").to_pandas()
    assert_same(ordered(found), ordered(expected))
    # purchases were derived on Spark from the mapped tables: nothing of the store's own was published
    assert not split.publisher.folder("purchases").exists() and not split.publisher.folder("orders").exists()


def test_an_unknown_customer_reads_as_a_guest_and_a_missing_column_as_empty(lake, spark):
    store, split, _, folder = lake
    orders = split.table("orders")
    assert orders.customer_id.isnull().sum().to_pyarrow().as_py() == store.fetchone(
        "SELECT COUNT(*) FROM orders WHERE customer_id IS NULL")[0]
    assert orders.import_id.notnull().sum().to_pyarrow().as_py() == 0  # not mapped: empty
    text = (folder / "lakehouse.toml").read_text()
    text = text.replace('customer_id = "buyer"', 'customer_id = "concat(buyer, \'x\')"')  # ids the store never saw
    (folder / "strangers.toml").write_text(text)
    strangers = on_spark(store, spark, folder / "warehouse", folder / "strangers.toml").table("orders")
    assert strangers.customer_id.notnull().sum().to_pyarrow().as_py() == 0


@pytest.mark.parametrize("change, message", [
    (("[orders]", "[shoes]"), r"\[shoes\]: retainly reads no such table from a lakehouse; map one of orders"),
    (('sku = "sku"', 'size = "sku"'), r"\[order_lines.columns\] size: order_lines has no such column; its columns "
                                      r"are order_id, line_no"),
    (('status = "lower(state)"', 'status = "lower(stat)"'), r"lakehouse.toml \[orders\]: Spark cannot read it as "
                                                            r"mapped: .*stat"),
    (('format = "json"', 'format = "xml"'), r"\[order_lines\] format = 'xml': use one of parquet, orc, json, csv"),
    (('path = "', 'paths = "'), r"\[orders\] has no key paths; known: table, path, format, columns"),
])
def test_a_bad_mapping_names_the_file_the_table_and_what_to_fix(lake, spark, change, message):
    store, _, _, folder = lake
    bad = folder / "bad" / "lakehouse.toml"
    bad.parent.mkdir(exist_ok=True)
    bad.write_text((folder / "lakehouse.toml").read_text().replace(*change, 1))
    with pytest.raises(InputError, match=message):
        on_spark(store, spark, folder / "warehouse", bad).table("orders").count().to_pyarrow()
