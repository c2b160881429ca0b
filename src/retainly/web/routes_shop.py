"""The shop's figures and its customers: summary, KPIs, cohorts, RFM segments, predictions,
lifecycle stages, buyer types, reorders due (docs/metrics.md, docs/models.md, docs/lifecycle.md,
docs/buyer_types.md, docs/replenishment.md), and one customer on one screen (the customer 360).

Each is the service call the CLI's command makes (`retainly summary|kpis|cohorts|nps|segments|score|
lifecycle|buyer-types|reorders|customer show`); results computed on the way (scores for a new
date) are stored as the CLI stores them. The figures are for analysts; finding customers (by
id, name, email or phone) and one customer's page are also for managers, who work with
customers (their own task lists come with issue 16).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from retainly.results import (BuyerTypeMix, CohortRow, Consumable, CustomerMatch, CustomerView, DueReorder, KpiRow,
                              LifecycleFlow, PredictionsOverview, RevenueConcentration, SegmentRow, StageCount,
                              StoreSummary)
from retainly.results.experiments import PlaybookEffect, PlaybookOffers, ProgrammeEffect
from retainly.results.measures import NpsTable
from retainly.services.customers import BUYER_TYPES, STAGES
from retainly.services.measures import BY_CHOICES, COHORT_METRICS, LONGEST_ACTIVITY_WINDOW_DAYS
from retainly.services.predictions import model_title
from retainly.web.auth import READ_CUSTOMERS, READ_FIGURES, allow
from retainly.web.pages import (AsOf, DatedPage, Limit, Offset, Page, json_response, page, page_of_read,
                                to_read)
from retainly.web.shop import shop

figures = APIRouter(tags=["figures"], dependencies=[allow(*READ_FIGURES)])
customers = APIRouter(tags=["customers"], dependencies=[allow(*READ_CUSTOMERS)])

First = Annotated[date | None, Query(description="The first day, YYYY-MM-DD (default: the day of the first order).")]
Last = Annotated[date | None, Query(description="The last day, inclusive (default: the day of the last order).")]


@figures.get("/summary", response_model=StoreSummary)
def summary(request: Request) -> Response:
    """What the store holds: customers, purchase orders, revenue, guests, returns, the first and last order."""
    with shop(request).use() as ws:
        found = ws.data.summary()
    return json_response(found)


@figures.get("/kpis", response_model=Page[KpiRow])
def kpis(
    request: Request, limit: Limit = 100, offset: Offset = 0,
    first: First = None, last: Last = None,
    by: Annotated[str | None, Query(description=f"One row per {', '.join(BY_CHOICES)}; one row in all without.")]
    = None,
    window_days: Annotated[int | None, Query(ge=1, le=LONGEST_ACTIVITY_WINDOW_DAYS,
                                             description="Activity window in days (default: the settings', 365).")]
    = None,
) -> Response:
    """Retention KPIs for the days ``first`` to ``last`` (default: all history), one row per period or
    channel with ``by``. Definitions: docs/metrics.md; rates are fractions."""
    with shop(request).use() as ws:
        rows = ws.measures.kpis(first, last, by, window_days)
    return page(rows, limit, offset)


@figures.get("/cohorts", response_model=Page[CohortRow])
def cohorts(
    request: Request, limit: Limit = 100, offset: Offset = 0,
    by: Annotated[str, Query(description="Cohorts by first-order month, quarter or year.")] = "month",
    metric: Annotated[str, Query(description=f"One of {', '.join(COHORT_METRICS)}.")] = "customers",
) -> Response:
    """Cohorts by the period of their first order, with the metric for each period after it."""
    with shop(request).use() as ws:
        rows = ws.measures.cohorts(by, metric)
    return page(rows, limit, offset)


@figures.get("/nps", response_model=NpsTable)
def nps(
    request: Request, as_of: AsOf = None,
    by: Annotated[str, Query(description="all, segment (RFM), stage, buyer_type, channel (acquisition), or month "
                                         "(the trend).")] = "all",
    days: Annotated[int, Query(ge=1, le=3650, description="Answers of this many days up to as_of.")] = 365,
    months: Annotated[int, Query(ge=1, le=120, description="With by=month: this many months.")] = 12,
) -> Response:
    """Net Promoter Score of the customers' feedback (0-10 answers), each customer's latest answer
    counted once: promoters 9-10, detractors 0-6, nps = 100 * (promoters - detractors) / answers."""
    with shop(request).use() as ws:
        found = ws.measures.nps_trend(as_of, months) if by == "month" else ws.measures.nps(by, as_of, days)
    return json_response(found)


@figures.get("/experiments", response_model=list[PlaybookEffect])
def experiments(
    request: Request, as_of: AsOf = None,
    playbook: Annotated[str, Query(max_length=200, description="A playbook's name, or all.")] = "all",
    window_days: Annotated[int | None, Query(ge=1, le=3650, description="Days after entering that count "
                                                                          "(default: each playbook's goal).")] = None,
) -> Response:
    """Each playbook's treated customers against its held-out ones: revenue per enrolled customer in
    the window, the difference with its 95 % interval, the revenue it added, and the verdict
    ("not enough customers yet to tell" where the shop is too small to know; docs/experiments.md)."""
    with shop(request).use() as ws:
        found = ws.experiments.effects(playbook, as_of, window_days)
    return json_response(found)


@figures.get("/experiments/programme", response_model=ProgrammeEffect | None)
def experiments_programme(request: Request, as_of: AsOf = None) -> Response:
    """The whole programme against the global control group (`[experiments] global_control_share`):
    existing customers outside it against those in it, revenue per customer since the group began,
    the difference with its interval, the revenue added and the verdict; null when there is no group."""
    with shop(request).use() as ws:
        found = ws.experiments.programme(as_of)
    return json_response(found)


@figures.get("/experiments/offers", response_model=list[PlaybookOffers])
def experiments_offers(
    request: Request, as_of: AsOf = None,
    playbook: Annotated[str, Query(max_length=200, description="A playbook's name, or all.")] = "all",
) -> Response:
    """The offers decided for each playbook with one (`[experiments] target_offers`) up to the day:
    decisions, offered, withheld, the model that decided last, and the gain expected of the offers
    given against offering to everyone decided (the saving; docs/experiments.md)."""
    with shop(request).use() as ws:
        found = ws.experiments.offers(playbook, as_of)
    return json_response(found)


@figures.get("/rfm/segments", response_model=DatedPage[SegmentRow])
def rfm_segments(request: Request, as_of: AsOf = None, limit: Limit = 100, offset: Offset = 0) -> Response:
    """RFM segments: size, shares, mean recency, frequency and spend, and the suggested action."""
    with shop(request).use() as ws:
        as_of = ws.rfm.ensure(as_of)
        rows = ws.rfm.segments(as_of)
    return page(rows, limit, offset, as_of=as_of)


@figures.get("/rfm/concentration", response_model=RevenueConcentration)
def revenue_concentration(request: Request, as_of: AsOf = None) -> Response:
    """The share of revenue against the share of customers, biggest spenders first, from (0, 0), and
    the share the top 20 % bring."""
    with shop(request).use() as ws:
        found = ws.rfm.concentration(as_of)
    return json_response(found)


@figures.get("/predictions", response_model=PredictionsOverview)
def predictions(request: Request, as_of: AsOf = None) -> Response:
    """The fit behind the stored predictions (model, why it was chosen, its backtest), their totals,
    and the customers per tenth of the chance to order (fitted first when missing)."""
    with shop(request).use() as ws:
        as_of = ws.predictions.ensure(as_of)
        fit = ws.predictions.latest_fit(as_of)
        overview = PredictionsOverview(fit=fit, model_title=model_title(fit.model),
                                       totals=ws.predictions.totals(as_of),
                                       chance_bins=ws.predictions.chance_histogram(as_of))
    return json_response(overview)


@figures.get("/lifecycle", response_model=DatedPage[StageCount])
def lifecycle_counts(request: Request, as_of: AsOf = None, limit: Limit = 100, offset: Offset = 0) -> Response:
    """Customers (and VIPs among them) per lifecycle stage, in the order of the stages, with their share."""
    with shop(request).use() as ws:
        as_of = ws.lifecycle.ensure(as_of)
        rows = ws.lifecycle.counts(as_of)
    return page(rows, limit, offset, as_of=as_of)


@figures.get("/lifecycle/flow", response_model=LifecycleFlow)
def lifecycle_flow(
    request: Request,
    first: Annotated[date | None, Query(description="From this day (default: six months before `last`, or the "
                                                    "first order when later), YYYY-MM-DD.")] = None,
    last: Annotated[date | None, Query(description="To this day (default: the day of the last order).")] = None,
    trend: Annotated[bool, Query(description="Also the stage changes month by month (slower).")] = False,
) -> Response:
    """Customers per stage at ``first`` and at ``last``, and how many moved from each stage to each other."""
    with shop(request).use() as ws:
        last = last or ws.data.last_order_date()
        found = ws.lifecycle.flow(first or ws.reports.flow_since(last), last, trend)
    return json_response(found)


@figures.get("/buyer-types", response_model=BuyerTypeMix)
def buyer_types(request: Request, as_of: AsOf = None) -> Response:
    """Customers per buyer type and source (a rule, or an early prediction), and what the data say
    about promotions."""
    with shop(request).use() as ws:
        found = ws.insights.buyer_type_mix(as_of)
    return json_response(found)


@figures.get("/reorders", response_model=DatedPage[DueReorder])
def reorders(request: Request, as_of: AsOf = None, limit: Limit = 100, offset: Offset = 0) -> Response:
    """Reorders due of customers still likely to buy, most overdue first; ``total`` is null while
    more follow this page."""
    with shop(request).use() as ws:
        found = ws.insights.reorders(as_of, to_read(limit, offset))
    return page_of_read(found.due, limit, offset, as_of=found.as_of)


@figures.get("/reorders/consumables", response_model=DatedPage[Consumable])
def consumables(request: Request, as_of: AsOf = None, limit: Limit = 100, offset: Offset = 0) -> Response:
    """Products bought again at a typical interval, with the interval (median and quartiles, days)."""
    with shop(request).use() as ws:
        found = ws.insights.reorders(ws.insights.ensure(as_of), 1)
    return page(found.consumables, limit, offset, as_of=found.as_of)


class CustomerPage(Page[CustomerMatch]):
    """A page of customers found; ``as_of``: the day of the segments, stages and buyer types filtered
    by (null without those filters)."""

    as_of: date | None


def _filter(what: str) -> object:
    return Query(max_length=200, description=f"Only customers {what} (empty: no filter).")


@customers.get("/customers", response_model=CustomerPage)
def customer_search(request: Request, q: Annotated[str, Query(
        max_length=200, description="Text in the shop's id, name, email or phone (any case); empty: everyone.")] = "",
        limit: Limit = 20, offset: Offset = 0,
        segment: Annotated[str | None, _filter("in this RFM segment (as `/rfm/segments` names them) as of the "
                                               "last order")] = None,
        stage: Annotated[str | None, _filter(f"in this lifecycle stage ({', '.join(STAGES)}) as of the last "
                                             "order")] = None,
        buyer_type: Annotated[str | None, _filter(f"of this buyer type ({', '.join(BUYER_TYPES)}) as of the last "
                                                  "order")] = None,
        audience: Annotated[str | None, _filter("in this saved audience (`/audiences/saved`) as of its last "
                                                "evaluation")] = None,
) -> Response:
    """Customers whose shop id, name, email or phone contains ``q``, an exact id first, then by name;
    with filters, only those in the segment, stage, buyer type and audience given (empty: no filter)."""
    with shop(request).use() as ws:
        found = ws.customers.search(q, limit, offset, segment=segment or None, stage=stage or None,
                                    buyer_type=buyer_type or None, audience=audience or None)
    return json_response({"total": found.total, "limit": limit, "offset": offset, "items": found.matches,
                          "as_of": found.as_of})


@customers.get("/customers/{customer_id}", response_model=CustomerView)
def customer(request: Request, customer_id: str = Path(description="The shop's id of the customer."),
             as_of: AsOf = None) -> Response:
    """Customer 360: profile and consents, KPIs, RFM scores, predictions, stage and warning signs,
    buyer type, reorders due, products to offer, orders, returns and contacts."""
    with shop(request).use() as ws:
        found = ws.customers.view(customer_id, as_of)
    return json_response(found)


ROUTERS = (figures, customers)
