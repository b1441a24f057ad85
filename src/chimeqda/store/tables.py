"""SQLAlchemy 2.0 tables of a chimeqda project.

The schema is created and changed only by the Alembic migrations in
``store/migrations``; these mappings must match them (a test checks).

Coding decisions live in ``coding_events`` and are appended, never updated:
the current state of a coding is derived from its events (see
``store/queries.py``). Documents are immutable: a changed source file becomes
a new ``documents`` row whose ``supersedes_id`` points at the old one; one
version per file name is current (a partial unique index). The one
change an earlier version sees: pseudonymisation masks real values in its texts
with ``█`` of the same length (``services/privacy_scrub.py``), offsets unchanged.
``coder_runs`` records which documents each machine coding run covered;
``review_flags`` the segments a run left empty although a code is fairly
likely there, and ``segment_reviews`` (append-only) a person's "reviewed: no code".
Segments and turns of a timed source (a recording, VTT/SRT/Whisper JSON) keep
their times in seconds; a recording itself is a file ``<project>/media/<sha256>.<ext>``
described in ``documents.meta["media"]``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import text as sql_text

# Re-exported: callers use ``t.Base``, ``t.table(...)``, ``t.utcnow``.
from chimeqda.store.base import NAMING_CONVENTION, Base, table, utcnow  # noqa: F401


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    research_question: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("project_id", "label"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))  # the pseudonymous ID, e.g. P03
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_project_name", "project_id", "name"),
        # one current version per file name and project, whoever writes (0007)
        Index("uq_documents_current_name", "project_id", "name", unique=True,
              sqlite_where=sql_text("is_current"), postgresql_where=sql_text("is_current")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(500))  # source file name, unique per live version
    version: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    is_current: Mapped[bool] = mapped_column(default=True)
    source_format: Mapped[str] = mapped_column(String(20))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    language: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Turn(Base):
    __tablename__ = "turns"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    time: Mapped[float | None] = mapped_column(Float)  # seconds from the start of the recording
    time_end: Mapped[float | None] = mapped_column(Float)


class Segment(Base):
    __tablename__ = "segments"
    __table_args__ = (Index("ix_segments_document_index", "document_id", "index"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    turn: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    time_start: Mapped[float | None] = mapped_column(Float)  # seconds, when the source is timed
    time_end: Mapped[float | None] = mapped_column(Float)
    # transcribed words: [start, end, probability], start/end offsets into the document text
    words: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))


class Codebook(Base):
    __tablename__ = "codebooks"
    __table_args__ = (UniqueConstraint("project_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100))  # the codebook's own id, e.g. chime-d
    name: Mapped[str] = mapped_column(String(300))
    version: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text, default="")
    languages: Mapped[list[Any]] = mapped_column(default=list)
    source: Mapped[str] = mapped_column(String(500), default="")  # where it was loaded from
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Code(Base):
    __tablename__ = "codes"
    __table_args__ = (UniqueConstraint("codebook_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    codebook_id: Mapped[int] = mapped_column(ForeignKey("codebooks.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(200))  # the code id, e.g. connectedness.peer_support
    parent_key: Mapped[str | None] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(300))
    definition: Mapped[str] = mapped_column(Text, default="")
    inclusion: Mapped[str] = mapped_column(Text, default="")
    exclusion: Mapped[str] = mapped_column(Text, default="")
    color: Mapped[str | None] = mapped_column(String(20))
    # examples, counter_examples, keywords, translations: see codebook.loader
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Coder(Base):
    """Who or what makes codings: a person, or a machine coder with its settings."""

    __tablename__ = "coders"
    __table_args__ = (UniqueConstraint("kind", "name", "version", "params_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # human | machine
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(50), default="")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    params_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CodingEvent(Base):
    """One appended coding decision; rows are never updated or deleted.

    ``action``: ``suggested`` (a machine proposes), ``accepted`` (a person
    codes, or accepts the suggestion in ``decides_id``), ``rejected`` (a person
    rejects the suggestion in ``decides_id``), ``removed`` (a person withdraws
    the accepted coding in ``decides_id``).
    """

    __tablename__ = "coding_events"
    __table_args__ = (
        Index("ix_coding_events_document", "document_id", "id"),
        Index("ix_coding_events_decides", "decides_id"),
        Index("ix_coding_events_segment", "segment_id"),  # a segment's suggestions (open flags, queue; 0008)
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    code_id: Mapped[int] = mapped_column(ForeignKey("codes.id", ondelete="CASCADE"), index=True)
    coder_id: Mapped[int] = mapped_column(ForeignKey("coders.id"), index=True)
    action: Mapped[str] = mapped_column(String(12))
    decides_id: Mapped[int | None] = mapped_column(ForeignKey("coding_events.id"))
    score: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[str] = mapped_column(Text, default="")
    run_id: Mapped[str | None] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CoderRun(Base):
    """A document a machine coding run covered: one row per run and document.

    Written with the run's suggestions (in the same transaction), also when
    the run suggested nothing there: a covered document without suggestions
    means "the machine coded it and found no code applies". ``run_id`` is the
    ``coding_events.run_id`` of the run's suggestions.
    """

    __tablename__ = "coder_runs"
    __table_args__ = (UniqueConstraint("run_id", "document_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    coder_id: Mapped[int] = mapped_column(ForeignKey("coders.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReviewFlag(Base):
    """A segment a machine run left without a suggestion although some code is fairly likely there.

    Written with the run's suggestions (same transaction): "empty means
    unsure, not no code". ``code_id``/``score``: the most likely code and its
    calibrated probability; ``scores``: every code's calibrated probability
    (code key → p); ``level``: the probability at or above which the run flagged.
    """

    __tablename__ = "review_flags"
    __table_args__ = (UniqueConstraint("run_id", "segment_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    coder_id: Mapped[int] = mapped_column(ForeignKey("coders.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"), index=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("codes.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    level: Mapped[float] = mapped_column(Float)
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SegmentReview(Base):
    """A person's decision about a whole segment; appended, never updated or deleted.

    ``action``: ``no_code`` (reviewed: no code of the codebook applies) or
    ``reopened`` (that person withdraws their earlier ``no_code``). A segment's
    state for a person is their latest row.
    """

    __tablename__ = "segment_reviews"
    __table_args__ = (Index("ix_segment_reviews_segment", "segment_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    coder_id: Mapped[int] = mapped_column(ForeignKey("coders.id"), index=True)
    action: Mapped[str] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Memo(Base):
    __tablename__ = "memos"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    target_type: Mapped[str] = mapped_column(String(20))  # project | document | code | coding | participant
    target_id: Mapped[int | None] = mapped_column(Integer)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("coders.id"))
    title: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

# The web accounts and the pseudonymisation tables join Base.metadata (they import store.base, not this).
from chimeqda.store import accounts, privacy  # noqa: E402,F401
