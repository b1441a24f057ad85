"""A transcript's recording and corrections from the document view.

``GET /api/documents/{d}/media`` serves the document's own recording (from
``<project>/media/``, named only by ``documents.meta["media"]``) with HTTP
range requests, so the browser's player can seek. ``POST
/api/documents/{d}/corrections`` corrects words: a new version of the
document that keeps every coding (``services.corrections``).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from chimeqda.errors import UnknownObject
from chimeqda.media_files import media_info, media_path, media_type
from chimeqda.services.corrections import correct_transcript
from chimeqda.store import tables as t
from chimeqda.web.deps import DocumentCoderWrite, DocumentViewer

router = APIRouter()


class Correction(BaseModel):
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    replacement: str = Field(max_length=2_000)


@router.get("/api/documents/{document_id}/media")
def document_media(access: DocumentViewer, document_id: int):
    """The recording of a document, for the player (Range requests give 206 and the asked bytes)."""
    with access.ws.session() as session:
        meta = session.scalar(
            select(t.Document.meta).where(t.Document.id == document_id, t.Document.project_id == access.project_id)
        )
    if media_info(meta) is None:
        raise UnknownObject(f"document {document_id} has no recording")
    path = media_path(access.directory, meta)
    if path is None:
        raise UnknownObject(
            f"the recording of document {document_id} ({meta['media']['file']}) is not in this server's project "
            "folder; start `chimeqda serve -p` with the project folder that holds media/"
        )
    return FileResponse(
        path, media_type=media_type(meta["media"]), headers={"Cache-Control": "private, max-age=86400"},
    )


@router.post("/api/documents/{document_id}/corrections")
def correct(access: DocumentCoderWrite, document_id: int, body: Correction):
    """Replace ``[start, end)`` by ``replacement``: returns the new version's id and page."""
    revision = correct_transcript(access.ws, document_id, [(body.start, body.end, body.replacement)],
                                  user=access.user.username)
    return {"document_id": revision.document_id, "version": revision.version,
            "url": f"/projects/{access.project_id}/documents/{revision.document_id}"}
