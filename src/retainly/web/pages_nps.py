"""The Feedback page: the Net Promoter Score of the customers' 0-10 answers, in all, by RFM segment,
lifecycle stage, buyer type and acquisition channel, and month by month (docs/email.md, "Feedback").

Each table is the service call of its JSON twin, ``GET /api/v1/nps?by=...&as_of=...``
(``ws.measures.nps``, ``nps_trend``); each figure sits in a ``data-field`` of it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from retainly.errors import RetainlyError
from retainly.web.auth import READ_FIGURES
from retainly.web.render import error_page, render
from retainly.web.session import page_user
from retainly.web.shop import shop

router = APIRouter(include_in_schema=False)
# The tables below the overall figure: the grouping and its heading.
GROUPINGS = (("segment", "By RFM segment"), ("stage", "By lifecycle stage"), ("buyer_type", "By buyer type"),
             ("channel", "By acquisition channel"), ("month", "Month by month"))


@router.get("/nps")
def nps(request: Request) -> Response:
    """NPS of the answers of the 365 days up to the later of the last order's and the last answer's day."""
    user = page_user(request, READ_FIGURES)
    try:
        with shop(request).use() as ws:
            overall = ws.measures.nps()
            tables = [(by, heading, ws.measures.nps_trend(overall.as_of) if by == "month"
                       else ws.measures.nps(by, overall.as_of)) for by, heading in GROUPINGS]
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    day = overall.as_of.isoformat()
    return render(request, "nps.j2", user, overall=overall, twin=f"/api/v1/nps?by=all&as_of={day}",
                  tables=[{"by": by, "heading": heading, "table": table,
                           "twin": f"/api/v1/nps?by={by}&as_of={day}"} for by, heading, table in tables])
