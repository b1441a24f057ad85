"""Tables of pseudonymisation: identifier proposals, the pseudonym registry, the audit log.

The real value behind a pseudonym is never stored here: ``pseudonyms.value_hash``
is an HMAC of the normalised value under a key kept (encrypted) in the key
file, outside the project and the database (see ``privacy/keyfile.py``).
``privacy_audit`` rows are appended, never updated or deleted (the
migration adds triggers that refuse it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chimeqda.store.base import Base, utcnow

PROPOSAL_STATUSES = ("proposed", "confirmed", "rejected", "added")
AUDIT_ACTIONS = ("pseudonymised", "detected", "confirmed", "rejected", "added", "revealed", "exported", "viewed",
                 "revised", "masked")


class IdentifierProposal(Base):
    """A span of a document that may identify someone, with its evidence and the researcher's decision."""

    __tablename__ = "identifier_proposals"
    __table_args__ = (Index("ix_identifier_proposals_document", "document_id", "start"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(20))  # PERSON PLACE ORG DATE CONTACT AGE
    source: Mapped[str] = mapped_column(String(100), default="")  # detector(s) that found it, or "researcher"
    score: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(12), default="proposed")
    pseudonym: Mapped[str | None] = mapped_column(String(200))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Pseudonym(Base):
    """One pseudonym of a project: ``[Person 3]`` (label + number), keyed by an HMAC of the real value."""

    __tablename__ = "pseudonyms"
    __table_args__ = (
        UniqueConstraint("project_id", "value_hash"),
        UniqueConstraint("project_id", "label", "number", name="uq_pseudonyms_project_label_number"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(20))
    number: Mapped[int] = mapped_column(Integer)
    pseudonym: Mapped[str] = mapped_column(String(200))
    value_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PrivacyAudit(Base):
    """Who did what to which document, when and why; appended, never rewritten."""

    __tablename__ = "privacy_audit"
    __table_args__ = (Index("ix_privacy_audit_project_document", "project_id", "document_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer)  # no foreign key: the log outlives what it names
    document_id: Mapped[int | None] = mapped_column(Integer)
    document_name: Mapped[str] = mapped_column(String(500), default="")
    user: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
