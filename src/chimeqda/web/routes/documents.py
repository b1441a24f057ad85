"""The document view and the coding API it calls.

Pages: ``GET /projects/{p}/documents/{d}`` (the transcript, palette, review
mode). API, all under ``/api``: the document payload, events since a cursor
(polled every few seconds), applying, removing and changing codings,
deciding suggestions (one, or a grouped chip's all at once), marking sentences
"reviewed: no code", the review queue by expected value, writing memos. Writes need the coder role and the CSRF
header; each is one call of ``services`` (one transaction), which appends the events.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.services import active, coding, memos, privacy_audit, review
from chimeqda.store import tables as t
from chimeqda.web import queries
from chimeqda.web.deps import (
    CodingCoderWrite,
    DocumentCoderWrite,
    DocumentViewer,
    ProjectCoderWrite,
    ProjectViewer,
)
from chimeqda.web.pages import templates

router = APIRouter()
DOCUMENT_QUEUE = 2000
"""Most queue items the document API returns (the review mode appends other pending suggestions in reading order)."""


class NewCoding(BaseModel):
    start: int = Field(ge=0)
    end: int = Field(gt=0)
    codes: list[str] = Field(min_length=1, max_length=50)


class ChangeCoding(BaseModel):
    code: str


class Decision(BaseModel):
    action: str  # accepted | rejected


class Decisions(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=5000)
    action: str  # accepted | rejected


class NoCode(BaseModel):
    segments: list[int] = Field(min_length=1, max_length=5000)
    undo: bool = False
    note: str = Field(default="", max_length=2000)


class NewMemo(BaseModel):
    target_type: str
    target_id: int
    text: str = Field(max_length=20_000)


@router.get("/projects/{project_id}/documents/{document_id}")
def document_page(request: Request, access: ProjectViewer, document_id: int):
    with access.ws.session() as session:
        doc = session.execute(
            select(t.Document.name, t.Document.project_id).where(t.Document.id == document_id)
        ).first()
        if doc is None or doc.project_id != access.project_id:
            raise UnknownObject(f"no document {document_id} in this project")
        name = doc.name
    privacy_audit.record_view(access.ws, document_id, user=access.user.username)  # only where privacy is on
    return templates.TemplateResponse(
        request, "document.html",
        {"user": access.user, "access": access, "document_id": document_id, "document_name": name,
         "poll_ms": int(request.app.state.settings.poll_seconds * 1000)},
    )


@router.get("/api/documents/{document_id}")
def document_data(access: DocumentViewer, document_id: int):
    # pre-encoded JSON: FastAPI's encoder walking ~10,000 small lists would double the time
    return Response(queries.document_payload(access, document_id), media_type="application/json")


@router.get("/api/documents/{document_id}/events")
def document_events(access: DocumentViewer, document_id: int, after: int = 0, memos_after: int = 0):
    return queries.events_since(access, document_id, after, memos_after)


@router.post("/api/documents/{document_id}/codings")
def apply_codes(access: DocumentCoderWrite, document_id: int, body: NewCoding):
    """Apply one or more codes to the span [start, end) — one appended event per code."""
    if body.end <= body.start:
        raise InvalidInput("select some text first (the span is empty)", source="span")
    ids = coding.add_codings(access.ws, document_id, body.start, body.end, body.codes, by=access.user.username)
    return {"events": queries.events_by_id(access, ids)}


@router.post("/api/codings/{event_id}/remove")
def remove(access: CodingCoderWrite, event_id: int):
    removal = coding.remove_coding(access.ws, event_id, by=access.user.username, blind=access.hides_others)
    return {"events": queries.events_by_id(access, [removal])}


@router.post("/api/codings/{event_id}/change")
def change(access: CodingCoderWrite, event_id: int, body: ChangeCoding):
    """Replace the code of a coding: the old coding is removed and the span coded anew, in one transaction."""
    ids = coding.change_coding(access.ws, event_id, body.code, by=access.user.username, blind=access.hides_others)
    return {"events": queries.events_by_id(access, list(ids))}


@router.post("/api/suggestions/{event_id}/decide")
def decide(access: CodingCoderWrite, event_id: int, body: Decision):
    ids = coding.decide_events(access.ws, [event_id], body.action, by=access.user.username, per_person=True,
                               blind=access.hides_others)
    return {"events": queries.events_by_id(access, ids)}


@router.post("/api/projects/{project_id}/suggestions/decide")
def decide_many(access: ProjectCoderWrite, body: Decisions):
    """Accept or reject several suggestions at once (a grouped chip), in one transaction: all or none."""
    ids = coding.decide_events(access.ws, body.ids, body.action, by=access.user.username, per_person=True,
                               blind=access.hides_others)
    return {"events": queries.events_by_id(access, ids)}


@router.post("/api/documents/{document_id}/no-code")
def no_code(access: DocumentCoderWrite, document_id: int, body: NoCode):
    """Mark sentences of the document "reviewed: no code" (or withdraw that with ``undo``); appended, one transaction."""
    if body.undo:
        review.reopen(access.ws, body.segments, by=access.user.username, document_id=document_id)
    else:
        review.mark_no_code(access.ws, body.segments, by=access.user.username, note=body.note,
                            document_id=document_id)
    return queries.segment_review_state(access, document_id)


@router.get("/api/documents/{document_id}/review-queue")
def review_queue(access: DocumentViewer, document_id: int):
    """The document's segments waiting for a decision, by expected value of a decision (``services.active``).

    At most ``DOCUMENT_QUEUE`` of them (the database sorts); the page reviews any other pending
    suggestion after these, in reading order.
    """
    items = active.stored_queue(access.ws, document_id=document_id, by=access.user.username, limit=DOCUMENT_QUEUE)
    return {"queue": [{"segment": i.segment_id, "start": i.start, "end": i.end,
                       "value": round(i.expected_value, 4), "suggestions": list(i.suggestions),
                       "flag": None if i.flag_code is None else {"code": i.flag_code, "score": round(i.flag_score, 3)}}
                      for i in items]}


@router.post("/api/projects/{project_id}/memos")
def memo(access: ProjectCoderWrite, body: NewMemo):
    memo_id = memos.add_memo(access.ws, body.target_type, body.target_id, body.text, by=access.user.username,
                             blind=access.hides_others)
    return {"id": memo_id}
