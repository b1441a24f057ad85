"""``chimeqda privacy-check``: what in a project could still identify someone.

Lists documents not yet pseudonymised, confirmed identifiers that turn up
again after pseudonymisation, earlier document versions that still hold real
values, and exports or reports made while documents were still identifiable.
*Every* text and JSON column of the project is searched
(``privacy_scrub.scan_project``): document texts, names and metadata of all
versions, segments and speaker labels, coding evidence, memos, code names and
definitions, participant attributes, review notes, the audit log — except the
rows of current documents not yet pseudonymised (they are listed as such). On
SQLite the raw database file, its write-ahead log and its backup copies
(``chimeqda.sqlite3.bak-*``) are searched byte by byte too. Dates and ages are
not searched for (they recur with other meanings). The known values come from
the key file when it is open (``CHIMEQDA_KEY_PASSPHRASE``); without it only
from the confirmed spans still readable in the database — after ``--apply``
masks earlier versions those are the unapplied ones only.
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
from chimeqda.services.privacy_scrub import database_files, scan_files, scan_project
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
    unscrubbed: dict[tuple[str, int], int] = field(default_factory=dict)  # (document, version) → values found
    files: list[tuple[str, int]] = field(default_factory=list)  # (database file or backup copy, values in its bytes)

    @property
    def clean(self) -> bool:
        return not (self.not_pseudonymised or self.found_again or self.early_exports or self.unscrubbed or self.files)


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
        raw_pending = set(session.scalars(select(t.Document.id).where(
            t.Document.project_id == ws.project_id, t.Document.is_current.is_(True)))) - done
        earlier = session.scalar(select(func.count()).select_from(t.Document).where(
            t.Document.project_id == ws.project_id, t.Document.is_current.is_(False))) or 0
        found: list[Finding] = []
        unscrubbed: dict[tuple[str, int], int] = {}
        pattern = None
        if values:
            pattern = re.compile("|".join(rf"(?<!\w){re.escape(v)}(?!\w)"
                                          for v in sorted(values, key=len, reverse=True)), re.IGNORECASE)
            seen: set[tuple[str, str]] = set()
            for place in scan_project(session, ws.project_id, skip_documents=raw_pending):
                for match in pattern.finditer(place.text):
                    label, pseudonym = values.get(normalise_value(match.group()), ("PERSON", "a pseudonym"))
                    if place.earlier is not None:
                        unscrubbed[place.earlier] = unscrubbed.get(place.earlier, 0) + 1
                        continue
                    excerpt = _mask(place.text, match.start(), match.end(), pseudonym)
                    if (place.where.split(" (row")[0], excerpt) not in seen:
                        seen.add((place.where.split(" (row")[0], excerpt))
                        found.append(Finding(place.where, label, pseudonym, excerpt))
    files = []
    if key is not None and values:
        stale_ok = not found and not unscrubbed and not raw_pending  # then any hit in the file is an old byte
        for path, count in scan_files(database_files(ws.engine, ws.directory), list(values)):
            if stale_ok or ".bak-" in path.name:
                files.append((str(path), count))
    exports = [e for e in audit_trail(ws) if e.action == "exported" and e.detail.get("unpseudonymised")]
    return PrivacyCheck(
        not_pseudonymised=[(name, status) for name, status in statuses.items() if status != "pseudonymised"],
        found_again=found, early_exports=exports, earlier_versions=int(earlier), unscrubbed=unscrubbed,
        files=files,
    )
