"""Reads and writes the browser workspace needs beyond ``services``.

The document view gets the transcript as text plus turn and segment offsets,
and the coding events as compact rows; the browser derives the current state
from the events exactly as ``services.coding`` does (an accepted coding is an
``accepted`` event no ``removed`` event decides; a pending suggestion is a
``suggested`` event no visible event decides). Polling returns the events
appended since the browser's cursor, so two coders on one document see each
other's work; under blind coding a coder is sent only their own events and
the machine's.

Human decisions here are per person: a coder's accept or reject never
withdraws another coder's decision on the same suggestion (``services.decide``
keeps one decision per suggestion, which suits a single researcher).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.services.project import coder_row, human
from chimeqda.store import tables as t
from chimeqda.web.deps import Access

EVENT_FIELDS = ["id", "start", "end", "code", "coder", "action", "decides", "score", "evidence"]
CURSOR_LAG = timedelta(seconds=10)
"""Events younger than this stay after the cursor: a transaction that took its
id earlier may still commit, and the browser must not skip it."""
MEMO_TARGETS = ("document", "code", "coding")


@dataclass(frozen=True)
class Cursor:
    events: list[list]
    memos: list[list]
    cursor: int
    memo_cursor: int


_coder_ids: dict[tuple[str, str], int] = {}
_documents: dict[tuple[str, int], tuple[int, int]] = {}


def my_coder_id(session: Session, username: str) -> int:
    """The coders row of a person (cached: coders rows are never changed or deleted)."""
    key = (str(session.get_bind().url), username)
    if key in _coder_ids:
        return _coder_ids[key]
    existing = session.scalar(
        select(t.Coder.id).where(t.Coder.kind == "human", t.Coder.name == username, t.Coder.version == "")
        .order_by(t.Coder.id)
    )
    if existing is not None and existing == coder_row(session, human(username)).id:
        _coder_ids[key] = existing  # committed already: safe to remember
        return existing
    return coder_row(session, human(username)).id  # new in this transaction, which may still roll back


def _codebook_id(session: Session, project_id: int) -> int:
    """The project's codebook (the first one, as ``services.project.project_codebook`` picks)."""
    found = session.scalar(select(func.min(t.Codebook.id)).where(t.Codebook.project_id == project_id))
    if found is None:
        raise UnknownObject("the project has no codebook")
    return found


def _document(session: Session, document_id: int) -> tuple[int, int]:
    """(project id, length) of a document (cached: documents are immutable)."""
    key = (str(session.get_bind().url), document_id)
    if key not in _documents:
        row = session.execute(
            select(t.Document.project_id, func.length(t.Document.text)).where(t.Document.id == document_id)
        ).first()
        if row is None:
            raise UnknownObject(f"no document {document_id} in this project")
        _documents[key] = (row[0], row[1])
    return _documents[key]


def apply_codes(access: Access, document_id: int, start: int, end: int, keys: list[str]) -> list[list]:
    """A person codes the span ``[start, end)`` with one or more codes: one INSERT, one event per code.

    The same rows as ``services.coding.add_coding`` writes, without loading the
    codebook; returns the new events in the compact form of the document view.
    """
    keys = list(dict.fromkeys(keys))
    with access.ws.session() as session:
        project_id, length = _document(session, document_id)
        if project_id != access.project_id:
            raise UnknownObject(f"no document {document_id} in this project")
        if not (0 <= start < end <= length):
            raise InvalidInput(f"span {start}–{end} is outside the document (it has {length} characters)",
                               source="span")
        ids = dict(session.execute(
            select(t.Code.key, t.Code.id).where(t.Code.codebook_id == _codebook_id(session, project_id),
                                                t.Code.key.in_(keys))
        ).all())
        missing = [key for key in keys if key not in ids]
        if missing:
            raise UnknownObject(f"no code {missing[0]!r} in the codebook")
        me = my_coder_id(session, access.user.username)
        segment_id = session.scalar(
            select(t.Segment.id).where(t.Segment.document_id == document_id, t.Segment.start == start,
                                       t.Segment.end == end)
        )
        rows = [
            {"project_id": project_id, "document_id": document_id, "segment_id": segment_id, "start": start,
             "end": end, "code_id": ids[key], "coder_id": me, "action": "accepted", "evidence": ""}
            for key in keys
        ]
        new_ids = session.scalars(t.CodingEvent.__table__.insert().returning(t.CodingEvent.id), rows).all()
        return [[i, start, end, ids[key], me, "accepted", None, None, ""] for i, key in zip(new_ids, keys)]


def _visible(access: Access, me: int):
    if not access.hides_others:
        return None
    return or_(t.CodingEvent.coder_id == me, t.Coder.kind == "machine")


def _event_rows(session: Session, access: Access, me: int, where, limit: int | None = None):
    query = (
        select(
            t.CodingEvent.id, t.CodingEvent.start, t.CodingEvent.end, t.CodingEvent.code_id,
            t.CodingEvent.coder_id, t.CodingEvent.action, t.CodingEvent.decides_id, t.CodingEvent.score,
            t.CodingEvent.evidence, t.CodingEvent.created_at,
        )
        .join(t.Coder, t.Coder.id == t.CodingEvent.coder_id)
        .where(where)
        .order_by(t.CodingEvent.id)
    )
    visible = _visible(access, me)
    if visible is not None:
        query = query.where(visible)
    if limit:
        query = query.limit(limit)
    return session.execute(query).all()


def _compact(row) -> list:
    event_id, start, end, code, coder, action, decides, score, evidence = row[:9]
    if action == "suggested":
        return [event_id, start, end, code, coder, action, decides,
                None if score is None else round(score, 3), (evidence or "")[:300]]
    return [event_id, start, end, code, coder, action, decides, None, ""]


def _memo_rows(session: Session, access: Access, me: int, document_id: int, after: int = 0):
    coding_ids = select(t.CodingEvent.id).where(t.CodingEvent.document_id == document_id)
    query = (
        select(t.Memo.id, t.Memo.target_type, t.Memo.target_id, t.Memo.author_id, t.Memo.text, t.Memo.created_at)
        .where(
            t.Memo.project_id == access.project_id,
            t.Memo.id > after,
            or_(
                and_(t.Memo.target_type == "document", t.Memo.target_id == document_id),
                and_(t.Memo.target_type == "coding", t.Memo.target_id.in_(coding_ids)),
                t.Memo.target_type == "code",
            ),
        )
        .order_by(t.Memo.id)
    )
    if access.hides_others:
        query = query.where(t.Memo.author_id == me)
    return [[m.id, m.target_type, m.target_id, m.author_id, m.text, _iso(m.created_at)] for m in session.execute(query)]


def _iso(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _cursor(rows, after: int) -> int:
    """The largest id all of whose predecessors are surely committed (see CURSOR_LAG)."""
    settled = _now() - CURSOR_LAG
    cursor = after
    for row in rows:
        if _aware(row.created_at) > settled:
            break
        cursor = row.id
    return cursor


_static: dict[tuple[str, int], bytes] = {}
_static_lock = threading.Lock()


def _document_static(session: Session, document_id: int) -> bytes:
    """The unchanging part of the document view as JSON members (documents are immutable; cached)."""
    key = (str(session.get_bind().url), document_id)
    cached = _static.get(key)
    if cached is not None:
        return cached
    doc = session.execute(
        select(t.Document.id, t.Document.name, t.Document.language, t.Document.text).where(t.Document.id == document_id)
    ).one()
    turns = session.execute(
        select(t.Turn.start, t.Turn.end, t.Turn.speaker, t.Turn.role)
        .where(t.Turn.document_id == document_id).order_by(t.Turn.index)
    ).all()
    segments = session.execute(
        select(t.Segment.start, t.Segment.end).where(t.Segment.document_id == document_id).order_by(t.Segment.index)
    ).all()
    encoded = json.dumps({
        "document": {"id": doc.id, "name": doc.name, "language": doc.language, "length": len(doc.text)},
        "text": doc.text,
        "turns": [[r.start, r.end, r.speaker or "", r.role] for r in turns],
        "segments": [[r.start, r.end] for r in segments],
    }, ensure_ascii=False, separators=(",", ":")).encode("utf-8")[1:-1]
    with _static_lock:
        if len(_static) >= 16:
            _static.pop(next(iter(_static)))
        _static[key] = encoded
    return encoded


def document_payload(access: Access, document_id: int) -> bytes:
    """Everything the document view needs, as one compact JSON object (bytes)."""
    with access.ws.session() as session:
        project_id, _ = _document(session, document_id)
        if project_id != access.project_id:
            raise UnknownObject(f"no document {document_id} in this project")
        static = _document_static(session, document_id)
        me = my_coder_id(session, access.user.username)
        participant = session.execute(
            select(t.Participant.label, t.Participant.attributes)
            .join(t.Document, t.Document.participant_id == t.Participant.id)
            .where(t.Document.id == document_id)
        ).first()
        codes = session.execute(
            select(t.Code.id, t.Code.key, t.Code.name, t.Code.color, t.Code.parent_key, t.Code.definition)
            .where(t.Code.codebook_id == _codebook_id(session, access.project_id)).order_by(t.Code.position)
        ).all()
        rows = _event_rows(session, access, me, t.CodingEvent.document_id == document_id)
        memos = _memo_rows(session, access, me, document_id)
        wanted = {r.coder_id for r in rows} | {me} | {m[3] for m in memos if m[3]}
        coders = session.execute(select(t.Coder.id, t.Coder.name, t.Coder.kind).where(t.Coder.id.in_(wanted))).all()
    dynamic = json.dumps({
        "participant": {"label": participant.label, "attributes": participant.attributes or {}} if participant else None,
        "codes": [[c.id, c.key, c.name, c.color or "", c.parent_key or "", c.definition] for c in codes],
        "coders": {str(c.id): [c.name, c.kind] for c in coders},
        "events": [_compact(r) for r in rows],
        "memos": memos,
        "cursor": _cursor(rows, 0),
        "memo_cursor": memos[-1][0] if memos else 0,
        "me": {"coder": me, "username": access.user.username, "role": access.role, "blind": access.blind,
               "hides_others": access.hides_others},
    }, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b"{" + static + b"," + dynamic[1:]


def events_since(access: Access, document_id: int, after: int, memo_after: int) -> dict:
    """Events and memos appended after the browser's cursors."""
    with access.ws.session() as session:
        me = my_coder_id(session, access.user.username)
        rows = _event_rows(
            session, access, me, and_(t.CodingEvent.document_id == document_id, t.CodingEvent.id > after),
            limit=5000,
        )
        memos = _memo_rows(session, access, me, document_id, memo_after)
        known = {r.coder_id for r in rows} | {m[3] for m in memos if m[3]}
        coders = session.execute(select(t.Coder.id, t.Coder.name, t.Coder.kind).where(t.Coder.id.in_(known))).all()
    return {
        "events": [_compact(r) for r in rows],
        "memos": memos,
        "coders": {str(c.id): [c.name, c.kind] for c in coders},
        "cursor": _cursor(rows, after),
        "memo_cursor": memos[-1][0] if memos else memo_after,
    }


def events_by_id(access: Access, ids: list[int]) -> list[list]:
    with access.ws.session() as session:
        me = my_coder_id(session, access.user.username)
        return [_compact(r) for r in _event_rows(session, access, me, t.CodingEvent.id.in_(ids))]


def _event_in_project(session: Session, access: Access, event_id: int) -> t.CodingEvent:
    event = session.get(t.CodingEvent, event_id)
    if event is None or event.project_id != access.project_id:
        raise UnknownObject(f"no coding event {event_id} in this project")
    return event


def check_may_touch(session: Session, access: Access, event: t.CodingEvent, me: int) -> None:
    """Under blind coding a coder acts only on their own codings and the machine's suggestions."""
    if not access.hides_others or event.coder_id == me:
        return
    if session.scalar(select(t.Coder.kind).where(t.Coder.id == event.coder_id)) == "machine":
        return
    raise UnknownObject(f"no coding {event.id} in this project")


def decide_as(access: Access, event_id: int, action: str) -> list[int]:
    """Accept or reject a suggestion as this person; returns the ids of the appended events."""
    if action not in ("accepted", "rejected"):
        raise InvalidInput("action must be 'accepted' or 'rejected'", source="action")
    with access.ws.session() as session:
        me = my_coder_id(session, access.user.username)
        event = _event_in_project(session, access, event_id)
        if event.action != "suggested":
            raise UnknownObject(f"no suggestion {event_id} in this project")
        latest = session.scalars(
            select(t.CodingEvent)
            .where(t.CodingEvent.decides_id == event.id, t.CodingEvent.coder_id == me)
            .order_by(t.CodingEvent.id.desc())
        ).first()
        if latest is not None and latest.action == action:
            return []
        added = []
        if latest is not None and latest.action == "accepted":
            added.append(_like(event, me, "removed", latest.id))
        added.append(_like(event, me, action, event.id))
        session.add_all(added)
        session.flush()
        return [e.id for e in added]


def _like(event: t.CodingEvent, coder_id: int, action: str, decides: int) -> t.CodingEvent:
    return t.CodingEvent(
        project_id=event.project_id, document_id=event.document_id, segment_id=event.segment_id,
        start=event.start, end=event.end, code_id=event.code_id, coder_id=coder_id, action=action,
        decides_id=decides, score=event.score, evidence="",
    )


def add_memo(access: Access, target_type: str, target_id: int, text: str) -> int:
    """Append a memo to a document, code or coding of the project; returns its id."""
    text = (text or "").strip()
    if target_type not in MEMO_TARGETS:
        raise InvalidInput(f"a memo belongs to one of {', '.join(MEMO_TARGETS)}", source="target_type")
    if not text:
        raise InvalidInput("the memo is empty", source="text")
    if len(text) > 20_000:
        raise InvalidInput("a memo has at most 20,000 characters", source="text")
    with access.ws.session() as session:
        me = my_coder_id(session, access.user.username)
        if target_type == "document":
            found = session.scalar(select(t.Document.project_id).where(t.Document.id == target_id))
        elif target_type == "coding":
            event = _event_in_project(session, access, target_id)
            check_may_touch(session, access, event, me)
            found = event.project_id
        else:
            found = session.scalar(
                select(t.Codebook.project_id).join(t.Code, t.Code.codebook_id == t.Codebook.id)
                .where(t.Code.id == target_id)
            )
        if found != access.project_id:
            raise UnknownObject(f"no {target_type} {target_id} in this project")
        memo = t.Memo(project_id=access.project_id, target_type=target_type, target_id=target_id, author_id=me,
                      text=text)
        session.add(memo)
        session.flush()
        return memo.id


def code_memos(access: Access) -> dict[int, list[tuple[str, str, str]]]:
    """Memos on codes: code row id → [(author, date, text)]."""
    with access.ws.session() as session:
        me = my_coder_id(session, access.user.username)
        query = (
            select(t.Memo.target_id, t.Coder.name, t.Memo.created_at, t.Memo.text)
            .outerjoin(t.Coder, t.Coder.id == t.Memo.author_id)
            .where(t.Memo.project_id == access.project_id, t.Memo.target_type == "code")
            .order_by(t.Memo.id)
        )
        if access.hides_others:
            query = query.where(t.Memo.author_id == me)
        found: dict[int, list[tuple[str, str, str]]] = {}
        for target, author, created, text in session.execute(query):
            found.setdefault(target, []).append((author or "", _iso(created), text))
        return found


# ---------------------------------------------------------------- documents list


@dataclass(frozen=True)
class CoderProgress:
    coder: str
    codings: int
    decisions: int
    reached: float  # share of the text up to the last place this coder coded or decided


@dataclass(frozen=True)
class DocumentRow:
    id: int
    name: str
    participant: str | None
    length: int
    pending: int
    progress: list[CoderProgress]


def documents_with_progress(access: Access) -> list[DocumentRow]:
    """The project's current documents with each human coder's progress and pending suggestions."""
    with access.ws.session() as session:
        me = my_coder_id(session, access.user.username)
        docs = session.execute(
            select(t.Document.id, t.Document.name, t.Participant.label, func.length(t.Document.text))
            .outerjoin(t.Participant, t.Participant.id == t.Document.participant_id)
            .where(t.Document.project_id == access.project_id, t.Document.is_current.is_(True))
            .order_by(t.Document.name)
        ).all()
        query = (
            select(t.CodingEvent.document_id, t.Coder.name, t.CodingEvent.action,
                   (t.CodingEvent.decides_id.is_not(None)).label("decides"),
                   func.count(), func.max(t.CodingEvent.end))
            .join(t.Coder, t.Coder.id == t.CodingEvent.coder_id)
            .where(t.CodingEvent.project_id == access.project_id, t.Coder.kind == "human")
            .group_by(t.CodingEvent.document_id, t.Coder.name, t.CodingEvent.action, "decides")
        )
        if access.hides_others:
            query = query.where(t.CodingEvent.coder_id == me)
        stats: dict[int, dict[str, dict[str, float]]] = {}
        for doc_id, coder, action, decides, count, last in session.execute(query):
            entry = stats.setdefault(doc_id, {}).setdefault(coder, {"codings": 0, "decisions": 0, "last": 0})
            if action == "accepted":
                entry["codings"] += count
            elif action == "removed":
                entry["codings"] -= count
            if decides and action in ("accepted", "rejected"):
                entry["decisions"] += count
            entry["last"] = max(entry["last"], last or 0)
        decision = aliased(t.CodingEvent)
        decided = select(decision.id).where(decision.decides_id == t.CodingEvent.id)
        if access.hides_others:
            decided = decided.where(decision.coder_id == me)
        pending = dict(
            session.execute(
                select(t.CodingEvent.document_id, func.count())
                .where(t.CodingEvent.project_id == access.project_id, t.CodingEvent.action == "suggested",
                       ~decided.exists())
                .group_by(t.CodingEvent.document_id)
            ).all()
        )
    rows = []
    for doc_id, name, label, length in docs:
        progress = [
            CoderProgress(coder, max(int(v["codings"]), 0), int(v["decisions"]),
                          min(1.0, v["last"] / length) if length else 0.0)
            for coder, v in sorted(stats.get(doc_id, {}).items())
        ]
        rows.append(DocumentRow(doc_id, name, label, length or 0, pending.get(doc_id, 0), progress))
    return rows
