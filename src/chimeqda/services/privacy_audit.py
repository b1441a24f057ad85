"""The privacy audit trail, each document's pseudonymisation status, and the guard that uses it.

A project opts into pseudonymisation (``settings["privacy"]["required"]``,
set by ``chimeqda pseudonymise`` the first time or ``init --pseudonymise``).
From then on machine coding, export and the report refuse documents that are
not pseudonymised unless the researcher says ``--allow-unpseudonymised``.
A document is pseudonymised when the audit log says so for that exact
version (``action = "pseudonymised"``). The audit log is appended, never
rewritten: the database refuses updates and deletes.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chimeqda.errors import PrivacyRequired, UnknownObject
from chimeqda.services.project import Workspace
from chimeqda.store import tables as t
from chimeqda.store.privacy import AUDIT_ACTIONS, IdentifierProposal, PrivacyAudit
from chimeqda.tabular import csv_row

SETTING = "privacy"


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    user: str
    action: str
    document: str
    reason: str
    detail: dict[str, Any]


def privacy_settings(session: Session, project_id: int) -> dict[str, Any]:
    """The project's privacy settings (empty when it never opted in)."""
    settings = session.scalar(select(t.Project.settings).where(t.Project.id == project_id)) or {}
    return dict(settings.get(SETTING) or {})


def enable_privacy(session: Session, project_id: int, *, substitute: str | None = None) -> dict[str, Any]:
    """Opt the project into pseudonymisation (idempotent); returns its privacy settings."""
    project = session.get(t.Project, project_id)
    if project is None:
        raise UnknownObject(f"no project {project_id}")
    current = dict((project.settings or {}).get(SETTING) or {})
    changed = dict(current)
    changed.setdefault("required", True)
    changed.setdefault("key_id", uuid.uuid4().hex)
    changed.setdefault("substitute", "labels")
    if substitute is not None:
        changed["substitute"] = substitute
    if changed != current:
        project.settings = {**(project.settings or {}), SETTING: changed}
        session.flush()
    return changed


def record(
    session: Session, project_id: int, action: str, *, user: str, document: t.Document | None = None,
    reason: str = "", detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry (never a real identifier in ``detail``)."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    session.add(PrivacyAudit(
        project_id=project_id, document_id=document.id if document else None,
        document_name=f"{document.name} v{document.version}" if document else "", user=user, action=action,
        reason=reason, detail=dict(detail or {}),
    ))


def pseudonymised_ids(session: Session, project_id: int) -> set[int]:
    """Document versions the audit log records as pseudonymised."""
    return set(session.scalars(select(PrivacyAudit.document_id).where(
        PrivacyAudit.project_id == project_id, PrivacyAudit.action == "pseudonymised",
        PrivacyAudit.document_id.is_not(None))))


def document_statuses(session: Session, project_id: int) -> dict[str, str]:
    """Each current document's status: pseudonymised, reviewed, to review, or not checked."""
    done = pseudonymised_ids(session, project_id)
    docs = session.execute(select(t.Document.id, t.Document.name).where(
        t.Document.project_id == project_id, t.Document.is_current.is_(True)).order_by(t.Document.name)).all()
    states: dict[int, set[str]] = {}
    for document_id, status in session.execute(select(IdentifierProposal.document_id, IdentifierProposal.status)
                                               .where(IdentifierProposal.project_id == project_id)):
        states.setdefault(document_id, set()).add(status)
    checked = set(session.scalars(select(PrivacyAudit.document_id).where(
        PrivacyAudit.project_id == project_id, PrivacyAudit.action == "detected")))
    result = {}
    for document_id, name in docs:
        if document_id in done:
            result[name] = "pseudonymised"
        elif "proposed" in states.get(document_id, set()):
            result[name] = "to review"
        elif document_id in checked:
            result[name] = "reviewed, not applied"
        else:
            result[name] = "not checked"
    return result


def _not_pseudonymised(session: Session, project_id: int, *, limit: int,
                       names: Sequence[str] | None = None) -> tuple[int, list[str]]:
    """(how many, the first ``limit`` names) of the current documents not pseudonymised (of ``names`` only),
    counted by the database: a corpus of a million documents is not read into memory for this."""
    done = select(PrivacyAudit.document_id).where(
        PrivacyAudit.project_id == project_id, PrivacyAudit.action == "pseudonymised",
        PrivacyAudit.document_id.is_not(None))
    where = [t.Document.project_id == project_id, t.Document.is_current.is_(True), t.Document.id.not_in(done)]
    if names is not None:
        where.append(t.Document.name.in_(sorted(set(names))))
    count = int(session.scalar(select(func.count()).select_from(t.Document).where(*where)) or 0)
    shown = list(session.scalars(select(t.Document.name).where(*where).order_by(t.Document.name).limit(limit)))
    return count, shown


def require_pseudonymised(
    ws: Workspace, *, documents: Sequence[str] | None = None, allow: bool = False, what: str = "this command"
) -> None:
    """Refuse when the project requires pseudonymisation and a (selected) current document is not yet.

    Projects that never opted in, and ``allow`` (``--allow-unpseudonymised``), pass.
    """
    if allow:
        return
    with ws.session() as session:
        if not privacy_settings(session, ws.project_id).get("required"):
            return
        count, missing = _not_pseudonymised(session, ws.project_id, limit=5, names=documents or None)
    if count:
        shown = ", ".join(missing) + (f" and {count - len(missing)} more" if count > len(missing) else "")
        raise PrivacyRequired(
            f"{count} document(s) of this project are not pseudonymised yet ({shown}); "
            f"{what} refuses identifiable text. Run `chimeqda pseudonymise -p PROJECT --review` and then "
            "`chimeqda pseudonymise -p PROJECT --apply`, or add --allow-unpseudonymised if this is intended"
        )


EXPORT_NAMES = 1000
"""Names of unpseudonymised documents an export's audit entry lists at most (then it counts them)."""


def record_export(ws: Workspace, kind: str, path: object, *, user: str) -> None:
    """Log an export or report (every project: a later opt-in can tell what left before).

    The entry names the current documents not pseudonymised then (the first
    :data:`EXPORT_NAMES` by name) and counts them all (``unpseudonymised_count``):
    the report of a million-post corpus does not write a million names into the
    log, nor read them into memory.
    """
    with ws.session() as session:
        count, names = _not_pseudonymised(session, ws.project_id, limit=EXPORT_NAMES)
        record(session, ws.project_id, "exported", user=user,
               detail={"kind": kind, "file": str(getattr(path, "name", path)),
                       "unpseudonymised": names, "unpseudonymised_count": count})


def record_view(ws: Workspace, document_id: int, *, user: str) -> None:
    """Log that someone viewed a document (only in projects that opted into pseudonymisation)."""
    with ws.session() as session:
        if not privacy_settings(session, ws.project_id).get("required"):
            return
        document = session.get(t.Document, document_id)
        if document is None or document.project_id != ws.project_id:
            raise UnknownObject(f"no document {document_id} in this project")
        record(session, ws.project_id, "viewed", user=user, document=document)


def audit_trail(ws: Workspace, document: str | None = None) -> list[AuditEntry]:
    """The audit log, oldest first; ``document`` keeps the entries about all versions of that document."""
    with ws.session() as session:
        query = select(PrivacyAudit).where(PrivacyAudit.project_id == ws.project_id).order_by(PrivacyAudit.id)
        if document is not None:
            ids = list(session.scalars(select(t.Document.id).where(
                t.Document.project_id == ws.project_id, t.Document.name == document)))
            if not ids:
                raise UnknownObject(f"no document named {document!r} in this project (see `chimeqda status`)")
            query = query.where(PrivacyAudit.document_id.in_(ids))
        return [AuditEntry(row.at, row.user, row.action, row.document_name, row.reason, dict(row.detail or {}))
                for row in session.scalars(query)]


def audit_csv(entries: Sequence[AuditEntry]) -> str:
    """The audit entries as CSV text (at, user, action, document, reason, detail)."""
    import json

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["at", "user", "action", "document", "reason", "detail"])
    for entry in entries:
        writer.writerow(csv_row([entry.at.isoformat(timespec="seconds"), entry.user, entry.action, entry.document,
                                 entry.reason, json.dumps(entry.detail, ensure_ascii=False, sort_keys=True)]))
    return out.getvalue()


def opt_in(ws: Workspace, *, substitute: str | None = None) -> dict[str, Any]:
    """Make the project require pseudonymised documents (``init --pseudonymise``, first ``pseudonymise``)."""
    if substitute not in (None, "labels", "names"):
        raise ValueError("substitute must be 'labels' or 'names'")
    with ws.session() as session:
        return enable_privacy(session, ws.project_id, substitute=substitute)


def opt_in_settings(ws: Workspace) -> dict[str, Any]:
    """The project's privacy settings, without changing them (empty when it never opted in)."""
    with ws.session() as session:
        return privacy_settings(session, ws.project_id)
