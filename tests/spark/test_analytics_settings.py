"""Choosing the analytics engine: the URL forms, the [analytics] section, and the errors for bad ones."""

from __future__ import annotations

import pytest

from retainly import Workspace
from retainly.errors import InputError
from retainly.settings import AnalysisSettings
from retainly.store.spark.session import AnalyticsURL, parse_analytics_url


@pytest.mark.parametrize("text, expected", [
    ("", AnalyticsURL("store")),
    ("store", AnalyticsURL("store")),
    ("spark://local[4]", AnalyticsURL("local", "local[4]")),
    ("spark://local[*]", AnalyticsURL("local", "local[*]")),
    ("sc://spark.example:15002", AnalyticsURL("connect", "sc://spark.example:15002")),
    ("sc://spark.example:15002/;token=abc", AnalyticsURL("connect", "sc://spark.example:15002/;token=abc")),
])
def test_the_url_forms(text, expected):
    assert parse_analytics_url(text) == expected


@pytest.mark.parametrize("text", ["spark://local", "spark://local[two]", "spark://master:7077", "duckdb:///x.duckdb"])
def test_an_unknown_url_says_which_forms_work(text):
    with pytest.raises(InputError, match=r"analytics URL .* is not supported; use store \(the default\), "
                                         r"spark://local\[N\] .* or sc://host:port for Spark Connect"):
        parse_analytics_url(text)


def test_the_section_and_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("RETAINLY_ANALYTICS_URL", raising=False)
    assert AnalysisSettings().analytics.url == "store"
    path = tmp_path / "retainly.toml"
    path.write_text('[analytics]\nurl = "spark://local[2]"\nwarehouse = "/data/wh"\n'
                    '[analytics.spark]\n"spark.driver.memory" = "8g"\n"spark.sql.ansi.enabled" = false\n')
    found = AnalysisSettings.load(path).analytics
    assert (found.url, found.warehouse) == ("spark://local[2]", "/data/wh")
    assert found.spark == {"spark.driver.memory": "8g", "spark.sql.ansi.enabled": "false"}
    monkeypatch.setenv("RETAINLY_ANALYTICS_URL", "sc://cluster:15002")
    assert AnalysisSettings.load(path).analytics.url == "sc://cluster:15002"  # the environment wins
    assert AnalysisSettings().analytics.url == "sc://cluster:15002"


@pytest.mark.parametrize("section, message", [
    ('url = 3', r"\[analytics\] url = 3: give a text"),
    ('engine = "spark"', r"\[analytics\] has no setting engine; known: url, warehouse, mapping, source, spark"),
    ('spark = "fast"', r"\[analytics\].spark: give Spark settings as keys and values"),
    ('source = "odbc"', r"\[analytics\] source = 'odbc': use publish \(Parquet copies of the store's tables\) or jdbc"),
])
def test_bad_settings_name_the_file_and_the_key(tmp_path, monkeypatch, section, message):
    monkeypatch.delenv("RETAINLY_ANALYTICS_URL", raising=False)
    path = tmp_path / "retainly.toml"
    path.write_text(f"[analytics]\n{section}\n")
    with pytest.raises(InputError, match=message):
        AnalysisSettings.load(path)


def test_the_store_is_its_own_engine_by_default(workspace: Workspace):
    assert workspace.analytics is workspace.store


def test_a_bad_url_in_the_environment_is_refused_when_the_engine_is_first_needed(tmp_path, monkeypatch):
    monkeypatch.setenv("RETAINLY_ANALYTICS_URL", "spark://cluster")
    with Workspace.open(tmp_path / "s.duckdb") as ws:
        with pytest.raises(InputError, match="analytics URL 'spark://cluster' is not supported"):
            ws.analytics
