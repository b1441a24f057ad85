"""Coding use-cases: machine suggestions, human decisions, manual codings.

Every action appends rows to ``coding_events``; nothing is updated or deleted.
The current state is derived:

- a *pending suggestion* is a ``suggested`` event that no event decides;
- an *accepted coding* is an ``accepted`` event that no ``removed`` event decides;
- a suggestion's status is that of its latest deciding event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from chimeqda.coders import DEFAULT_CODER, Coder, get_coder
from chimeqda.coders.base import score_segments
from chimeqda.coders.cache import fit_cached
from chimeqda.coders.calibration import (
    PrecisionCheck,
    check_precision,
    check_target,
    selective_limits,
)
from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.model import CoderInfo, LabelledText, Role, Segment, Suggestion, span_within
from chimeqda.services.project import (
    Workspace,
    code_ids,
    coder_row,
    human,
    project_codebook,
    refuse_superseded,
)
from chimeqda.services.review import flag_level, flag_rows, no_code_segment_ids
from chimeqda.store import tables as t
from chimeqda.store.queries import (
    current_coding,
    first_codebook_id,
    latest_decision,
    pending_suggestion,
    removed,
)


@dataclass(frozen=True)
class CodingRun:
    run_id: str
    coder: CoderInfo
    segments: int
    suggestions: int
    skipped_existing: int
    left_for_review: int | None = None
    """With ``precision``: segments where some code is neither suggested nor unlikely (p ≤ 1 − precision)."""
    precision: float | None = None
    flagged: int = 0
    """Segments left without a suggestion although some code is fairly likely (``services.review``)."""
    precision_check: PrecisionCheck | None = None
    """With ``precision``: whether the coder's real calibration rows confirm it (``check_precision``)."""


@dataclass(frozen=True)
class PendingSuggestion:
    event_id: int
    document: str
    participant: str | None
    segment_id: int | None
    start: int
    end: int
    text: str
    code: str
    score: float | None
    evidence: str
    coder: str
    segment_start: int | None = None
    """The suggestion's segment (the unit of review); ``start``/``end`` may be a quote inside it."""
    segment_end: int | None = None
    segment_text: str = ""


def project_segments(
    session: Session, project_id: int, *, documents: Sequence[str] | None = None, include_interviewer: bool = False,
    context: int = 1, document_ids: tuple[int, int] | None = None,
) -> list[Segment]:
    """Segments of the project's current documents as ``model.Segment`` (key = segment id).

    ``context`` neighbouring sentences of the same turn on each side go into
    ``Segment.context`` (before, then after). ``document_ids`` ``(first, last)``
    keeps the documents whose row id is in that range (a partition of a large project).
    """
    query = (
        select(t.Segment, t.Document.language)
        .join(t.Document, t.Document.id == t.Segment.document_id)
        .where(t.Document.project_id == project_id, t.Document.is_current.is_(True))
        .order_by(t.Segment.document_id, t.Segment.index)
    )
    if documents:
        query = query.where(t.Document.name.in_(list(documents)))
    if document_ids is not None:
        query = query.where(t.Document.id.between(*document_ids))
    rows = session.execute(query).all()
    if documents and not rows:
        raise UnknownObject(f"no document named {', '.join(documents)} in the project")
    result: list[Segment] = []
    for i, (seg, lang) in enumerate(rows):
        same_turn = lambda j, seg=seg: 0 <= j < len(rows) and rows[j][0].document_id == seg.document_id and rows[j][0].turn == seg.turn  # noqa: E731
        before = [rows[j][0].text for j in range(i - context, i) if same_turn(j)]
        after = [rows[j][0].text for j in range(i + 1, i + 1 + context) if same_turn(j)]
        if seg.role == "interviewer" and not include_interviewer:
            continue
        result.append(
            Segment(
                text=seg.text, start=seg.start, end=seg.end, index=seg.index, turn=seg.turn,
                speaker=seg.speaker, role=cast(Role, seg.role), lang=lang, context=tuple(before + after), key=seg.id,
            )
        )
    return result


def document_partitions(session: Session, project_id: int, documents: Sequence[str] | None,
                size: int) -> list[tuple[int, int, int]]:
    """Ranges ``(first document id, last document id, segments)`` of whole documents, about ``size`` segments each."""
    query = (
        select(t.Segment.document_id, func.count())
        .join(t.Document, t.Document.id == t.Segment.document_id)
        .where(t.Document.project_id == project_id, t.Document.is_current.is_(True))
        .group_by(t.Segment.document_id)
        .order_by(t.Segment.document_id)
    )
    if documents:
        query = query.where(t.Document.name.in_(list(documents)))
    ranges: list[tuple[int, int, int]] = []
    first = last = count = 0
    for document_id, n in session.execute(query.execution_options(yield_per=10_000)):
        if count and count + n > size:
            ranges.append((first, last, count))
            count = 0
        if not count:
            first = document_id
        last, count = document_id, count + n
    if count:
        ranges.append((first, last, count))
    if documents and not ranges:
        raise UnknownObject(f"no document named {', '.join(documents)} in the project")
    return ranges


def project_decisions(session: Session, project_id: int) -> list[LabelledText]:
    """Human decisions in this project as training data (``complete=False``).

    Accepted codings (not removed) give labels; rejected suggestions give
    ``rejected`` codes. Codings on spans count for every segment they cover.
    A segment marked "reviewed: no code" is a complete passage without labels.
    Only this project's rows are read.
    """
    _, book = project_codebook(session, project_id)
    accepted = aliased(t.CodingEvent)
    coded = session.execute(
        select(t.Segment.id, t.Segment.text, t.Document.language, t.Code.key, accepted.action)
        .join(t.Document, t.Document.id == t.Segment.document_id)
        .join(accepted, and_(accepted.document_id == t.Segment.document_id,
                             accepted.start < t.Segment.end, accepted.end > t.Segment.start))
        .join(t.Code, t.Code.id == accepted.code_id)
        .join(t.Coder, t.Coder.id == accepted.coder_id)
        .where(accepted.project_id == project_id, t.Coder.kind == "human",
               accepted.action.in_(("accepted", "rejected")), ~removed(accepted))
    ).all()
    items: dict[int, dict] = {}
    for seg_id, text, lang, key, action in coded:
        root = book.root_of(key) if key in book else key
        item = items.setdefault(seg_id, {"text": text, "lang": lang, "labels": set(), "rejected": set()})
        (item["labels"] if action == "accepted" else item["rejected"]).add(root)
    decided = [
        LabelledText(text=v["text"], labels=frozenset(v["labels"]), lang=v["lang"], complete=False,
                     rejected=frozenset(v["rejected"] - v["labels"]), source=f"segment:{k}")
        for k, v in sorted(items.items())
    ]
    # "Reviewed: no code" (and nothing coded there since): every code is known not to apply.
    empty = sorted(no_code_segment_ids(session, project_id) - set(items))
    if empty:
        for seg_id, text, lang in session.execute(
            select(t.Segment.id, t.Segment.text, t.Document.language)
            .join(t.Document, t.Document.id == t.Segment.document_id).where(t.Segment.id.in_(empty))
        ).all():
            decided.append(LabelledText(text=text, labels=frozenset(), lang=lang, complete=True,
                                        source=f"segment:{seg_id}"))
    return decided


def run_coder(
    ws: Workspace,
    coder_name: str | None = None,
    *,
    params: dict | None = None,
    documents: Sequence[str] | None = None,
    include_interviewer: bool = False,
    learn_from_decisions: bool = True,
    progress: Callable[[str], None] | None = None,
    precision: float | None = None,
) -> CodingRun:
    """Let a machine coder suggest codes for the project's segments; store them with provenance.

    With ``precision`` (e.g. 0.9) a code is suggested only where its calibrated
    probability is at least that
    (:func:`chimeqda.coders.calibration.selective_thresholds`); the run says
    how many segments it left for the researcher and whether the project's
    decisions confirm the precision (``precision_check``).

    A suggestion covers the words its coder names inside the segment (an
    LLM's located quote), else the whole segment; it belongs to its segment
    (``segment_id``) either way. Segments that already have a suggestion or
    a human decision for a code are not suggested that code again. Every
    document with a coded segment is recorded in ``coder_runs`` with the run,
    suggestions or not (agreement counts such a document as coded by the
    machine).
    """
    if precision is not None:
        check_target(precision)
    with ws.session() as session:
        segments = project_segments(session, ws.project_id, documents=documents, include_interviewer=include_interviewer)
    with ws.kept_vectors():
        coder, codebook_id = fit_project_coder(ws, coder_name, params=params,
                                               learn_from_decisions=learn_from_decisions, progress=progress)
        if progress:
            progress(f"coding {len(segments)} segments")
        left: int | None = None
        probs = score_segments(coder, segments)
        if precision is None:
            suggestions = coder.suggest(segments, probs=probs)
        else:
            limits, left = selective_limits(coder, segments, precision, probs=probs)
            suggestions = coder.suggest(segments, limits=limits, probs=probs)
    info = run_info(coder, precision)
    run_id = uuid.uuid4().hex
    with ws.session() as session:
        coder_id = coder_row(session, info).id
        existing = set(
            session.execute(
                select(t.CodingEvent.segment_id, t.CodingEvent.code_id).where(
                    t.CodingEvent.project_id == ws.project_id, t.CodingEvent.segment_id.is_not(None)
                )
            ).all()
        )
        document_of = dict(
            session.execute(
                select(t.Segment.id, t.Segment.document_id)
                .join(t.Document, t.Document.id == t.Segment.document_id)
                .where(t.Document.project_id == ws.project_id, t.Document.is_current.is_(True))
            ).all()
        )
        code_id_of = code_ids(session, codebook_id)
        occupied = {segment_id for segment_id, _ in existing}
        rows, skipped = suggestion_rows(
            suggestions, segments, document_of, code_id_of, existing,
            project_id=ws.project_id, coder_id=coder_id, run_id=run_id,
        )
        if rows:
            session.execute(t.table(t.CodingEvent).insert(), rows)
        # Empty means unsure, not "no code": flag segments left empty although a code is fairly likely.
        flags = flag_rows(segments, probs, {s.segment_key for s in suggestions}, occupied, document_of, code_id_of,
                          level=flag_level(precision), project_id=ws.project_id, coder_id=coder_id, run_id=run_id)
        if flags:
            session.execute(t.table(t.ReviewFlag).insert(), flags)
        # Coverage, also of documents where nothing was suggested: "coded, no code applies".
        covered = sorted({document_of[s.key] for s in segments if s.key in document_of})
        if covered:
            session.execute(t.table(t.CoderRun).insert(), coverage_rows(covered, project_id=ws.project_id,
                                                                      coder_id=coder_id, run_id=run_id))
    checked = check_precision(coder, precision) if precision is not None else None
    return CodingRun(run_id, info, len(segments), len(rows), skipped, left, precision, len(flags), checked)


def run_info(coder: Coder, precision: float | None) -> CoderInfo:
    """The provenance stored with a run's suggestions: the coder's, and the requested precision if any."""
    info = coder.info()
    if precision is None:
        return info
    return CoderInfo(kind=info.kind, name=info.name, version=info.version,
                     params={**info.params, "precision": precision}, training_size=info.training_size)


def fit_project_coder(
    ws: Workspace, coder_name: str | None = None, *, params: dict | None = None, learn_from_decisions: bool = True,
    progress: Callable[[str], None] | None = None,
) -> tuple[Coder, int]:
    """The coder ``coder_name`` fitted on the project's codebook (and decisions); also the codebook's row id.

    The project's research question goes into an LLM coder's prompt. Shared
    by :func:`run_coder` and the distributed engine (``services.distributed``).
    """
    name = coder_name or DEFAULT_CODER
    coder = get_coder(name, **(params or {}))
    with ws.session() as session:
        book_row, book = project_codebook(session, ws.project_id)
        question = session.scalar(select(t.Project.research_question).where(t.Project.id == ws.project_id))
        if question and "research_question" in coder.get_params() and not coder.get_params()["research_question"]:
            coder.set_params(research_question=question)  # the project's own question goes into the prompt
        labelled = project_decisions(session, ws.project_id) if learn_from_decisions else []
    if progress:
        progress(f"fitting the {name} coder ({len(labelled)} project decisions)")
    fitted = fit_cached(coder, book, labelled)
    found = getattr(fitted, "discovered_", "")
    if found and progress:
        progress(found)  # which local language-model server an `llm` coder found
    return fitted, book_row.id


def suggestion_rows(
    suggestions: Iterable[Suggestion], segments: Iterable[Segment], document_of: dict, code_id_of: dict[str, int],
    existing: set, *, project_id: int, coder_id: int, run_id: str,
) -> tuple[list[dict], int]:
    """``coding_events`` rows for ``suggestions``, and how many were skipped.

    A (segment id, code row id) pair in ``existing`` (already suggested or
    decided) is skipped; codes not in the codebook are dropped.
    """
    by_key = {s.key: s for s in segments}
    rows, skipped = [], 0
    for suggestion in suggestions:
        segment = by_key[suggestion.segment_key]
        code_id = code_id_of.get(suggestion.code_id)
        if code_id is None:
            continue
        if (segment.key, code_id) in existing:
            skipped += 1
            continue
        existing.add((segment.key, code_id))  # one suggestion per code per sentence, also within a run
        start, end = _suggested_span(suggestion, segment)
        rows.append(
            {
                "project_id": project_id, "document_id": document_of[segment.key],
                "segment_id": segment.key, "start": start, "end": end,
                "code_id": code_id, "coder_id": coder_id, "action": "suggested",
                "score": float(suggestion.score), "evidence": suggestion.evidence[:2000], "run_id": run_id,
            }
        )
    return rows, skipped


def coverage_rows(document_ids: Iterable[int], *, project_id: int, coder_id: int, run_id: str) -> list[dict]:
    """``coder_runs`` rows: the run covered these documents (suggestions or not)."""
    return [{"run_id": run_id, "project_id": project_id, "coder_id": coder_id, "document_id": document_id}
            for document_id in document_ids]


def _suggested_span(suggestion: Suggestion, segment: Segment) -> tuple[int, int]:
    """Document offsets of a suggestion: the words it names inside its segment, else the whole segment."""
    inside = span_within(suggestion.start, suggestion.end, segment.text)
    return (segment.start + inside[0], segment.start + inside[1]) if inside else (segment.start, segment.end)


def pending_suggestions(
    ws: Workspace,
    *,
    code: str | None = None,
    document: str | None = None,
    min_score: float | None = None,
    max_score: float | None = None,
    limit: int | None = None,
    ids: Sequence[int] | None = None,
) -> list[PendingSuggestion]:
    """Suggestions nobody has decided yet, filtered (``ids``: only these); highest score first."""
    with ws.session() as session:
        book_row, book = project_codebook(session, ws.project_id)
        query = (
            select(t.CodingEvent, t.Document.name, t.Document.text, t.Participant.label, t.Code.key, t.Coder.name,
                   t.Segment.start, t.Segment.end)
            .join(t.Document, t.Document.id == t.CodingEvent.document_id)
            .outerjoin(t.Participant, t.Participant.id == t.Document.participant_id)
            .outerjoin(t.Segment, t.Segment.id == t.CodingEvent.segment_id)
            .join(t.Code, t.Code.id == t.CodingEvent.code_id)
            .join(t.Coder, t.Coder.id == t.CodingEvent.coder_id)
            .where(t.CodingEvent.project_id == ws.project_id,
                   t.Document.is_current.is_(True), pending_suggestion())
            .order_by(t.CodingEvent.score.desc(), t.CodingEvent.id)
        )
        if code:
            if code not in book:
                raise UnknownObject(f"no code {code!r} in the codebook; codes: {', '.join(c.id for c in book.top_level)}")
            query = query.where(t.Code.key.in_([code, *book.descendants(code)]))
        if document:
            query = query.where(t.Document.name == document)
        if min_score is not None:
            query = query.where(t.CodingEvent.score >= min_score)
        if max_score is not None:
            query = query.where(t.CodingEvent.score <= max_score)
        if ids is not None:
            query = query.where(t.CodingEvent.id.in_(list(ids)))
        if limit:
            query = query.limit(limit)
        found = []
        for e, name, text, label, key, coder, seg_start, seg_end in session.execute(query).all():
            unit_start = e.start if seg_start is None else seg_start
            unit_end = e.end if seg_end is None else seg_end
            found.append(PendingSuggestion(
                e.id, name, label, e.segment_id, e.start, e.end, text[e.start:e.end], key, e.score, e.evidence,
                coder, unit_start, unit_end, text[unit_start:unit_end],
            ))
        return found


def decide(
    ws: Workspace, event_ids: Iterable[int], action: str, *, by: str, note: str = "", per_person: bool = False,
    blind: bool = False,
) -> int:
    """Accept or reject suggestions (appends one event each); returns how many were decided.

    Re-deciding is allowed and appends: rejecting an accepted suggestion also
    records the removal of the accepted coding. The decision to compare with
    is the suggestion's latest one, or with ``per_person`` this person's latest
    one (in a team each coder decides for themselves; one coder's accept never
    withdraws another's). ``blind``: see :func:`remove_coding`.
    """
    ids = sorted(set(event_ids))
    decide_events(ws, ids, action, by=by, note=note, per_person=per_person, blind=blind)
    return len(ids)


def decide_events(
    ws: Workspace, event_ids: Iterable[int], action: str, *, by: str, note: str = "", per_person: bool = False,
    blind: bool = False,
) -> list[int]:
    """:func:`decide`, returning the ids of the appended events (none when nothing changed)."""
    if action not in ("accepted", "rejected"):
        raise InvalidInput("action must be 'accepted' or 'rejected'", source="action")
    ids = sorted(set(event_ids))
    with ws.session() as session:
        person = coder_row(session, human(by)).id
        events = {
            e.id: e
            for e in session.scalars(
                select(t.CodingEvent).where(t.CodingEvent.id.in_(ids), t.CodingEvent.project_id == ws.project_id)
            )
        }
        missing = [i for i in ids if i not in events or events[i].action != "suggested"]
        if missing:
            raise UnknownObject(f"no suggestion with id {missing[0]} in this project (see `chimeqda review`)")
        refuse_superseded(session, {e.document_id for e in events.values()})
        added: list[t.CodingEvent] = []
        for event in events.values():
            check_may_touch(session, event, person, blind)
            latest = latest_decision(session, event.id, by=person if per_person else None)
            if latest is not None and latest.action == action:
                continue
            if latest is not None and latest.action == "accepted":
                added.append(_event_like(event, person, "removed", decides=latest.id, evidence=note))
            added.append(_event_like(event, person, action, decides=event.id, evidence=note))
        session.add_all(added)
        session.flush()
        return [e.id for e in added]


def _event_like(event: t.CodingEvent, coder_id: int, action: str, *, decides: int, evidence: str = "") -> t.CodingEvent:
    return t.CodingEvent(
        project_id=event.project_id, document_id=event.document_id, segment_id=event.segment_id,
        start=event.start, end=event.end, code_id=event.code_id, coder_id=coder_id, action=action,
        decides_id=decides, score=event.score, evidence=evidence,
    )


def check_may_touch(session: Session, event: t.CodingEvent, person: int, blind: bool) -> None:
    """Under blind coding a coder acts only on their own codings and the machine's suggestions."""
    if not blind or event.coder_id == person:
        return
    if session.scalar(select(t.Coder.kind).where(t.Coder.id == event.coder_id)) == "machine":
        return
    raise UnknownObject(f"no coding {event.id} in this project")


def add_coding(ws: Workspace, document_id: int, start: int, end: int, code: str, *, by: str) -> int:
    """A person codes the span ``[start, end)`` of a document; returns the event id."""
    return add_codings(ws, document_id, start, end, [code], by=by)[0]


def add_codings(ws: Workspace, document_id: int, start: int, end: int, codes: Sequence[str], *, by: str) -> list[int]:
    """A person codes the span ``[start, end)`` with one or more codes, in one transaction; returns the event ids."""
    with ws.session() as session:
        return _insert_codings(session, ws.project_id, document_id, start, end, codes,
                               coder_row(session, human(by)).id)


def _insert_codings(
    session: Session, project_id: int, document_id: int, start: int, end: int, codes: Sequence[str], coder_id: int,
) -> list[int]:
    keys = list(dict.fromkeys(codes))
    if not keys:
        raise InvalidInput("choose at least one code", source="codes")
    doc = session.execute(
        select(t.Document.project_id, t.Document.name, func.length(t.Document.text)).where(t.Document.id == document_id)
    ).first()
    if doc is None or doc.project_id != project_id:
        raise UnknownObject(f"no document {document_id} in this project")
    refuse_superseded(session, [document_id])
    length = doc[2]
    if not (0 <= start < end <= length):
        raise InvalidInput(f"span {start}–{end} is outside the document (it has {length} characters)", source=doc.name)
    ids = dict(session.execute(
        select(t.Code.key, t.Code.id).where(t.Code.codebook_id == first_codebook_id(session, project_id),
                                            t.Code.key.in_(keys))
    ).all())
    missing = [key for key in keys if key not in ids]
    if missing:
        raise UnknownObject(f"no code {missing[0]!r} in the codebook")
    segment_id = session.scalar(
        select(t.Segment.id).where(t.Segment.document_id == document_id, t.Segment.start == start, t.Segment.end == end)
    )
    rows = [
        {"project_id": project_id, "document_id": document_id, "segment_id": segment_id, "start": start, "end": end,
         "code_id": ids[key], "coder_id": coder_id, "action": "accepted", "evidence": ""}
        for key in keys
    ]
    return list(session.scalars(t.table(t.CodingEvent).insert().returning(t.table(t.CodingEvent).c.id), rows))


def _accepted_coding(session: Session, project_id: int, event_id: int) -> t.CodingEvent:
    """The coding ``event_id`` if it is in force (accepted, not removed) in the project."""
    event = session.scalars(
        select(t.CodingEvent).where(t.CodingEvent.id == event_id, t.CodingEvent.project_id == project_id,
                                    current_coding())
    ).first()
    if event is None:
        raise UnknownObject(f"no coding {event_id} in this project (it may have been removed already)")
    return event


def remove_coding(ws: Workspace, event_id: int, *, by: str, blind: bool = False) -> int:
    """Withdraw an accepted coding (appends a ``removed`` event); returns its id.

    ``blind``: under blind coding a person may act only on their own codings
    and machine suggestions; anyone else's is reported as not found.
    """
    with ws.session() as session:
        person = coder_row(session, human(by)).id
        event = _accepted_coding(session, ws.project_id, event_id)
        check_may_touch(session, event, person, blind)
        refuse_superseded(session, [event.document_id])
        removal = _event_like(event, person, "removed", decides=event.id)
        session.add(removal)
        session.flush()
        return removal.id


def change_coding(ws: Workspace, event_id: int, code: str, *, by: str, blind: bool = False) -> tuple[int, int]:
    """Give a coding another code, in one transaction: (removal event id, new coding event id).

    If the new code is unknown nothing changes (the old coding stays).
    """
    with ws.session() as session:
        person = coder_row(session, human(by)).id
        event = _accepted_coding(session, ws.project_id, event_id)
        check_may_touch(session, event, person, blind)
        refuse_superseded(session, [event.document_id])
        removal = _event_like(event, person, "removed", decides=event.id)
        session.add(removal)
        session.flush()
        (added,) = _insert_codings(session, ws.project_id, event.document_id, event.start, event.end, [code], person)
        return removal.id, added
