"""The Experiments pages: what each playbook added against its randomly held-out customers (docs/experiments.md).

``/experiments`` shows every playbook in one table (verdict, customers treated and held out, the
revenue added with its 95 % range) under a forest chart of each one's difference per customer;
``/experiments/{playbook}`` shows one in words, with both intervals drawn, the arms, the
detectable effect and, for a shop too small to tell, the customers and weeks still needed. Both
are ``ws.experiments.effects`` (``views.experiments`` words it), the call of their JSON twin
``GET /api/v1/experiments?playbook=&as_of=&window_days=``, and open to the same roles. ``/experiments``
also shows, where they exist, the whole programme against the global control group above the playbooks
(``ws.experiments.programme``) and the offers' decisions below them (``ws.experiments.offers``).
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from retainly.errors import InputError, RetainlyError
from retainly.views import experiments as words
from retainly.views.report import format_money
from retainly.web import charts
from retainly.web.auth import READ_FIGURES
from retainly.web.render import error_page, render
from retainly.web.session import page_user
from retainly.web.shop import shop

router = APIRouter(include_in_schema=False)
MAX_WINDOW_DAYS = 3650  # the API's bound


def _day(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"`as_of` {text!r} is not a date: give it as YYYY-MM-DD") from None


def _window(text: str) -> int | None:
    if not text:
        return None
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_WINDOW_DAYS:
        raise ValueError(f"`window_days` {text!r} is not a number of days: give a whole number from 1 to "
                         f"{MAX_WINDOW_DAYS}, or leave it out for each playbook's goal")
    return int(text)


def twin(playbook: str, as_of: date | None, window_days: int | None) -> str:
    """The API call a page's figures come from, as of the day they describe."""
    query = {"playbook": playbook}
    if as_of is not None:
        query["as_of"] = as_of.isoformat()
    if window_days is not None:
        query["window_days"] = str(window_days)
    return "/api/v1/experiments?" + urlencode(query)


def _kept(as_of: str, window_days: str) -> str:
    """The page's own query (what the user chose), for its links to the other experiments' page."""
    given = {key: value for key, value in (("as_of", as_of), ("window_days", window_days)) if value}
    return "?" + urlencode(given) if given else ""


def _effects(request: Request, playbook: str, as_of: str, window_days: str) -> tuple | Response:
    """(user, described rows, currency, day, window, extras) for the page, or the error page; for every
    playbook, ``extras`` has the whole programme and the offers' rows (described, or None and [])."""
    user = page_user(request, READ_FIGURES)
    try:
        day, window = _day(as_of), _window(window_days)
    except ValueError as problem:
        return error_page(request, user, 422, str(problem))
    try:
        with shop(request).use() as ws:
            found = ws.experiments.effects(playbook, day, window)
            books = ws.playbooks.list()
            currency = ws.measures.currency()
            whole = ws.experiments.programme(day) if playbook == "all" else None
            offers = ws.experiments.offers("all", day) if playbook == "all" else []
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    money = lambda value: format_money(value, currency)  # noqa: E731
    rows = words.described_all(found, money, books)
    extras = {"programme": words.programme_described(whole, money), "offers": words.offer_rows(offers, money, books)}
    return user, rows, currency, (found[0].as_of if found else day), window, extras


@router.get("/experiments")
def experiments(request: Request, as_of: str = "", window_days: str = "") -> Response:
    found = _effects(request, "all", as_of, window_days)
    if isinstance(found, Response):
        return found
    user, rows, currency, day, window, extras = found
    points = words.chart_rows(rows)
    return render(request, "experiments.j2", user, with_charts=bool(points), rows=rows, as_of=day,
                  window_days=window, currency=currency, twin=twin("all", day, window),
                  keep=_kept(as_of, window_days),
                  chart=charts.playbook_effects(points, currency) if points else None,
                  enrolled=words.any_enrolled(row["effect"] for row in rows), **extras)


@router.get("/experiments/{playbook}")
def experiment(request: Request, playbook: str, as_of: str = "", window_days: str = "") -> Response:
    if playbook == "all":  # the service's word for every playbook: that is the table
        page_user(request, READ_FIGURES)
        return RedirectResponse("/experiments" + _kept(as_of, window_days), status_code=303)
    found = _effects(request, playbook, as_of, window_days)
    if isinstance(found, Response):
        return found
    user, (row,), currency, day, window, _ = found
    points = words.chart_rows([row])
    return render(request, "experiment.j2", user, with_charts=bool(points), r=row, e=row["effect"], as_of=day,
                  window_days=window, currency=currency, twin=twin(row["playbook"], day, window),
                  keep=_kept(as_of, window_days),
                  chart=charts.playbook_effects(points, currency, bootstrap=True) if points else None)


def what_it_added(ws, name: str) -> str | None:
    """The playbook page's one line on what ``name`` added, as of the last order; None while the
    store has no orders to measure with."""
    try:
        (effect,) = ws.experiments.effects(name)
        currency = ws.measures.currency()
        (book,) = [book for book in ws.playbooks.list() if book.name == effect.playbook]
    except InputError:
        return None
    row = words.described(effect, lambda value: format_money(value, currency), book.title, book.holdout_share)
    return row["sentence"] if row["has_point"] else f"Not enough customers yet to tell: {row['needed']}"
