"""What every endpoint answers with: the core's results as JSON, and lists a page at a time.

The JSON is the CLI's ``--json`` (``retainly.cli.output``): results as their fields, exact
decimals as numbers, dates as YYYY-MM-DD, times as YYYY-MM-DD HH:MM:SS, NaN as null. A list
comes as ``{"total", "limit", "offset", "items"}`` (and ``as_of`` where the figures are of a
date). ``total`` is None where the service reads a list only up to a limit (the outbox, an
audience's members, reorders due) and more rows follow this page: ask for the next page until
one comes back short.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from fastapi.responses import Response
from pydantic import BaseModel

# The CLI's --json rules, so that the API and `retainly ... --json` print the same figures the same way.
from retainly.results.base import json_text

MAX_LIMIT = 1000
# Far past any list a shop has, and within the engines' 64-bit integers (a larger offset is a 422, not a crash).
MAX_OFFSET = 1_000_000_000

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page, 1 to {MAX_LIMIT}.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip before this page.")]
AsOf = Annotated[date | None, Query(description="As of this day, YYYY-MM-DD (default: the day of the last order).")]

Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    """One page of a list (the OpenAPI schema; the body itself is written by ``json_response``)."""

    total: int | None
    limit: int
    offset: int
    items: list[Item]


class DatedPage(Page[Item], Generic[Item]):
    """A page of figures as of one day."""

    as_of: date


def json_response(data: Any, status_code: int = 200) -> Response:
    """``data`` (results, lists and dicts of them) as a JSON response."""
    body = json_text(data)
    return Response(body, status_code=status_code, media_type="application/json")


def page(items: Sequence, limit: int, offset: int, **extra: Any) -> Response:
    """A page of a list the service returned whole: its total is exact."""
    return json_response({**extra, "total": len(items), "limit": limit, "offset": offset,
                          "items": list(items[offset:offset + limit])})


def to_read(limit: int, offset: int) -> int:
    """How many items to ask a service that reads up to a limit for: through this page, and one more."""
    return offset + limit + 1


def page_of_read(found: Sequence, limit: int, offset: int, **extra: Any) -> Response:
    """A page of the first ``to_read(limit, offset)`` items of a list (``found``): the one item past
    the page tells whether more follow, so the total is known only when none do."""
    total = len(found) if len(found) <= offset + limit else None
    return json_response({**extra, "total": total, "limit": limit, "offset": offset,
                          "items": list(found[offset:offset + limit])})
