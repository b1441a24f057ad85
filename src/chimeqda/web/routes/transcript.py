"""A transcript's recording and corrections from the document view.

``GET /api/documents/{d}/media`` serves the document's own recording (from
``<project>/media/``, named only by ``documents.meta["media"]``) with HTTP
range requests, so the browser's player can seek. ``POST
/api/documents/{d}/corrections`` corrects words: a new version of the
document that keeps every coding (``services.corrections``). ``POST
/api/documents/{d}/turns/{i}`` sets the speaker and role of a turn, or of
every turn of its speaker (``services.speakers``).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from chimeqda.errors import UnknownObject
from chimeqda.services.corrections import correct_transcript
from chimeqda.services.media import document_recording
from chimeqda.services.speakers import set_speaker
from chimeqda.web import queries
from chimeqda.web.deps import DocumentCoderWrite, DocumentViewer

router = APIRouter()


class Correction(BaseModel):
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    replacement: str = Field(max_length=2_000)


class SpeakerChange(BaseModel):
    speaker: str = Field(min_length=1, max_length=200)
    role: str
    scope: Literal["turn", "speaker"] = "turn"


@router.get("/api/documents/{document_id}/media")
def document_media(access: DocumentViewer, document_id: int):
    """The recording of a document, for the player (Range requests give 206 and the asked bytes)."""
    recording = document_recording(access.ws, document_id)
    return FileResponse(recording.path, media_type=recording.mime, headers={"Cache-Control": "private, max-age=86400"})


@router.post("/api/documents/{document_id}/corrections")
def correct(access: DocumentCoderWrite, document_id: int, body: Correction):
    """Replace ``[start, end)`` by ``replacement``: returns the new version's id and page."""
    revision = correct_transcript(access.ws, document_id, [(body.start, body.end, body.replacement)],
                                  user=access.user.username)
    return {"document_id": revision.document_id, "version": revision.version,
            "url": f"/projects/{access.project_id}/documents/{revision.document_id}"}


@router.post("/api/documents/{document_id}/turns/{index}")
def change_speaker(access: DocumentCoderWrite, document_id: int, index: int, body: SpeakerChange):
    """Set the speaker and role of turn ``index`` (or of every turn of its speaker); returns all turns."""
    turns = queries.document_turns(access, document_id)
    if not 0 <= index < len(turns):
        raise UnknownObject(f"no turn {index} in document {document_id}")
    wanted = [index] if body.scope == "turn" else [i for i, turn in enumerate(turns) if turn[2] == turns[index][2]]
    for first, last in _runs(wanted):
        set_speaker(access.ws, str(document_id), first, last, speaker=body.speaker, role=body.role)
    return {"turns": queries.document_turns(access, document_id)}


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted indices as (first, last) pairs."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs
