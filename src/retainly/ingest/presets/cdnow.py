"""CDNOW, the reference data set of the customer-base literature (Fader, Hardie & Lee 2005).

`customer_id,date,number_of_cds,dollar_value` (the full file) or
`customer_id_master,customer_id_sample,date,number_of_cds,dollar_value` (the 1/10 sample).
Each row is one order of ``number_of_cds`` CDs worth ``dollar_value`` in all. The file has
no order numbers, so an order's id is made from the customer, the date and the row's place
among that customer's rows of that day: the same file always gives the same ids.
"""

from __future__ import annotations

import pandas as pd

from retainly.ingest.batch import Batch
from retainly.ingest.presets.base import Options, Preset
from retainly.ingest.readers import RawTable
from retainly.ingest.values import Problems, parse_id, parse_integer, parse_money, parse_timestamp, require


class CDNOW(Preset):
    name = "cdnow"
    kinds = ("orders",)
    description = "CDNOW master or sample file: one row per order (customer, date, CDs, dollars)"
    signature = ("date", "number_of_cds", "dollar_value")

    _required = {
        "customer": ("customer_id", "customer_id_master"),
        "date": ("date",),
        "cds": ("number_of_cds",),
        "dollars": ("dollar_value",),
    }

    def parse(self, kind, raw: RawTable, problems: Problems, options: Options) -> pd.DataFrame:
        self.check_kind(kind)
        c = self.columns(raw, self._required)
        frame = raw.frame
        customer = parse_id(frame[c["customer"]], c["customer"], problems, required=True)
        placed_at = parse_timestamp(require(frame[c["date"]], c["date"], problems), c["date"], problems,
                                    options.date_format, options.dates)
        cds = parse_integer(require(frame[c["cds"]], c["cds"], problems), c["cds"], problems, allow_negative=False)
        dollars = parse_money(require(frame[c["dollars"]], c["dollars"], problems), c["dollars"], problems,
                              allow_negative=False)
        return pd.DataFrame({"customer_ref": customer, "placed_at": placed_at, "cds": cds, "dollars": dollars})

    def build(self, kind, rows: pd.DataFrame, options: Options) -> Batch:
        day = rows["placed_at"].dt.strftime("%Y%m%d")
        nth = rows.groupby([rows["customer_ref"], day], sort=False).cumcount() + 1
        order_id = rows["customer_ref"] + "-" + day + "-" + nth.astype(str)
        orders = pd.DataFrame({
            "order_id": order_id, "customer_ref": rows["customer_ref"], "placed_at": rows["placed_at"],
            "status": "completed", "currency": "USD", "channel": "online",
        })
        lines = pd.DataFrame({
            "order_id": order_id, "line_no": 1, "sku": "CD", "description": "CDs",
            "quantity": rows["cds"], "amount": rows["dollars"], "discount": "0", "kind": "merchandise",
        })
        first_seen = rows.groupby("customer_ref", sort=False)["placed_at"].min()
        customers = pd.DataFrame({"external_id": first_seen.index, "first_seen_at": first_seen.to_numpy()})
        return Batch(customers=customers, orders=orders, lines=lines)
