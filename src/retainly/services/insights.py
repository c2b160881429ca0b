"""Insights: buyer types, consumables with their re-order intervals, reorders due and the next
products to offer (docs/buyer_types.md, docs/replenishment.md)."""

from __future__ import annotations

from datetime import date

from retainly.results import (BuyerTypeCount, BuyerTypeEvaluation, BuyerTypeMix, Consumable, DueReorder, InsightsRun,
                              Reorders)
from retainly.features import customer_view
from retainly.features.associations import next_products
from retainly.results.base import rows
from retainly.segments import insights
from retainly.segments.buyer_types import evaluate, promotion_sources
from retainly.services.base import Service
from retainly.services.predictions import LIKELY_ACTIVE


class InsightService(Service):
    """Insights stored per date, read back cheaply."""

    def compute(self, as_of: date | None = None) -> InsightsRun:
        """Compute and store buyer types, product intervals, reorders due and products to offer."""
        return InsightsRun(**insights.compute_and_store(self.analytics, self.as_of(as_of)))

    def compute_types_and_reorders(self, as_of: date | None = None) -> date:
        """Compute and store buyer types, product intervals and reorders due (not the products to offer)."""
        as_of = self.as_of(as_of)
        insights.store_types_and_reorders(self.analytics, as_of)
        return as_of

    def compute_offers(self, as_of: date | None = None) -> date:
        """Compute and store the next products to offer each customer."""
        as_of = self.as_of(as_of)
        insights.store_offers(self.analytics, as_of)
        return as_of

    def ensure(self, as_of: date | None = None) -> date:
        """Buyer types and reorders for ``as_of``, computed when missing or older than the last import."""
        return self.ensure_derived("insights", as_of)

    def ensure_offers(self, as_of: date | None = None) -> date:
        """The products to offer for ``as_of``, computed when missing or older than the last import."""
        return self.ensure_derived("offers", as_of)

    def customer_offers(self, customer_id: int, as_of: date) -> list[dict]:
        """The products to offer one customer (retainly's id), best first, with names: the stored ones
        when up to date, else mined for this customer alone and not stored (the rules whose first
        product they bought give the same rows in a second, where the whole shop's take several)."""
        if self.ws.derived.is_fresh("offers", as_of):
            return customer_view.stored_offers(self.store, customer_id, as_of)
        self.ws.progress(f"finding products to offer this customer as of {as_of}")
        found = next_products(self.store, as_of, customer_id=customer_id)
        return customer_view.named_offers(self.store, found.to_dict("records"))

    def buyer_type_mix(self, as_of: date | None = None) -> BuyerTypeMix:
        """Customers per buyer type and source (rule or early prediction), and the promotions note."""
        as_of = self.ensure(as_of)
        counted = insights.buyer_type_counts(self.store, as_of)
        total = sum(n for _, _, n in counted) or 1
        return BuyerTypeMix(as_of=as_of, promotion_note=promotion_sources(self.store)["note"], types=[
            BuyerTypeCount(buyer_type=kind, source=source, customers=n, share=round(n / total, 4))
            for kind, source, n in counted])

    def evaluate_buyer_types(self, as_of: date | None = None) -> BuyerTypeEvaluation:
        """Precision and recall of the rules and early classifiers against a generated shop's truth."""
        return BuyerTypeEvaluation(**evaluate(self.store, self.as_of(as_of)))

    def reorders(self, as_of: date | None = None, limit: int | None = 50,
                 min_p_alive: float = LIKELY_ACTIVE) -> Reorders:
        """Consumables with their typical re-order interval, and the reorders due within the last
        interval (most overdue first) of customers still likely to buy (P(alive) of at least
        ``min_p_alive``, where predictions exist): older ones have probably been bought elsewhere."""
        as_of = self.ensure(as_of)
        self.ws.predictions.ensure(as_of)
        return Reorders(as_of=as_of, consumables=rows(Consumable, insights.consumables(self.store, as_of)),
                        due=rows(DueReorder, insights.due_reorders(self.store, as_of, min_p_alive, limit)))
