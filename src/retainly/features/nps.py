"""Net Promoter Score from the customers' feedback answers (retainly.messaging.feedback).

An answer is a contact of kind ``feedback`` whose outcome is a whole score from 0 to 10 (the
email's question, or an import's). Over a window of ``days`` up to the end of the as-of day,
each customer's **latest** answer counts once (a customer who answered three messages is one
voice, as they stand now): promoters 9-10, passives 7-8, detractors 0-6, and

    NPS = 100 * (promoters - detractors) / answers        (from -100 to +100)

By group, the customer's group as of the same day: RFM segment, lifecycle stage, buyer type
(the day's stored results) or acquisition channel (the customer file); "unknown" where there is
none. The trend is every answer by the calendar month it was given (each customer's latest in
that month), so a month reads as "what customers said that month".
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
from ibis.expr.types import Table

from retainly.features.model_summary import end_of
from retainly.messaging.feedback import DETRACTOR_MAX, PROMOTER_MIN, SCORE
from retainly.store.backends import Store

GROUPS = {"segment": ("rfm_scores", "segment"), "stage": ("lifecycle_stages", "stage"),
          "buyer_type": ("buyer_types", "buyer_type"), "channel": ("customers", "acquisition_channel")}


def answers(store: Store, first: date, last: date) -> Table:
    """customer_id, score, answered_at of every feedback score given from ``first`` to ``last`` (whole days)."""
    contacts = store.table("interactions")
    scored = contacts.filter((contacts.kind.lower() == "feedback") & contacts.outcome.re_search(SCORE)
                             & (contacts.occurred_at >= end_of(first - timedelta(days=1)))
                             & (contacts.occurred_at < end_of(last)))
    return scored.select("customer_id", score=scored.outcome.strip().cast("int64"), answered_at=scored.occurred_at)


def last_answer_day(store: Store) -> date | None:
    """The day of the latest feedback score, if any."""
    contacts = store.table("interactions")
    scored = contacts.filter((contacts.kind.lower() == "feedback") & contacts.outcome.re_search(SCORE))
    moment = scored.occurred_at.max().execute()
    return None if moment is None or moment != moment else moment.date()


def _latest(scored: Table, keys: list[str]) -> Table:
    ranked = scored.mutate(place=ibis.row_number().over(group_by=keys, order_by=ibis.desc("answered_at")))
    return ranked.filter(ranked.place == 0).drop("place")


def _summary(table: Table, group) -> Table:
    promoters = (table.score >= PROMOTER_MIN).ifelse(1, 0).sum()
    detractors = (table.score <= DETRACTOR_MAX).ifelse(1, 0).sum()
    passives = ((table.score > DETRACTOR_MAX) & (table.score < PROMOTER_MIN)).ifelse(1, 0).sum()
    return table.group_by(group=group).aggregate(answers=table.count(), promoters=promoters, passives=passives,
                                                 detractors=detractors)


def nps_by(store: Store, as_of: date, by: str, days: int = 365) -> list[dict]:
    """One row per group: group, answers, promoters, passives, detractors, nps (see the module doc)."""
    latest = _latest(answers(store, as_of - timedelta(days=days - 1), as_of), ["customer_id"])
    if by == "all":
        joined, group = latest, ibis.literal("all")
    else:
        table_name, column = GROUPS[by]
        groups = store.table(table_name)
        if "as_of" in groups.columns:
            groups = groups.filter(groups.as_of == as_of)
        groups = groups.select("customer_id", group_value=groups[column].cast("string"))
        joined = latest.left_join(groups, "customer_id")
        group = joined.group_value.fill_null("unknown")
    return _rows(_summary(joined, group).order_by(ibis.desc("answers"), "group").to_pyarrow().to_pylist())


def nps_trend(store: Store, as_of: date, months: int = 12) -> list[dict]:
    """One row per calendar month with answers, the last ``months`` up to ``as_of``: group is YYYY-MM."""
    first = date(as_of.year, as_of.month, 1)
    for _ in range(months - 1):
        first = date(first.year - (first.month == 1), 12 if first.month == 1 else first.month - 1, 1)
    scored = answers(store, first, as_of)
    scored = scored.mutate(month=scored.answered_at.strftime("%Y-%m"))
    latest = _latest(scored, ["customer_id", "month"])
    return _rows(_summary(latest, latest.month).order_by("group").to_pyarrow().to_pylist())


def _rows(found: list[dict]) -> list[dict]:
    for row in found:
        row["nps"] = round(100.0 * (row["promoters"] - row["detractors"]) / row["answers"], 1)
    return found
