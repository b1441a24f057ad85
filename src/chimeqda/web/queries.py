"""Read payloads of the browser workspace (every write goes through ``services``).

The document view gets the transcript as text plus turn and segment offsets,
and the coding events as compact rows; the browser derives the current state
from the events exactly as ``services.coding`` does (an accepted coding is an
``accepted`` event no ``removed`` event decides; a pending suggestion is a
``suggested`` event no visible event decides). Polling returns the events
appended since the browser's cursor, so two coders on one document see each
other's work; under blind coding a coder is sent only their own events and
the machine's.

Human decisions in the browser are per person (``services.decide(...,
per_person=True)``): a coder's accept or reject never withdraws another
coder's decision on the same suggestion.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from chimeqda.errors import UnknownObject
from chimeqda.media_files import media_info, media_path, media_type
from chimeqda.services.privacy_scrub import MASKED_META
from chimeqda.services.project import coder_row, human
from chimeqda.services.review import no_code_segment_ids
from chimeqda.store import tables as t
from chimeqda.store.queries import first_codebook_id, pending_suggestion
from chimeqda.web.deps import Access

EVENT_FIELDS = ["id", "start", "end", "code", "coder", "action", "decides", "score", "evidence"]
CURSOR_LAG = timedelta(seconds=10)
"""Events younger than this stay after the cursor: a transaction that took its
id earlier may still commit, and the browser must not skip it."""
UNCERTAIN_BELOW = 0.5
"""Words recognised with a lower probability are shown as uncertain (to check against the recording)."""


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


_static: dict[tuple[str, int, str], bytes] = {}
_static_lock = threading.Lock()


def _document_static(session: Session, document_id: int, masked: str = "") -> bytes:
    """The unchanging part of the document view as JSON members (text and sentences never change; cached).

    Segments are ``[start, end, time_start, time_end, id]`` (seconds or null); ``words`` lists the
    uncertain words ``[start, end, probability]`` of a transcribed recording. The one change a version's
    text sees — real values masked in an earlier version after pseudonymisation, by any process — stamps
    ``meta["privacy_masked"]``; ``masked`` (that stamp) is part of the cache key, so masked text is served.
    """
    key = (str(session.get_bind().url), document_id, masked)
    cached = _static.get(key)
    if cached is not None:
        return cached
    doc = session.execute(
        select(t.Document.id, t.Document.name, t.Document.language, t.Document.text).where(t.Document.id == document_id)
    ).one()
    segments = session.execute(
        select(t.Segment.start, t.Segment.end, t.Segment.time_start, t.Segment.time_end, t.Segment.words,
               t.Segment.id)
        .where(t.Segment.document_id == document_id).order_by(t.Segment.index)
    ).all()
    encoded = json.dumps({
        "document": {"id": doc.id, "name": doc.name, "language": doc.language, "length": len(doc.text)},
        "text": doc.text,
        "segments": [[r.start, r.end, r.time_start, r.time_end, r.id] for r in segments],
        "words": uncertain_words(r.words for r in segments),
        "uncertain_below": UNCERTAIN_BELOW,
    }, ensure_ascii=False, separators=(",", ":")).encode("utf-8")[1:-1]
    with _static_lock:
        for stale in [k for k in _static if k[:2] == key[:2]]:
            del _static[stale]  # the unmasked text of that version is not kept in memory
        if len(_static) >= 16:
            _static.pop(next(iter(_static)))
        _static[key] = encoded
    return encoded


def uncertain_words(word_lists, below: float = None) -> list[list]:
    """``[start, end, probability]`` of every word recognised with a probability under ``below``."""
    below = UNCERTAIN_BELOW if below is None else below
    found = []
    for words in word_lists:
        for word in words or ():
            if len(word) >= 3 and isinstance(word[2], (int, float)) and word[2] < below:
                found.append([word[0], word[1], round(float(word[2]), 3)])
    return found


def _turns(session: Session, document_id: int) -> list[list]:
    """Turns as ``[start, end, speaker, role, time, time_end]``: speakers and roles can be corrected, so never cached."""
    rows = session.execute(
        select(t.Turn.start, t.Turn.end, t.Turn.speaker, t.Turn.role, t.Turn.time, t.Turn.time_end)
        .where(t.Turn.document_id == document_id).order_by(t.Turn.index)
    ).all()
    return [[r.start, r.end, r.speaker or "", r.role, r.time, r.time_end] for r in rows]


def document_turns(access: Access, document_id: int) -> list[list]:
    """The turns of a document of the project, as the document view shows them."""
    with access.ws.session() as session:
        project_id, _ = _document(session, document_id)
        if project_id != access.project_id:
            raise UnknownObject(f"no document {document_id} in this project")
        return _turns(session, document_id)


def _media(access: Access, document_id: int, meta: dict | None) -> dict | None:
    """What the player needs about the document's recording (None without one)."""
    media = media_info(meta)
    if media is None:
        return None
    return {"url": f"/api/documents/{document_id}/media", "duration": media.get("duration"),
            "original_name": media.get("original_name") or "", "type": media_type(media),
            "available": media_path(access.directory, meta) is not None}


def document_payload(access: Access, document_id: int) -> bytes:
    """Everything the document view needs, as one compact JSON object (bytes)."""
    with access.ws.session() as session:
        project_id, _ = _document(session, document_id)
        if project_id != access.project_id:
            raise UnknownObject(f"no document {document_id} in this project")
        meta = session.scalar(select(t.Document.meta).where(t.Document.id == document_id))
        static = _document_static(session, document_id, json.dumps((meta or {}).get(MASKED_META), sort_keys=True))
        turns = _turns(session, document_id)
        me = my_coder_id(session, access.user.username)
        participant = session.execute(
            select(t.Participant.label, t.Participant.attributes)
            .join(t.Document, t.Document.participant_id == t.Participant.id)
            .where(t.Document.id == document_id)
        ).first()
        codes = session.execute(
            select(t.Code.id, t.Code.key, t.Code.name, t.Code.color, t.Code.parent_key, t.Code.definition)
            .where(t.Code.codebook_id == first_codebook_id(session, access.project_id)).order_by(t.Code.position)
        ).all()
        rows = _event_rows(session, access, me, t.CodingEvent.document_id == document_id)
        memos = _memo_rows(session, access, me, document_id)
        wanted = {r.coder_id for r in rows} | {me} | {m[3] for m in memos if m[3]}
        coders = session.execute(select(t.Coder.id, t.Coder.name, t.Coder.kind).where(t.Coder.id.in_(wanted))).all()
    dynamic = json.dumps({
        "turns": turns,
        "media": _media(access, document_id, meta),
        "participant": {"label": participant.label, "attributes": participant.attributes or {}} if participant else None,
        "codes": [[c.id, c.key, c.name, c.color or "", c.parent_key or "", c.definition] for c in codes],
        "coders": {str(c.id): [c.name, c.kind] for c in coders},
        "events": [_compact(r) for r in rows],
        "memos": memos,
        **segment_review_state(access, document_id),
        "cursor": _cursor(rows, 0),
        "memo_cursor": memos[-1][0] if memos else 0,
        "me": {"coder": me, "username": access.user.username, "role": access.role, "blind": access.blind,
               "hides_others": access.hides_others},
    }, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b"{" + static + b"," + dynamic[1:]


def segment_review_state(access: Access, document_id: int) -> dict:
    """``flags``: the document's open review flags ``[segment id, code row id, probability]``;
    ``no_code``: its segments marked "reviewed: no code" (under blind coding: by this person)."""
    from chimeqda.services.review import open_flags

    with access.ws.session() as session:
        me = my_coder_id(session, access.user.username) if access.hides_others else None
        codes = dict(session.execute(
            select(t.Code.key, t.Code.id).where(t.Code.codebook_id == first_codebook_id(session, access.project_id))
        ).all())
        no_code = no_code_segment_ids(session, access.project_id, coder_id=me, document_id=document_id)
    flags = [[f.segment_id, codes.get(f.code), round(f.score, 3)] for f in open_flags(access.ws, document_id=document_id)
             if f.segment_id not in no_code]
    return {"flags": flags, "no_code": sorted(no_code)}


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
        newer = session.scalar(select(t.Document.id).where(t.Document.supersedes_id == document_id))
    return {
        "superseded_by": newer,  # the transcript was corrected: the page should move to the new version
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


def coder_id_of(access: Access) -> int:
    """The coders row of the logged-in person."""
    with access.ws.session() as session:
        return my_coder_id(session, access.user.username)


@dataclass(frozen=True)
class QueueRow:
    document_id: int
    document: str
    participant: str | None
    text: str
    value: float
    suggested: list[tuple[str, float | None]]
    flag: tuple[str, float] | None


def queue_rows(access: Access, items) -> list[QueueRow]:
    """The review page's rows for ``services.active.QueueItem`` s: document, sentence, codes."""
    if not items:
        return []
    ids = [i.segment_id for i in items]
    events = [e for i in items for e in i.suggestions]
    with access.ws.session() as session:
        info = {row[0]: row[1:] for row in session.execute(
            select(t.Segment.id, t.Segment.text, t.Document.name, t.Participant.label)
            .join(t.Document, t.Document.id == t.Segment.document_id)
            .outerjoin(t.Participant, t.Participant.id == t.Document.participant_id)
            .where(t.Segment.id.in_(ids), t.Document.project_id == access.project_id)
        ).all()}
        names = dict(session.execute(select(t.Code.key, t.Code.name).where(
            t.Code.codebook_id == first_codebook_id(session, access.project_id))).all())
        suggested = {row[0]: (row[1], row[2]) for row in session.execute(
            select(t.CodingEvent.id, t.Code.key, t.CodingEvent.score).join(t.Code, t.Code.id == t.CodingEvent.code_id)
            .where(t.CodingEvent.id.in_(events))
        ).all()} if events else {}
    rows = []
    for item in items:
        if item.segment_id not in info:
            continue
        text, document, participant = info[item.segment_id]
        codes: dict[str, float | None] = {}
        for event_id in item.suggestions:
            key, score = suggested.get(event_id, ("?", None))
            codes[names.get(key, key)] = max(codes.get(names.get(key, key)) or 0.0, score or 0.0)
        flag = (names.get(item.flag_code, item.flag_code), item.flag_score) if item.flag_code else None
        rows.append(QueueRow(item.document_id, document, participant, text, item.expected_value,
                             sorted(codes.items()), flag))
    return rows


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
        pending = dict(
            session.execute(
                select(t.CodingEvent.document_id, func.count())
                .where(t.CodingEvent.project_id == access.project_id,
                       pending_suggestion(by=me if access.hides_others else None))
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
