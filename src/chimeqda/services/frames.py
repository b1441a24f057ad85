"""Read a project into the DataFrames that ``chimeqda.analysis`` works on.

``codings_frame`` gives one row per (segment, code, status): accepted codings
(made or accepted by a person, not removed) and, on request, pending
suggestions. A coding on a span counts for every segment it overlaps.
Only current document versions are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, select
from sqlalchemy.orm import aliased

from chimeqda.model import Codebook
from chimeqda.services.project import Workspace, project_codebook
from chimeqda.store import tables as t
from chimeqda.store.queries import current_coding, pending_suggestion

CODING_COLUMNS = [
    "document_id", "document", "participant", "segment_id", "segment_index", "turn", "text",
    "code", "status", "score", "coder", "event_id",
]


def codings_frame(ws: Workspace, *, include_suggested: bool = False, coder: str | None = None,
                  segments: Any = None, documents: tuple[int, int] | None = None,
                  participant_ids: list[int] | None = None) -> pd.DataFrame:
    """Coded segments of the project (see module docstring).

    ``coder`` keeps only codings made by that coder (a person's name, or a
    machine coder's name for its suggestions). ``segments`` (a selectable of
    segment ids), ``documents`` (a ``[first, last)`` range of document ids) and
    ``participant_ids`` (those participants' documents) read a part of the
    project (large projects read it in parts: ``services.sql_tables``).
    """
    event = aliased(t.CodingEvent)
    wanted = current_coding(event)
    if include_suggested:
        wanted = wanted | pending_suggestion(event)
    query = (
        select(
            t.Document.id, t.Document.name, t.Participant.label, t.Segment.id, t.Segment.index, t.Segment.turn,
            t.Segment.text, t.Code.key, event.action, event.score, t.Coder.name, event.id,
        )
        .select_from(event)
        .join(t.Document, t.Document.id == event.document_id)
        .outerjoin(t.Participant, t.Participant.id == t.Document.participant_id)
        .join(t.Segment, and_(t.Segment.document_id == event.document_id,
                              t.Segment.start < event.end, t.Segment.end > event.start))
        .join(t.Code, t.Code.id == event.code_id)
        .join(t.Coder, t.Coder.id == event.coder_id)
        .where(event.project_id == ws.project_id, t.Document.is_current.is_(True), wanted)
        .order_by(t.Document.id, t.Segment.index, event.id)
    )
    if coder:
        query = query.where(t.Coder.name == coder)
    if segments is not None:
        query = query.where(t.Segment.id.in_(segments))
    if documents is not None:
        query = query.where(event.document_id >= documents[0], event.document_id < documents[1])
    if participant_ids is not None:
        query = query.where(t.Document.participant_id.in_(participant_ids))
    with ws.session() as session:
        rows = session.execute(query).all()
    frame = pd.DataFrame(rows, columns=CODING_COLUMNS)
    frame["status"] = frame["status"].replace({"suggested": "suggested", "accepted": "accepted"})
    frame["score"] = frame["score"].astype(float) if len(frame) else pd.Series(dtype=float)
    # one row per segment, code and status: the strongest one
    frame = frame.sort_values("score", ascending=False, na_position="last").drop_duplicates(
        ["segment_id", "code", "status"]
    )
    return frame.sort_values(["document_id", "segment_index", "code"]).reset_index(drop=True)


def segments_frame(ws: Workspace, *, include_interviewer: bool = True) -> pd.DataFrame:
    """Every segment of the current documents: ids, order, turn, role, participant."""
    query = (
        select(t.Segment.document_id, t.Segment.id, t.Segment.index, t.Segment.turn, t.Segment.role,
               t.Participant.label, t.Segment.speaker)
        .join(t.Document, t.Document.id == t.Segment.document_id)
        .outerjoin(t.Participant, t.Participant.id == t.Document.participant_id)
        .where(t.Document.project_id == ws.project_id, t.Document.is_current.is_(True))
        .order_by(t.Segment.document_id, t.Segment.index)
    )
    if not include_interviewer:
        query = query.where(t.Segment.role != "interviewer")
    with ws.session() as session:
        rows = session.execute(query).all()
    return pd.DataFrame(
        rows, columns=["document_id", "segment_id", "segment_index", "turn", "role", "participant", "speaker"]
    )


def participants_frame(ws: Workspace) -> pd.DataFrame:
    """One row per participant: ``participant`` plus one column per attribute."""
    with ws.session() as session:
        rows = session.execute(
            select(t.Participant.label, t.Participant.attributes)
            .where(t.Participant.project_id == ws.project_id)
            .order_by(t.Participant.label)
        ).all()
    records = [{"participant": label, **(attrs or {})} for label, attrs in rows]
    frame = pd.DataFrame(records) if records else pd.DataFrame(columns=["participant"])
    return frame.replace({None: np.nan})


def document_attributes_frame(ws: Workspace) -> pd.DataFrame:
    """One row per current document: ``document_id`` plus one column per attribute of its corpus row."""
    with ws.session() as session:
        rows = session.execute(
            select(t.Document.id, t.Document.meta)
            .where(t.Document.project_id == ws.project_id, t.Document.is_current.is_(True))
            .order_by(t.Document.id)
        ).all()
    records = [{"document_id": doc_id, **((meta or {}).get("attributes") or {})} for doc_id, meta in rows]
    frame = pd.DataFrame(records) if records else pd.DataFrame(columns=["document_id"])
    return frame.replace({None: np.nan})


def documents_frame(ws: Workspace) -> pd.DataFrame:
    """The project's documents with version, language, participant and counts."""
    with ws.session() as session:
        rows = session.execute(
            select(t.Document.id, t.Document.name, t.Document.version, t.Document.is_current,
                   t.Document.language, t.Document.source_format, t.Participant.label, t.Document.imported_at)
            .outerjoin(t.Participant, t.Participant.id == t.Document.participant_id)
            .where(t.Document.project_id == ws.project_id)
            .order_by(t.Document.name, t.Document.version)
        ).all()
    return pd.DataFrame(
        rows, columns=["document_id", "document", "version", "current", "language", "format", "participant", "imported_at"]
    )


def attribute_frequencies(ws: Workspace, codings: pd.DataFrame, book: Codebook, participants: pd.DataFrame,
                          attribute: str, **options: Any) -> pd.DataFrame:
    """The by-attribute table: of a participant attribute, else of a document attribute (a corpus row's column)."""
    from chimeqda.analysis.frequencies import (
        frequencies_by_attribute,
        frequencies_by_document_attribute,
    )

    if attribute in participants.columns:
        return frequencies_by_attribute(codings, book, participants, attribute, **options)
    return frequencies_by_document_attribute(codings, book, document_attributes_frame(ws), attribute, **options)


@dataclass(frozen=True)
class ProjectFrames:
    """A project read once for a report: its codebook and the frames every analysis takes."""

    name: str
    book: Codebook
    codings: pd.DataFrame
    participants: pd.DataFrame
    segments: pd.DataFrame
    include_suggested: bool = False


def project_frames(ws: Workspace, *, include_suggested: bool = False, coder: str | None = None) -> ProjectFrames:
    """Load the codebook and the codings, participants and segments frames once.

    ``coder`` keeps only that person's codings (blind coding), plus the
    machine's pending suggestions when ``include_suggested``.
    """
    with ws.session() as session:
        name = session.scalar(select(t.Project.name).where(t.Project.id == ws.project_id)) or ""
        _, book = project_codebook(session, ws.project_id)
    codings = codings_frame(ws, include_suggested=include_suggested, coder=coder)
    if coder and include_suggested:
        everyone = codings_frame(ws, include_suggested=True)
        codings = pd.concat([codings, everyone[everyone["status"] == "suggested"]], ignore_index=True)
    return ProjectFrames(name, book, codings, participants_frame(ws), segments_frame(ws), include_suggested)
