"""The action layer (docs/audiences.md, docs/playbooks.md): audiences by rule, playbooks, the outbox.

Reading is for analysts; so are the changes this slice offers: saving an audience (and
evaluating it as of the last order, as `retainly audiences save` does), enabling, disabling and
editing a playbook. A rule comes in the JSON body, as a one-line expression
(``"days_since_last_order > 60 and email_consent"``) or as the JSON tree of docs/audiences.md.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from retainly.results.actions import (Audience, AudienceEvaluation, AudienceField, AudienceMember, AudiencePreview,
                                      MessageResult, OutboxItem, PlaybookActivity, PlaybookDetail, PlaybookSummary)
from retainly.results.email import EmailPreview
from retainly.web.auth import EDIT_ACTIONS, READ_FIGURES, allow
from retainly.web.pages import AsOf, Limit, Offset, Page, json_response, page, page_of_read, to_read
from retainly.web.shop import shop

audiences = APIRouter(prefix="/audiences", tags=["audiences"])
playbooks = APIRouter(prefix="/playbooks", tags=["playbooks"])
outbox = APIRouter(tags=["outbox"])

Rule = Annotated[str | dict[str, Any], Field(description="A one-line expression, or a rule tree as JSON.")]
AudienceName = Annotated[str, Path(description="The saved audience's name.")]
PlaybookName = Annotated[str, Path(description="The playbook's name (`all`: every playbook).")]
SAMPLE_MOST = 100


class PreviewRequest(BaseModel):
    rule: Rule
    as_of: date | None = Field(None, description="As of this day (default: the day of the last order).")
    sample: int = Field(10, ge=0, le=SAMPLE_MOST, description="How many customers to list.")


class SaveRequest(BaseModel):
    rule: Rule
    description: str | None = Field(None, description="A line saying what the audience is for.")


class SavedAudience(BaseModel):
    audience: Audience
    evaluation: AudienceEvaluation


class ChangedPlaybooks(BaseModel):
    changed: list[PlaybookSummary]


class PlaybookEdit(BaseModel):
    """A change to a playbook: a whole definition, and/or single settings laid over it."""

    definition: dict[str, Any] | None = Field(None, description="A whole definition, as `GET /playbooks/{name}` "
                                                                "shows it (docs/playbooks.md).")
    holdout_share: float | None = Field(None, description="The share of entrants held out, 0 to below 1.")
    priority: int | None = Field(None, description="Higher wins when caps bite.")
    reentry: str | None = Field(None, description="once, each or every:N (N days).")
    goal_days: int | None = Field(None, description="The goal: an order within this many days of entering.")


# -- audiences ---------------------------------------------------------------------------------
@audiences.get("/fields", response_model=Page[AudienceField], dependencies=[allow(*READ_FIGURES)])
def audience_fields(request: Request, limit: Limit = 100, offset: Offset = 0) -> Response:
    """The customer fields a rule may use, with their types, groups and arguments."""
    with shop(request).use() as ws:
        rows = ws.audiences.fields()
    return page(rows, limit, offset)


@audiences.post("/preview", response_model=AudiencePreview, dependencies=[allow(*READ_FIGURES)])
def preview(request: Request, body: PreviewRequest) -> Response:
    """How many customers a rule selects, a sample of them, and their lifecycle stages and RFM segments."""
    with shop(request).use() as ws:
        result = ws.audiences.preview(body.rule, body.as_of, body.sample)
    return json_response(result)


@audiences.get("/saved", response_model=Page[Audience], dependencies=[allow(*READ_FIGURES)])
def saved_audiences(request: Request, limit: Limit = 100, offset: Offset = 0) -> Response:
    """The saved audiences, with their members at the last evaluation."""
    with shop(request).use() as ws:
        rows = ws.audiences.list()
    return page(rows, limit, offset)


@audiences.get("/saved/{name}", response_model=Audience, dependencies=[allow(*READ_FIGURES)])
def saved_audience(request: Request, name: AudienceName) -> Response:
    """One saved audience: its rule, description and members at the last evaluation."""
    with shop(request).use() as ws:
        found = ws.audiences.show(name)
    return json_response(found)


@audiences.get("/saved/{name}/members", response_model=Page[AudienceMember], dependencies=[allow(*READ_FIGURES)])
def audience_members(
    request: Request, name: AudienceName, limit: Limit = 100, offset: Offset = 0,
    history: Annotated[bool, Query(description="Every stay, with the day it ended.")] = False,
) -> Response:
    """Who is in a saved audience as of its last evaluation, newest entries first; ``total`` is null
    while more follow this page."""
    with shop(request).use() as ws:
        found = ws.audiences.members(name, to_read(limit, offset), history)
    return page_of_read(found, limit, offset)


@audiences.put("/saved/{name}", response_model=SavedAudience, dependencies=[allow(*EDIT_ACTIONS)])
def save_audience(request: Request, name: AudienceName, body: Annotated[SaveRequest, Body()]) -> Response:
    """Save an audience (or replace its rule) and evaluate it as of the last order: who entered, who left."""
    with shop(request).use() as ws:
        ws.audiences.save(name, body.rule, body.description)
        evaluation = ws.audiences.evaluate(name)
        found = ws.audiences.show(name)
    return json_response({"audience": found, "evaluation": evaluation})


# -- playbooks ---------------------------------------------------------------------------------
@playbooks.get("", response_model=Page[PlaybookSummary], dependencies=[allow(*READ_FIGURES)])
def playbook_list(request: Request, limit: Limit = 100, offset: Offset = 0) -> Response:
    """Every playbook, built-in and the shop's own, highest priority first."""
    with shop(request).use() as ws:
        rows = ws.playbooks.list()
    return page(rows, limit, offset)


@playbooks.get("/{name}", response_model=PlaybookDetail, dependencies=[allow(*READ_FIGURES)])
def playbook(request: Request, name: PlaybookName) -> Response:
    """One playbook: its summary and whole definition (trigger, condition, steps, goal, holdout, re-entry)."""
    with shop(request).use() as ws:
        found = ws.playbooks.show(name)
    return json_response(found)


@playbooks.get("/{name}/activity", response_model=list[PlaybookActivity], dependencies=[allow(*READ_FIGURES)])
def playbook_activity(request: Request, name: PlaybookName) -> Response:
    """What a playbook (`all`: every one) did so far: customers entered and held out, outbox rows by status."""
    with shop(request).use() as ws:
        found = ws.playbooks.activity(name)
    return json_response(found)


@playbooks.get("/{name}/results", response_model=list[MessageResult], dependencies=[allow(*READ_FIGURES)])
def playbook_results(request: Request, name: PlaybookName, as_of: AsOf = None) -> Response:
    """What each step's messages (`all`: every playbook's) brought up to ``as_of`` (default: today):
    delivered, customers who ordered after it and their orders and revenue (last touch within the
    playbook's goal window), unsubscribes, bounces, complaints and feedback answers (docs/email.md)."""
    with shop(request).use() as ws:
        found = ws.playbooks.results(name, as_of)
    return json_response(found)


@playbooks.get("/{name}/preview", response_model=EmailPreview, dependencies=[allow(*READ_FIGURES)])
def playbook_preview(
    request: Request, name: PlaybookName,
    customer: Annotated[str, Query(min_length=1, max_length=200, description="The customer, by the shop's id.")],
    step: Annotated[int, Query(ge=1, le=100, description="Which step, from 1.")] = 1, as_of: AsOf = None,
) -> Response:
    """A message step as the email a run would send the customer (`retainly email preview`): address,
    the channel a run would choose or why none, subject, text and HTML; its links lead nowhere."""
    with shop(request).use() as ws:
        found = ws.email.preview(name, customer, step, as_of)
    return json_response(found)


@playbooks.patch("/{name}", response_model=PlaybookDetail, dependencies=[allow(*EDIT_ACTIONS)])
def edit_playbook(request: Request, name: PlaybookName, body: Annotated[PlaybookEdit, Body()]) -> Response:
    """Change a playbook (as `retainly playbooks edit` does): its whole definition and/or single settings.
    The whole is checked before it is saved, enabled or not as it was; the answer is the playbook as saved."""
    with shop(request).use() as ws:
        found = ws.playbooks.edit(name, body.definition, **body.model_dump(exclude={"definition"}))
    return json_response(found)


@playbooks.post("/{name}/enable", response_model=ChangedPlaybooks, dependencies=[allow(*EDIT_ACTIONS)])
def enable(request: Request, name: PlaybookName) -> Response:
    """Enable a playbook (`all`: every one): the next `retainly run` acts on it."""
    with shop(request).use() as ws:
        done = ws.playbooks.enable([name])
    return json_response({"changed": done})


@playbooks.post("/{name}/disable", response_model=ChangedPlaybooks, dependencies=[allow(*EDIT_ACTIONS)])
def disable(request: Request, name: PlaybookName) -> Response:
    """Disable a playbook (`all`: every one); its enrolments and outbox rows stay."""
    with shop(request).use() as ws:
        done = ws.playbooks.disable([name])
    return json_response({"changed": done})


# -- the outbox --------------------------------------------------------------------------------
@outbox.get("/outbox", response_model=Page[OutboxItem], dependencies=[allow(*READ_FIGURES)])
def outbox_rows(
    request: Request, limit: Limit = 100, offset: Offset = 0,
    status: Annotated[str | None, Query(description="queued, sending, sent, failed, unknown, suppressed or "
                                                    "skipped.")] = None,
    playbook: Annotated[str | None, Query(description="One playbook's rows.")] = None,
) -> Response:
    """The outbox: one row per playbook step and customer with its delivery status, newest first;
    ``total`` is null while more follow this page."""
    with shop(request).use() as ws:
        found = ws.playbooks.outbox(status, playbook, to_read(limit, offset))
    return page_of_read(found, limit, offset)


ROUTERS = (audiences, playbooks, outbox)
