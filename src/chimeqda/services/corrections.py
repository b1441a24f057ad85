"""Correcting the words of a transcript: a new document version that keeps every coding.

A correction is an edit ``(start, end, replacement)`` of the current text,
made through :func:`chimeqda.services.revisions.revise_document` (new
version, sentences re-split, coding events and memos carried over with
remapped offsets, recording times kept). A word the researcher corrected has
been checked against the recording, so it no longer counts as uncertain:
its probability becomes 1.0. One transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.services.project import Workspace
from chimeqda.services.revisions import Revision, checked_edits, revise_document
from chimeqda.store import tables as t

CHECKED = 1.0
REASON = "correction of the transcript"


def correct_transcript(ws: Workspace, document_id: int, edits: Sequence[tuple[int, int, str]], *, user: str,
                       reason: str = REASON) -> Revision:
    """Apply word corrections to a document of ``ws``; returns the new version (see module doc)."""
    with ws.session() as session:
        doc = session.get(t.Document, document_id)
        if doc is None or doc.project_id != ws.project_id:
            raise UnknownObject(f"no document with id {document_id} in this project")
        checked = checked_edits(doc.text, edits, source=doc.name)
        for start, end, replacement in checked:
            if "\n" in replacement or "\r" in replacement:
                raise InvalidInput("a correction cannot add line breaks (turns are changed with the speaker editor)",
                                   source=doc.name, location=f"characters {start}–{end}")
            if doc.text[start:end] == replacement:
                raise InvalidInput(f"the correction of {replacement!r} changes nothing", source=doc.name,
                                   location=f"characters {start}–{end}")
        revision = revise_document(session, document_id, checked, reason=reason, user=user)
        _mark_checked(session, revision.document_id, _new_spans(checked))
    return revision


def _new_spans(edits: Sequence[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """Where each replacement lies in the corrected text."""
    spans, shift = [], 0
    for start, end, replacement in edits:
        spans.append((start + shift, start + shift + len(replacement)))
        shift += len(replacement) - (end - start)
    return spans


def _mark_checked(session, document_id: int, spans: list[tuple[int, int]]) -> None:
    for segment in session.scalars(select(t.Segment).where(t.Segment.document_id == document_id)):
        if not segment.words:
            continue
        words = [list(word) for word in segment.words or ()]
        changed = False
        for word in words:
            if len(word) >= 3 and any(word[0] < b and a < word[1] for a, b in spans) and word[2] != CHECKED:
                word[2] = CHECKED
                changed = True
        if changed:
            segment.words = words
