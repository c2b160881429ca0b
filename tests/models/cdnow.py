"""The CDNOW summaries the customer-base literature publishes its estimates on (../shared/datasets/cdnow).

``summary()`` is the 2,357-customer, 39-week calibration summary (frequency, recency, T in
weeks); ``spend_summary()`` the same customers with zbar, the mean value of their repeat
purchases, renamed to retainly's columns (x -> frequency, t_x -> recency, zbar -> monetary_value).
"""

from __future__ import annotations

import pandas as pd

from tests.conftest import SHARED, needs_shared_data

CDNOW_SUMMARY = SHARED / "cdnow" / "cdnow_customers_summary.csv"
CDNOW_SPEND_SUMMARY = SHARED / "cdnow" / "cdnow_customers_summary_with_transactions.csv"

needs_cdnow = needs_shared_data(CDNOW_SUMMARY)
needs_cdnow_spend = needs_shared_data(CDNOW_SPEND_SUMMARY)


def summary() -> pd.DataFrame:
    return pd.read_csv(CDNOW_SUMMARY)


def spend_summary() -> pd.DataFrame:
    return pd.read_csv(CDNOW_SPEND_SUMMARY).rename(
        columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})
