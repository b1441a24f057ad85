"""The document view and the coding API it calls.

Pages: ``GET /projects/{p}/documents/{d}`` (the transcript, palette, review
mode). API, all under ``/api``: the document payload, events since a cursor
(polled every few seconds), applying, removing and changing codings,
deciding suggestions, writing memos. Writes need the coder role and the CSRF
header; each appends coding events through ``services.coding``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.services.coding import add_coding, remove_coding
from chimeqda.store import tables as t
from chimeqda.web import queries
from chimeqda.web.app import templates
from chimeqda.web.deps import (
    CodingCoderWrite,
    DocumentCoderWrite,
    DocumentViewer,
    ProjectCoderWrite,
    ProjectViewer,
)

router = APIRouter()


class NewCoding(BaseModel):
    start: int = Field(ge=0)
    end: int = Field(gt=0)
    codes: list[str] = Field(min_length=1, max_length=50)


class ChangeCoding(BaseModel):
    code: str


class Decision(BaseModel):
    action: str  # accepted | rejected


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
    return {"events": queries.apply_codes(access, document_id, body.start, body.end, body.codes)}


@router.post("/api/codings/{event_id}/remove")
def remove(access: CodingCoderWrite, event_id: int):
    _check_touch(access, event_id)
    removal = remove_coding(access.ws, event_id, by=access.user.username)
    return {"events": queries.events_by_id(access, [removal])}


@router.post("/api/codings/{event_id}/change")
def change(access: CodingCoderWrite, event_id: int, body: ChangeCoding):
    """Replace the code of a coding: the old coding is removed and the span coded anew."""
    event = _check_touch(access, event_id)
    removal = remove_coding(access.ws, event_id, by=access.user.username)
    added = add_coding(access.ws, event.document_id, event.start, event.end, body.code, by=access.user.username)
    return {"events": queries.events_by_id(access, [removal, added])}


@router.post("/api/suggestions/{event_id}/decide")
def decide(access: CodingCoderWrite, event_id: int, body: Decision):
    ids = queries.decide_as(access, event_id, body.action)
    return {"events": queries.events_by_id(access, ids)}


@router.post("/api/projects/{project_id}/memos")
def memo(access: ProjectCoderWrite, body: NewMemo):
    memo_id = queries.add_memo(access, body.target_type, body.target_id, body.text)
    return {"id": memo_id}


def _check_touch(access, event_id: int) -> t.CodingEvent:
    with access.ws.session() as session:
        me = queries.my_coder_id(session, access.user.username)
        event = session.get(t.CodingEvent, event_id)
        queries.check_may_touch(session, access, event, me)
        session.expunge(event)
        return event
