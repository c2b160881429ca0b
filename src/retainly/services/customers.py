"""One customer on one screen: profile, consents, KPIs, RFM, predictions, standing, orders,
returns, contacts and the playbooks' messages and tasks (the customer 360); and finding customers
by text, segment, stage, buyer type and audience."""

from __future__ import annotations

from datetime import date

from retainly.audiences import membership
from retainly.features import customer_view as view
from retainly.errors import InputError, NotFoundError
from retainly.ingest.attributes import attribute_name, import_attributes, set_attributes
from retainly.ingest.erasure import erase_customer, find_customers
from retainly.results.base import rows
from retainly.results.customers import (BuyerTypeLabel, Consents, CustomerFilters, CustomerKpis, CustomerMatch,
                                        CustomerMessage, CustomerReorder, CustomerSearch, CustomerView, Offer, Order,
                                        OrderLine, Prediction, Profile, RfmScores, Standing)
from retainly.results.removal import Erasure
from retainly.scores.stored import customer_prediction
from retainly.segments.buyer_types import BUYER_TYPES
from retainly.segments.lifecycle import STAGES
from retainly.services.base import Service

# What each filter of the search is called in messages, and the derived result it reads.
_FILTERS = {"segment": ("an RFM segment", "rfm"), "stage": ("a lifecycle stage", "lifecycle"),
            "buyer_type": ("a buyer type", "insights"), "audience": ("a saved audience", None)}


class CustomerService(Service):
    """Point lookups on one customer; derived results for the date are computed first when missing."""

    def view(self, key: str, as_of: date | None = None) -> CustomerView:
        """Customer 360 for a customer id (the shop's, or retainly's numeric one)."""
        customer_id = view.find_customer_id(self.store, key)
        rfm = prediction = standing = None
        if view.has_known_buyers(self.store):
            as_of = self.ws.rfm.ensure(as_of)
            rfm = view.rfm_of(self.store, customer_id, as_of)
            self.ws.lifecycle.ensure(as_of)  # and the predictions it needs
            prediction = customer_prediction(self.store, customer_id, as_of)
            if prediction is not None:
                fit = self.ws.predictions.latest_fit(as_of)
                prediction = Prediction(as_of=as_of, **prediction, horizon_days=fit.horizon_days,
                                        order_window_days=fit.order_window_days)
            self.ws.insights.ensure(as_of)
            offers = self.ws.insights.customer_offers(customer_id, as_of)
            standing = view.customer_standing(self.store, customer_id, as_of, offers)
        found = view.customer_view(self.store, customer_id)
        return CustomerView(
            customer=Profile(**found["customer"]), consents=Consents(**found["consents"]),
            kpis=CustomerKpis(**found["kpis"]), rfm=None if rfm is None else RfmScores(**rfm),
            predictions=prediction, lifecycle=None if standing is None else _standing(standing),
            orders=[Order(**{**order, "lines": rows(OrderLine, order["lines"])}) for order in found["orders"]],
            returns=found["returns"], interactions=found["interactions"],
            messages=rows(CustomerMessage, view.customer_messages(self.store, customer_id)),
            last_contact_at=found["last_contact_at"])

    def search(self, text: str = "", limit: int = 20, offset: int = 0, *, segment: str | None = None,
               stage: str | None = None, buyer_type: str | None = None, audience: str | None = None) -> CustomerSearch:
        """Customers whose shop id, name, email or phone contains ``text`` (any case), an exact id
        first, then by name; ``limit`` from ``offset``, with the number found in all.

        Each filter given keeps only the customers in that RFM ``segment``, lifecycle ``stage`` or
        ``buyer_type`` as of the last order (computed first when missing), or in the saved
        ``audience`` as of its last evaluation; ``filters`` lists the values each takes."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InputError(f"`limit` must be a whole number >= 1, not {limit!r}", parameter="limit")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InputError(f"`offset` must be a whole number >= 0, not {offset!r}", parameter="offset")
        given = {name: value for name, value in (("segment", segment), ("stage", stage), ("buyer_type", buyer_type),
                                                 ("audience", audience)) if value is not None}
        if given:
            _check_filters(given, self.filters())
        as_of = None
        derived = sorted({_FILTERS[name][1] for name in given} - {None})
        if derived:
            if not view.has_known_buyers(self.store):  # nothing scored: no one is in any segment or stage
                return CustomerSearch(total=0, matches=[])
            as_of = self.as_of(None)
            for name in derived:
                self.ensure_derived(name, as_of)
        total, found = view.search_customers(self.store, text or "", limit, offset, given, as_of)
        return CustomerSearch(total=total, matches=rows(CustomerMatch, found), as_of=as_of)

    def filters(self) -> CustomerFilters:
        """The values the search's filters take: segments of the settings' RFM map, lifecycle stages,
        buyer types, and the saved audiences."""
        return CustomerFilters(segments=self.settings.segment_map.segments(), stages=list(STAGES),
                               buyer_types=list(BUYER_TYPES),
                               audiences=[found.name for found in membership.saved(self.store)])

    def erase(self, key: str, *, dry_run: bool = False) -> Erasure:
        """Erase a customer's personal data in one transaction, keeping their anonymous orders (see
        ``retainly.ingest.erasure``); ``key`` is the shop's id (or, once erased, the old id or the
        pseudonym). ``dry_run`` says what would be erased and changes nothing."""
        return Erasure(**erase_customer(self.store, key, dry_run=dry_run), dry_run=dry_run)

    def import_attributes(self, path: str) -> dict:
        """Set the shop's own attributes per customer from a file: a customer_id column and one column
        per attribute (see ``retainly.ingest.attributes``); {customers, attributes, values}."""
        return import_attributes(self.store, path)

    def set_attribute(self, key: str, name: str, value: str) -> None:
        """Set one attribute of one customer (the shop's id)."""
        found, missing = find_customers(self.store, [key])
        if missing:
            raise NotFoundError(f"no customer with id {key!r}; use the shop's customer id", parameter="key")
        set_attributes(self.store, [(found[key], attribute_name(name, "attribute"), value)])

    def example_id(self) -> str | None:
        """A customer id to try `customer show` with: the first customer in the store."""
        return view.first_customer(self.store)


def _check_filters(given: dict[str, object], choices: CustomerFilters) -> None:
    allowed = {"segment": choices.segments, "stage": choices.stages, "buyer_type": choices.buyer_types,
               "audience": choices.audiences}
    for name, value in given.items():
        if value not in allowed[name]:
            known = f"use one of: {', '.join(allowed[name])}" if allowed[name] else "none is saved yet"
            raise InputError(f"`{name}` {value!r} is not {_FILTERS[name][0]}; {known}", parameter=name)


def _standing(found: dict) -> Standing:
    kind = found["buyer_type"]
    return Standing(**{**found, "buyer_type": None if kind is None else BuyerTypeLabel(**kind),
                       "reorders_due": rows(CustomerReorder, found["reorders_due"]),
                       "next_products": rows(Offer, found["next_products"])})
