"""What an audience rule would select as of a date, before anyone acts on it: how many, a few
of them with the shop's ids and names, and how they spread over lifecycle stages and RFM segments."""

from __future__ import annotations

from datetime import date

import ibis

from retainly.audiences.compile import matching
from retainly.audiences.tree import Rule
from retainly.store.backends import Store


def preview(store: Store, rule: Rule, as_of: date, sample: int = 10) -> dict:
    """{count, sample: [{customer, name, stage, segment}], by_stage: [(stage, n)], by_segment: [(segment, n)]}.

    The sample is the first customers by the shop's id, so it reads the same each time. Stages
    and segments are those stored for ``as_of`` (missing ones show as None)."""
    with store.scratch(matching(store, rule, as_of)) as found:
        customers = store.table("customers").select("customer_id", customer="external_id", name="name")
        stages = store.table("lifecycle_stages")
        stages = stages.filter(stages.as_of == ibis.literal(as_of)).select("customer_id", "stage")
        segments = store.table("rfm_scores")
        segments = segments.filter(segments.as_of == ibis.literal(as_of)).select("customer_id", "segment")
        rows = (found.join(customers, "customer_id").left_join(stages, "customer_id")
                .left_join(segments, "customer_id").select("customer", "name", "stage", "segment"))
        count = int(found.count().execute())
        picked = rows.order_by("customer").limit(sample).to_pandas()
        by_stage = rows.group_by("stage").aggregate(n=rows.count()).order_by([ibis.desc("n"), "stage"]).to_pandas()
        by_segment = (rows.group_by("segment").aggregate(n=rows.count())
                      .order_by([ibis.desc("n"), "segment"]).to_pandas())
    clean = picked.astype(object).where(picked.notna(), None)
    return {"count": count, "sample": clean.to_dict("records"),
            "by_stage": [(None if s is None or s != s else s, int(n)) for s, n in by_stage.itertuples(index=False)],
            "by_segment": [(None if s is None or s != s else s, int(n))
                           for s, n in by_segment.itertuples(index=False)]}
