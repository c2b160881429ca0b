"""The Audiences pages: saved audiences, the builder with its live count, members and their CSV (docs/web.md).

``/audiences?page=`` lists the saved audiences, 20 to a page; its JSON twin is
``GET /api/v1/audiences/saved?limit=20&offset=...`` (``ws.audiences.list``). ``/audiences/new`` and
``/audiences/{name}`` are the builder: the field catalog (twin ``GET /api/v1/audiences/fields``), a
rule box and the rule's count, sample and stages and segments (``ws.audiences.preview``, as
``POST /api/v1/audiences/preview``); ``/audiences/{name}`` also shows the saved audience (twin
``GET /api/v1/audiences/saved/{name}``). ``POST /audiences/preview`` counts the form's rule: the
"Count" button posts it with the form's CSRF token, ``static/audiences.js`` as the rule is typed
with the token in the ``X-CSRF-Token`` header, and takes the page's preview section from the answer.
``POST /audiences/save`` saves and evaluates the audience as ``PUT /api/v1/audiences/saved/{name}``
does, for the roles of the API's ``EDIT_ACTIONS``. ``/audiences/{name}/members?page=`` lists the
members 20 to a page (twin ``GET /api/v1/audiences/saved/{name}/members?limit=20&offset=...``) and
``/audiences/{name}/members.csv`` downloads them all.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import fields
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Header, Request
from fastapi.responses import RedirectResponse, Response

from retainly.errors import RetainlyError
from retainly.results.actions import AudienceMember
from retainly.results.users import SessionUser
from retainly.web.auth import EDIT_ACTIONS, READ_FIGURES
from retainly.web.pages import MAX_LIMIT, to_read
from retainly.web.render import HEADERS, error_page, render
from retainly.web.session import CSRF_FIELD, may_see, page_user, require_csrf
from retainly.web.shop import shop

router = APIRouter(include_in_schema=False)
PER_PAGE = 20
SAMPLE = 10  # customers in a preview's sample: POST /api/v1/audiences/preview's default
LONGEST_RULE = 4000
LONGEST_DESCRIPTION = 200
# A saved audience's page is /audiences/{name}: a name the builder's own address takes is refused.
TAKEN_NAMES = ("new",)
CATALOG_TWIN = f"/api/v1/audiences/fields?limit={MAX_LIMIT}"
PREVIEW_TWIN = "/api/v1/audiences/preview"

Text = Annotated[str, Form()]
Token = Annotated[str, Form(alias=CSRF_FIELD)]


def _page_number(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < int(text) < 10**9 else None


def _not_a_page(request: Request, user: SessionUser, page: str) -> Response:
    return error_page(request, user, 422, f"page {page!r} is not a page number: give a whole number from 1")


def _path(name: str) -> str:
    return f"/audiences/{quote(name, safe='')}"


def pointer(rule: str, problem: str | None) -> str | None:
    """A caret under the word the parser stopped at: its messages start ``rule, column N:``
    (retainly.audiences.expression); only for a rule on one line, where the column is the character."""
    found = re.match(r"rule, column (\d+):", problem or "")
    if not found or "\n" in rule or int(found.group(1)) > len(rule) + 1:
        return None
    return " " * (int(found.group(1)) - 1) + "^"


def grouped(catalog: list) -> list[tuple[str, list[tuple[int, object]]]]:
    """The catalog's fields by group, in the catalog's order, each with its index in the twin's items."""
    groups: dict[str, list[tuple[int, object]]] = {}
    for index, field in enumerate(catalog):
        groups.setdefault(field.group, []).append((index, field))
    return list(groups.items())


@router.get("/audiences")
def audiences(request: Request, page: str = "1") -> Response:
    user = page_user(request, READ_FIGURES)
    number = _page_number(page)
    if number is None:
        return _not_a_page(request, user, page)
    offset = (number - 1) * PER_PAGE
    try:
        with shop(request).use() as ws:
            found = ws.audiences.list()
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    pages = max(1, -(-len(found) // PER_PAGE))
    return render(request, "audiences.j2", user, audiences=found[offset:offset + PER_PAGE], total=len(found),
                  page=number, pages=pages, offset=offset, may_edit=may_see(user, EDIT_ACTIONS), path_of=_path,
                  previous=f"/audiences?page={number - 1}" if number > 1 else None,
                  next=f"/audiences?page={number + 1}" if number < pages else None,
                  twin=f"/api/v1/audiences/saved?limit={PER_PAGE}&offset={offset}")


def builder(request: Request, user: SessionUser, *, saved: str | None = None, rule: str = "", name: str = "",
            description: str = "", asked: bool = False, save_problem: str | None = None) -> Response:
    """The builder: the catalog, the rule box and the rule's preview (or why it has none), and the
    saved audience ``saved`` when there is one (its rule, name and description fill the form).
    ``asked``: the rule was sent to be counted, so even an empty one is, and a refusal answers 422."""
    problem = preview = audience = None
    status_code = 422 if save_problem else 200
    try:
        with shop(request).use() as ws:
            if saved is not None:
                audience = ws.audiences.show(saved)
                rule, name, description = audience.rule, audience.name, audience.description or ""
            catalog = ws.audiences.fields()
            if rule.strip() or asked:
                try:
                    preview = ws.audiences.preview(rule, None, SAMPLE)
                except RetainlyError as refused:  # the parser's words: the column and the word it stopped at
                    problem = str(refused)
                    status_code = refused.http_status if asked else status_code
    except RetainlyError as failed:
        return error_page(request, user, failed.http_status, str(failed))
    twin = f"/api/v1/audiences/saved/{quote(audience.name, safe='')}" if audience else CATALOG_TWIN
    return render(request, "audience.j2", user, status_code=status_code, audience=audience, rule=rule, name=name,
                  description=description, preview=preview, problem=problem, save_problem=save_problem,
                  pointer=pointer(rule, problem),
                  catalog=grouped(catalog), catalog_twin=CATALOG_TWIN, preview_twin=PREVIEW_TWIN, sample=SAMPLE,
                  may_edit=may_see(user, EDIT_ACTIONS), path_of=_path, twin=twin)


@router.get("/audiences/new")
def new(request: Request, rule: str = "") -> Response:
    """The empty builder (``?rule=``: with that rule counted)."""
    user = page_user(request, READ_FIGURES)
    if len(rule) > LONGEST_RULE:
        return error_page(request, user, 422, f"the rule is {len(rule)} characters long; keep it to {LONGEST_RULE}")
    return builder(request, user, rule=rule, asked=bool(rule))


@router.post("/audiences/preview")
def count(request: Request, rule: Text = "", name: Text = "", description: Text = "", csrf_token: Token = "",
          x_csrf_token: Annotated[str | None, Header()] = None) -> Response:
    """The builder with the form's rule counted; the token comes in the form or, from the page's
    script, in the ``X-CSRF-Token`` header."""
    user = page_user(request, READ_FIGURES)
    require_csrf(x_csrf_token or csrf_token, user.csrf_token)
    if len(rule) > LONGEST_RULE:
        return error_page(request, user, 422, f"the rule is {len(rule)} characters long; keep it to {LONGEST_RULE}")
    return builder(request, user, rule=rule, name=name, description=description, asked=True)


@router.post("/audiences/save")
def save(request: Request, rule: Text = "", name: Text = "", description: Text = "", csrf_token: Token = "") -> Response:
    """Save the audience and evaluate it as of the last order (as ``PUT /api/v1/audiences/saved/{name}``),
    then to its page; a refusal shows the builder again with the form as it was and says why."""
    user = page_user(request, EDIT_ACTIONS)
    require_csrf(csrf_token, user.csrf_token)
    name, description = name.strip(), description.strip()
    refused = None
    if len(rule) > LONGEST_RULE:
        refused = f"the rule is {len(rule)} characters long; keep it to {LONGEST_RULE}"
    elif len(description) > LONGEST_DESCRIPTION:
        refused = f"the description is {len(description)} characters long; keep it to {LONGEST_DESCRIPTION}"
    elif name in TAKEN_NAMES:
        refused = f"audience name {name!r} is the address of the builder's page; choose another"
    else:
        try:
            with shop(request).use() as ws:
                ws.audiences.save(name, rule, description or None)
                ws.audiences.evaluate(name)
        except RetainlyError as problem:
            refused = str(problem)
    if refused is not None:
        return builder(request, user, rule=rule, name=name, description=description, save_problem=refused)
    return RedirectResponse(_path(name), status_code=303)


@router.get("/audiences/{name}")
def audience(request: Request, name: str) -> Response:
    user = page_user(request, READ_FIGURES)
    return builder(request, user, saved=name)


@router.get("/audiences/{name}/members")
def members(request: Request, name: str, page: str = "1") -> Response:
    """The members as of the last evaluation, newest entries first; one more than the page is read
    to know whether another page follows (the service reads up to a limit, as the twin does)."""
    user = page_user(request, READ_FIGURES)
    number = _page_number(page)
    if number is None:
        return _not_a_page(request, user, page)
    offset = (number - 1) * PER_PAGE
    try:
        with shop(request).use() as ws:
            found = ws.audiences.members(name, to_read(PER_PAGE, offset))
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    more = len(found) > offset + PER_PAGE
    link = f"{_path(name)}/members?page="
    return render(request, "audience_members.j2", user, name=name, members=found[offset:offset + PER_PAGE],
                  total=None if more else len(found), page=number, offset=offset, path_of=_path,
                  previous=f"{link}{number - 1}" if number > 1 else None, next=f"{link}{number + 1}" if more else None,
                  twin=f"/api/v1/audiences/saved/{quote(name, safe='')}/members?limit={PER_PAGE}&offset={offset}")


@router.get("/audiences/{name}/members.csv")
def members_csv(request: Request, name: str) -> Response:
    """Every member as CSV, with the columns of the JSON twin's items."""
    user = page_user(request, READ_FIGURES)
    try:
        with shop(request).use() as ws:
            found = ws.audiences.members(name, None)
    except RetainlyError as problem:
        return error_page(request, user, problem.http_status, str(problem))
    columns = [spec.name for spec in fields(AudienceMember)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([getattr(member, column) for column in columns] for member in found)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="audience-{name}.csv"',
                             "Cache-Control": HEADERS["Cache-Control"]})
