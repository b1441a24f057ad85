"""Pseudonymisation in the document view: proposed identifiers, decisions, marking, applying.

Every write is one call of ``services.pseudonymise`` (one transaction, logged
in the privacy audit trail); the web itself writes nothing.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from chimeqda.errors import InvalidInput, WrongPassphrase
from chimeqda.services import pseudonymise
from chimeqda.web.deps import DocumentCoderWrite, DocumentViewer

router = APIRouter()


class Decision(BaseModel):
    status: str  # confirmed | rejected


class NewIdentifier(BaseModel):
    start: int = Field(ge=0)
    end: int = Field(gt=0)
    label: str = "PERSON"


class Apply(BaseModel):
    passphrase: str = Field(min_length=1, max_length=1000)


@router.get("/api/documents/{document_id}/identifiers")
def identifiers(access: DocumentViewer, document_id: int):
    return pseudonymise.document_identifiers(access.ws, document_id)


@router.post("/api/documents/{document_id}/identifiers/{proposal_id}/decide")
def decide(access: DocumentCoderWrite, document_id: int, proposal_id: int, body: Decision):
    if pseudonymise.proposal_document(access.ws, proposal_id) != document_id:
        raise InvalidInput(f"proposal {proposal_id} belongs to another document")
    if body.status not in ("confirmed", "rejected"):
        raise InvalidInput("status must be 'confirmed' or 'rejected'")
    pseudonymise.decide_proposals(access.ws, [proposal_id], body.status, user=access.user.username)
    return pseudonymise.document_identifiers(access.ws, document_id)


@router.post("/api/documents/{document_id}/identifiers")
def add(access: DocumentCoderWrite, document_id: int, body: NewIdentifier):
    pseudonymise.add_proposal(access.ws, document_id, body.start, body.end, body.label, user=access.user.username)
    return pseudonymise.document_identifiers(access.ws, document_id)


@router.post("/api/documents/{document_id}/pseudonymise")
def apply(access: DocumentCoderWrite, document_id: int, body: Apply):
    """Apply the confirmed replacements of this document with the project's key (passphrase in the body)."""
    try:
        key = pseudonymise.unlock_key(access.ws, body.passphrase, create=False)
    except WrongPassphrase as exc:
        raise InvalidInput(str(exc)) from None
    (outcome,) = pseudonymise.apply_pseudonyms(
        access.ws, key, [pseudonymise.document_name(access.ws, document_id)], user=access.user.username) or [None]
    if outcome is None:
        raise InvalidInput("this document is pseudonymised already")
    return {"document_id": outcome.document_id, "version": outcome.version, "replacements": outcome.replacements}
