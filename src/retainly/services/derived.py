"""Stored results declared once, as a graph, and the walker that brings one up to date.

Each derived result (RFM scores, predictions, stages and signs, insights) is kept per date
in the store. A declaration says which table marks it, what it needs first and which
service method computes it; ``DerivedResults.ensure`` computes, in order, whatever is missing
for a date or older than the last import. Adding a derived result is one declaration here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retainly.workspace import Workspace


@dataclass(frozen=True)
class Derived:
    """A result stored per date: ``table``'s rows for a date, written at ``stamp``, mark it done."""

    name: str
    title: str
    table: str
    compute: Callable[[Workspace, date], object]
    needs: tuple[str, ...] = ()
    stamp: str = "computed_at"


DECLARED = (
    Derived("rfm", "RFM scores", "rfm_scores", lambda ws, day: ws.rfm.compute(day)),
    Derived("predictions", "predictions", "model_fits", lambda ws, day: ws.predictions.fit(as_of=day),
            stamp="fitted_at"),
    Derived("lifecycle", "lifecycle stages and warning signs", "churn_signals",
            lambda ws, day: ws.lifecycle.compute(day), needs=("predictions",)),
    # Written together with product_intervals and reorders_due.
    Derived("insights", "buyer types and reorders due", "buyer_types",
            lambda ws, day: ws.insights.compute_types_and_reorders(day)),
    # Apart: the slow part, and `customer show` mines one customer's alone when they are missing. A date whose rules offer nothing has no rows, so it
    # counts as missing and is computed again when next asked for.
    Derived("offers", "products to offer (association rules)", "next_products",
            lambda ws, day: ws.insights.compute_offers(day)),
)


class DerivedResults:
    """The graph of derived results of one workspace."""

    def __init__(self, ws: Workspace, declared: tuple[Derived, ...] = DECLARED):
        self.ws = ws
        self.by_name = {result.name: result for result in declared}

    def ensure(self, name: str, as_of: date | None = None) -> date:
        """Compute ``name`` for ``as_of`` (default: the last order) and what it needs, where missing
        or older than the last import; return the date."""
        as_of = self.ws.data.as_of(as_of)  # the one rule for the default date and its range
        for result in self.in_order(name):
            if not self.is_fresh(result.name, as_of):
                self.ws.progress(f"computing {result.title} as of {as_of}")
                result.compute(self.ws, as_of)
        return as_of

    def is_fresh(self, name: str, as_of: date) -> bool:
        """Whether ``name`` is stored for ``as_of`` and postdates the last import."""
        result = self.by_name[name]
        return as_of in self.ws.store.fresh_dates(result.table, stamp=result.stamp)

    def in_order(self, name: str) -> list[Derived]:
        """``name`` after everything it needs, each once, needs first."""
        ordered: list[Derived] = []

        def visit(current: str, path: tuple[str, ...]) -> None:
            if current in path:
                raise RuntimeError(f"derived results depend on each other in a circle: {' -> '.join(path)}")
            result = self.by_name[current]
            for need in result.needs:
                visit(need, (*path, current))
            if result not in ordered:
                ordered.append(result)

        visit(name, ())
        return ordered
