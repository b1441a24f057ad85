"""``chimeqda privacy-check``: what in a project could still identify someone.

Lists documents not yet pseudonymised, confirmed identifiers that turn up
again after pseudonymisation — in a document's text, a document's name, a
memo, a code's name or definition, a participant attribute — and exports or
reports made while documents were still identifiable. Coding evidence (an LLM's
quote) of current documents is searched too. Dates and ages are not searched
for (they recur with other meanings). The known values come
from the key file when it is open, and from the confirmed spans of earlier
versions (which the database keeps) otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import func, select

from chimeqda.privacy.keyfile import KeyRing, normalise_value
from chimeqda.services.privacy_audit import (
    AuditEntry,
    audit_trail,
    document_statuses,
    pseudonymised_ids,
)
from chimeqda.services.project import Workspace
from chimeqda.services.pseudonymise import FOLLOWED_KINDS, confirmed_values
from chimeqda.store import tables as t
from chimeqda.store.privacy import Pseudonym


@dataclass(frozen=True)
class Finding:
    """A known identifier found where it should no longer be (the value itself is not repeated)."""

    where: str
    label: str
    pseudonym: str
    excerpt: str


@dataclass(frozen=True)
class PrivacyCheck:
    not_pseudonymised: list[tuple[str, str]] = field(default_factory=list)  # (document, status)
    found_again: list[Finding] = field(default_factory=list)
    early_exports: list[AuditEntry] = field(default_factory=list)
    earlier_versions: int = 0

    @property
    def clean(self) -> bool:
        return not (self.not_pseudonymised or self.found_again or self.early_exports)


def _mask(text: str, start: int, end: int, pseudonym: str) -> str:
    before = text[max(0, start - 30):start].replace("\n", " ")
    after = text[end:end + 30].replace("\n", " ")
    return f"…{before}<{pseudonym}>{after}…"


def privacy_check(ws: Workspace, key: KeyRing | None = None) -> PrivacyCheck:
    """Check the whole project (see module docstring)."""
    with ws.session() as session:
        statuses = document_statuses(session, ws.project_id)
        values: dict[str, tuple[str, str]] = {}  # normalised value → (label, pseudonym)
        registry = {row.value_hash: row.pseudonym for row in session.scalars(
            select(Pseudonym).where(Pseudonym.project_id == ws.project_id))}
        if key is not None:
            for digest, entry in key.entries.items():
                if entry["label"] not in FOLLOWED_KINDS:
                    continue
                values[normalise_value(entry["value"])] = (entry["label"], registry.get(digest, entry["pseudonym"]))
        for value, label in confirmed_values(session, ws.project_id).items():
            pseudonym = registry.get(key.value_hash(value), "?") if key is not None else "a pseudonym"
            values.setdefault(value, (label, pseudonym))
        done = pseudonymised_ids(session, ws.project_id)
        places: list[tuple[str, str]] = []
        for doc in session.scalars(select(t.Document).where(t.Document.project_id == ws.project_id,
                                                            t.Document.is_current.is_(True))):
            places.append((f"document name {doc.name}", doc.name))
            if doc.id in done:
                places.append((f"text of {doc.name} v{doc.version}", doc.text))
        evidence = session.execute(
            select(t.CodingEvent.id, t.CodingEvent.evidence, t.Document.name)
            .join(t.Document, t.Document.id == t.CodingEvent.document_id)
            .where(t.Document.project_id == ws.project_id, t.Document.is_current.is_(True),
                   t.CodingEvent.evidence != ""))
        for event_id, text, name in evidence:
            places.append((f"evidence of coding event {event_id} in {name}", text))
        for memo in session.scalars(select(t.Memo).where(t.Memo.project_id == ws.project_id)):
            places.append((f"memo {memo.id} ({memo.target_type})", f"{memo.title}\n{memo.text}"))
        codes = session.execute(select(t.Code.key, t.Code.name, t.Code.definition)
                                .join(t.Codebook, t.Codebook.id == t.Code.codebook_id)
                                .where(t.Codebook.project_id == ws.project_id))
        for key_name, name, definition in codes:
            places.append((f"code {key_name}", f"{name}\n{definition}"))
        for participant in session.scalars(select(t.Participant).where(t.Participant.project_id == ws.project_id)):
            places.append((f"participant {participant.label}",
                           " ".join(str(v) for v in (participant.attributes or {}).values())))
        earlier = session.scalar(select(func.count()).select_from(t.Document).where(
            t.Document.project_id == ws.project_id, t.Document.is_current.is_(False))) or 0
    found: list[Finding] = []
    if values:
        pattern = re.compile("|".join(rf"(?<!\w){re.escape(v)}(?!\w)" for v in sorted(values, key=len, reverse=True)),
                             re.IGNORECASE)
        for where, text in places:
            for match in pattern.finditer(text):
                label, pseudonym = values[normalise_value(match.group())]
                found.append(Finding(where, label, pseudonym, _mask(text, match.start(), match.end(), pseudonym)))
    exports = [e for e in audit_trail(ws) if e.action == "exported" and e.detail.get("unpseudonymised")]
    return PrivacyCheck(
        not_pseudonymised=[(name, status) for name, status in statuses.items() if status != "pseudonymised"],
        found_again=found, early_exports=exports, earlier_versions=int(earlier),
    )
