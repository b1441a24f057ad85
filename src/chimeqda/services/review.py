"""Empty means unsure, not "no code": review flags and "reviewed: no code".

A machine run that suggests nothing for a segment has not said no code
applies: with calibrated probabilities it may still think a code fairly
likely. :func:`flag_rows` (called by ``run_coder`` in the run's transaction)
flags such segments in ``review_flags``: no suggestion, but some code's
calibrated probability at or above the flag level (``FLAG_LEVEL``, or
``1 - precision`` for a run with ``--precision``: as sure the code is absent as
a suggestion must be that it is present).

A flag stays open until a person reviews the segment: codes it (accepts a
coding on it, or decides a suggestion there) or marks it "reviewed: no code"
(:func:`mark_no_code`, an appended ``segment_reviews`` row; :func:`reopen`
withdraws it, also appended). The report counts "reviewed: no code" apart
from "not reviewed" (:func:`coverage_summary`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Exists, Select, exists, func, literal, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.model import Segment
from chimeqda.services.project import Workspace, coder_row, human, refuse_superseded
from chimeqda.store import tables as t
from chimeqda.store.queries import pending_suggestion, removed

FLAG_LEVEL = 0.25
"""A segment without suggestions is flagged when some code's calibrated probability is at least this
(one chance in four that the machine missed a code there)."""


def flag_level(precision: float | None) -> float:
    """The probability at or above which an empty segment is flagged (``1 - precision`` for a selective run)."""
    return FLAG_LEVEL if precision is None else min(FLAG_LEVEL, round(1.0 - precision, 6))


@dataclass(frozen=True)
class FlaggedSegment:
    """A segment with no suggestion although ``code`` has probability ``score`` there."""

    segment_id: int
    document_id: int
    document: str
    participant: str | None
    start: int
    end: int
    text: str
    code: str
    score: float
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CoverageSummary:
    """Participant segments of the current documents by review state."""

    segments: int
    coded: int
    """With an accepted coding (by a person)."""
    no_code: int
    """Reviewed: no code (a person said so)."""
    pending: int
    """Not reviewed, with a machine suggestion waiting."""
    rejected: int
    """The machine's suggestions there rejected, and nothing coded."""
    flagged: int
    """Not reviewed, no suggestion, but flagged: some code is fairly likely."""
    not_reviewed: int
    """Not reviewed, with nothing suggested or flagged."""


def flag_rows(
    segments: Sequence[Segment], probs: Sequence[Mapping[str, float]], suggested: set, occupied: set,
    document_of: Mapping, code_id_of: Mapping[str, int], *, level: float, project_id: int, coder_id: int,
    run_id: str,
) -> list[dict]:
    """``review_flags`` rows: segments with no suggestion (``suggested``: segment keys this run suggested on;
    ``occupied``: segment keys with earlier suggestions or decisions) where some code's p ≥ ``level``."""
    rows = []
    for segment, scores in zip(segments, probs):
        if segment.key in suggested or segment.key in occupied or segment.key not in document_of or not scores:
            continue
        known = {code: float(p) for code, p in scores.items() if code in code_id_of}
        if not known:
            continue
        code, score = max(known.items(), key=lambda item: (item[1], item[0]))
        if score < level:
            continue
        rows.append({"run_id": run_id, "project_id": project_id, "coder_id": coder_id,
                     "document_id": document_of[segment.key], "segment_id": segment.key,
                     "code_id": code_id_of[code], "score": score, "level": float(level),
                     "scores": {c: round(p, 4) for c, p in sorted(known.items())}})
    return rows


def no_code_segment_ids(
    session: Session, project_id: int, *, coder_id: int | None = None, document_id: int | None = None,
) -> set[int]:
    """Segments whose latest review (any person's, or with ``coder_id`` that person's) says "reviewed: no code"."""
    latest = select(t.SegmentReview.segment_id, func.max(t.SegmentReview.id).label("last")).where(
        t.SegmentReview.project_id == project_id)
    if coder_id is not None:
        latest = latest.where(t.SegmentReview.coder_id == coder_id)
    if document_id is not None:
        latest = latest.where(t.SegmentReview.document_id == document_id)
    last = latest.group_by(t.SegmentReview.segment_id).subquery()
    rows = session.execute(select(t.SegmentReview.segment_id, t.SegmentReview.action)
                           .join(last, last.c.last == t.SegmentReview.id)).all()
    return {sid for sid, action in rows if action == "no_code"}


def _human_event_on(segment, action: str) -> Exists:
    """True where a person's ``action`` event (``accepted``: a coding still in force) covers words of the segment."""
    event = aliased(t.CodingEvent)
    condition = [event.document_id == segment.document_id, event.start < segment.end, event.end > segment.start,
                 event.action == action, event.coder_id.in_(select(t.Coder.id).where(t.Coder.kind == "human"))]
    if action == "accepted":
        condition.append(~removed(event))
    return exists().where(*condition)


def _human_touched(segment) -> ColumnElement[bool]:
    """True where a person coded words of the segment or decided a suggestion on it."""
    return or_(_human_event_on(segment, "accepted"), _human_event_on(segment, "rejected"))


def _pending_on(segment) -> Exists:
    event = aliased(t.CodingEvent)
    return exists().where(event.segment_id == segment.id, pending_suggestion(event))


def _no_code_ids(project_id: int):
    """Select of the segment ids whose latest review (any person) is "reviewed: no code"."""
    last = (select(func.max(t.SegmentReview.id)).where(t.SegmentReview.project_id == project_id)
            .group_by(t.SegmentReview.segment_id))
    return select(t.SegmentReview.segment_id).where(t.SegmentReview.id.in_(last),
                                                    t.SegmentReview.action == "no_code")


def open_flag_filter(project_id: int) -> tuple[ColumnElement[bool], ...]:
    """Conditions on ``review_flags`` joined with its segment and document: the flag is open.

    Open: the document is current, nobody has coded or decided on the segment, no suggestion
    waits there, and nobody marked it "reviewed: no code".
    """
    return (t.ReviewFlag.project_id == project_id, t.Document.is_current.is_(True),
            ~_human_touched(t.Segment), ~_pending_on(t.Segment),
            t.ReviewFlag.segment_id.not_in(_no_code_ids(project_id)))


def open_flags(ws: Workspace, *, document_id: int | None = None, limit: int | None = None,
               segment_ids: Sequence[int] | None = None) -> list[FlaggedSegment]:
    """Flagged segments nobody has reviewed yet (most likely code first; one row per segment).

    ``segment_ids``: only among these.
    """
    with ws.session() as session:
        query = (
            select(t.ReviewFlag.segment_id, t.ReviewFlag.score, t.ReviewFlag.scores, t.Code.key, t.Segment.start,
                   t.Segment.end, t.Segment.text, t.Document.id, t.Document.name, t.Participant.label)
            .join(t.Segment, t.Segment.id == t.ReviewFlag.segment_id)
            .join(t.Document, t.Document.id == t.ReviewFlag.document_id)
            .join(t.Code, t.Code.id == t.ReviewFlag.code_id)
            .outerjoin(t.Participant, t.Participant.id == t.Document.participant_id)
            .where(*open_flag_filter(ws.project_id))
            .order_by(t.ReviewFlag.score.desc(), t.ReviewFlag.segment_id, t.ReviewFlag.id.desc())
        )
        if document_id is not None:
            query = query.where(t.ReviewFlag.document_id == document_id)
        if segment_ids is not None:
            query = query.where(t.ReviewFlag.segment_id.in_(list(segment_ids)))
        found: dict[int, FlaggedSegment] = {}
        for sid, score, scores, code, start, end, text, doc_id, name, label in session.execute(query):
            if sid in found:
                continue
            found[sid] = FlaggedSegment(sid, doc_id, name, label, start, end, text, code, float(score),
                                        {k: float(v) for k, v in (scores or {}).items()})
            if limit and len(found) >= limit:
                break
    return list(found.values())


def open_flag_count(ws: Workspace) -> int:
    """How many segments have an open flag (counted by the database)."""
    with ws.session() as session:
        return int(session.scalar(
            select(func.count(func.distinct(t.ReviewFlag.segment_id)))
            .join(t.Segment, t.Segment.id == t.ReviewFlag.segment_id)
            .join(t.Document, t.Document.id == t.ReviewFlag.document_id)
            .where(*open_flag_filter(ws.project_id))) or 0)


def _segments_of_project(
    session: Session, project_id: int, segment_ids: Sequence[int], document_id: int | None = None,
) -> dict[int, int]:
    query = (select(t.Segment.id, t.Segment.document_id).join(t.Document, t.Document.id == t.Segment.document_id)
             .where(t.Segment.id.in_(segment_ids), t.Document.project_id == project_id))
    if document_id is not None:
        query = query.where(t.Segment.document_id == document_id)
    rows = dict(session.execute(query).all())
    missing = [sid for sid in segment_ids if sid not in rows]
    if missing:
        where = "this document" if document_id is not None else "this project"
        raise UnknownObject(f"no segment {missing[0]} in {where} (see `chimeqda next --flagged`)")
    return rows


def _append_reviews(
    ws: Workspace, segment_ids: Iterable[int], action: str, *, by: str, note: str, document_id: int | None,
) -> list[int]:
    ids = sorted({int(i) for i in segment_ids})
    if not ids:
        raise InvalidInput("name at least one segment", source="segments")
    with ws.session() as session:
        documents = _segments_of_project(session, ws.project_id, ids, document_id)
        refuse_superseded(session, documents.values())
        person = coder_row(session, human(by)).id
        latest = dict(session.execute(
            select(t.SegmentReview.segment_id, t.SegmentReview.action)
            .where(t.SegmentReview.id.in_(
                select(func.max(t.SegmentReview.id)).where(t.SegmentReview.segment_id.in_(ids),
                                                           t.SegmentReview.coder_id == person)
                .group_by(t.SegmentReview.segment_id)))
        ).all())
        rows = [{"project_id": ws.project_id, "document_id": documents[sid], "segment_id": sid,
                 "coder_id": person, "action": action, "note": note[:2000]}
                for sid in ids if latest.get(sid, "reopened") != action]
        if not rows:
            return []
        return list(session.scalars(t.table(t.SegmentReview).insert().returning(t.table(t.SegmentReview).c.id),
                                    rows))


def mark_no_code(
    ws: Workspace, segment_ids: Iterable[int], *, by: str, note: str = "", document_id: int | None = None,
) -> list[int]:
    """Record that ``by`` reviewed these segments and no code applies (one transaction; appended rows' ids).

    Segments this person already marked are left as they are; ``document_id``: the
    segments must be in that document. An unknown segment changes nothing.
    """
    return _append_reviews(ws, segment_ids, "no_code", by=by, note=note, document_id=document_id)


def reopen(ws: Workspace, segment_ids: Iterable[int], *, by: str, document_id: int | None = None) -> list[int]:
    """Withdraw ``by``'s "reviewed: no code" on these segments (appended; the earlier row stays)."""
    return _append_reviews(ws, segment_ids, "reopened", by=by, note="", document_id=document_id)


REVIEW_STATES = ("coded", "no_code", "pending", "rejected", "flagged")
"""The review states of :func:`coverage_summary` in order of precedence (then ``not_reviewed``)."""


def _state_segment_ids(project_id: int) -> list[Select]:
    """For each of :data:`REVIEW_STATES`, a select of the segment ids in that state or a later-ranked one.

    Each set is read once, from the side that is small or indexed: a person's events are joined
    to the segments whose words they cover (segments by document), pending suggestions name
    their segment, reviews and flags too. No per-segment correlated subquery: at a million
    segments those took hours on SQLite.
    """
    people = select(t.Coder.id).where(t.Coder.kind == "human")

    def covered_by_person(action: str) -> Select:
        event = aliased(t.CodingEvent)
        query = (select(t.Segment.id.label("segment_id")).select_from(event)
                 .join(t.Segment, (t.Segment.document_id == event.document_id) & (t.Segment.start < event.end)
                       & (t.Segment.end > event.start))
                 .where(event.project_id == project_id, event.action == action, event.coder_id.in_(people)))
        return query.where(~removed(event)) if action == "accepted" else query

    pending = aliased(t.CodingEvent)
    return [
        covered_by_person("accepted"),
        _no_code_ids(project_id),
        select(pending.segment_id).where(pending.project_id == project_id, pending.segment_id.is_not(None),
                                         pending_suggestion(pending)),
        covered_by_person("rejected"),
        select(t.ReviewFlag.segment_id).where(t.ReviewFlag.project_id == project_id),
    ]


def coverage_summary(ws: Workspace) -> CoverageSummary:
    """Participant segments of the current documents by review state, counted by the database.

    In order: coded (a person's coding covers it), reviewed: no code, a suggestion waiting,
    suggestions rejected and nothing coded, flagged, nothing suggested. Each state's segments
    are selected once (:func:`_state_segment_ids`); a segment takes the first state it is in
    (the smallest rank of its rows), and segments in none are "not reviewed".
    """
    tagged = union_all(*(select(ids.subquery().c.segment_id.label("segment_id"), literal(rank).label("rank"))
                         for rank, ids in enumerate(_state_segment_ids(ws.project_id))))
    tagged_rows = tagged.subquery("tagged")
    first = (select(tagged_rows.c.segment_id, func.min(tagged_rows.c.rank).label("rank"))
             .group_by(tagged_rows.c.segment_id).subquery("first_state"))
    in_scope = (t.Document.project_id == ws.project_id, t.Document.is_current.is_(True),
                t.Segment.role != "interviewer")
    with ws.session() as session:
        total = int(session.scalar(select(func.count()).select_from(t.Segment)
                                   .join(t.Document, t.Document.id == t.Segment.document_id)
                                   .where(*in_scope)) or 0)
        counts = dict(session.execute(
            select(first.c.rank, func.count()).select_from(first)
            .join(t.Segment, t.Segment.id == first.c.segment_id)
            .join(t.Document, t.Document.id == t.Segment.document_id)
            .where(*in_scope).group_by(first.c.rank)
        ).all())
    states = {name: int(counts.get(rank, 0)) for rank, name in enumerate(REVIEW_STATES)}
    return CoverageSummary(segments=total, **states, not_reviewed=total - sum(states.values()))


@dataclass(frozen=True)
class DecisionReliability:
    """Machine suggestions against the researchers' decisions: counts and, per code, reliability rows."""

    suggested: int
    decided: int
    accepted: int
    tables: dict[str, list[dict[str, float]]]


def decision_reliability(ws: Workspace, *, coder_id: int | None = None) -> DecisionReliability:
    """Every decided machine suggestion as a (probability, accepted?) pair; reliability table per top-level code.

    The report's methods section and the web review page both draw their diagram from this;
    ``coder_id``: only that person's decisions (blind coding). Only decided suggestions are read
    (the others are counted), so a million suggestions cost no memory.
    """
    from chimeqda.coders.calibration import reliability

    suggestion = aliased(t.CodingEvent)
    decision = aliased(t.CodingEvent)
    machine_suggestion = (suggestion.project_id == ws.project_id, suggestion.action == "suggested",
                          t.Coder.kind == "machine")
    with ws.session() as session:
        suggested = int(session.scalar(
            select(func.count()).select_from(suggestion).join(t.Coder, t.Coder.id == suggestion.coder_id)
            .where(*machine_suggestion)) or 0)
        query = (
            select(suggestion.id, suggestion.score, t.Code.key, decision.action)
            .join(decision, decision.decides_id == suggestion.id)
            .join(t.Coder, t.Coder.id == suggestion.coder_id)
            .join(t.Code, t.Code.id == suggestion.code_id)
            .where(*machine_suggestion, decision.action.in_(("accepted", "rejected")))
            .order_by(decision.id)
        )
        if coder_id is not None:
            query = query.where(decision.coder_id == coder_id)
        latest: dict[int, tuple[float | None, str, str]] = {}
        for event_id, score, code, action in session.execute(query).all():
            latest[int(event_id)] = (score, code, action)
    pairs: dict[str, tuple[list[float], list[int]]] = {}
    for _, (score, code, action) in sorted(latest.items()):
        if score is not None:
            probs, truth = pairs.setdefault(code.split(".")[0], ([], []))
            probs.append(float(score))
            truth.append(int(action == "accepted"))
    decided = sum(len(v[0]) for v in pairs.values())
    accepted = sum(sum(v[1]) for v in pairs.values())
    tables = {code: reliability(probs, truth) for code, (probs, truth) in sorted(pairs.items())}
    return DecisionReliability(suggested, decided, accepted, tables)


__all__ = ["FLAG_LEVEL", "CoverageSummary", "DecisionReliability", "FlaggedSegment", "coverage_summary",
           "decision_reliability", "flag_level", "flag_rows", "mark_no_code", "no_code_segment_ids",
           "open_flag_count", "open_flag_filter", "open_flags", "reopen"]
