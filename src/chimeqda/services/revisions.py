"""Revising a document's text: a new version that keeps everything coded on it.

``revise_document`` applies edits — ``(start, end, replacement)`` on the
current text — and stores the result as a new version of the document
(``supersedes_id``; the old version stays, no longer current). The new text is
split into turns and sentences the way an import does (turn boundaries and
roles carried over, each turn's utterance re-split into sentences), and every
coding event (suggested / accepted / rejected / removed, with its
``decides_id`` chain), every machine run's coverage and review flag, every
"reviewed: no code" review and every memo on the document or its codings is
carried over with its offsets (or segment) remapped through the edits. A
coding whose words were replaced keeps covering the replacement. All in one
transaction: an error leaves the old version as it was.

Pseudonymisation and word corrections in a transcript both use it.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.ingest.sentences import sentences_in
from chimeqda.services.project import Workspace
from chimeqda.store import tables as t

Edit = tuple[int, int, str]
_RECORDING_TIMES = (("time_start", min), ("time_end", max))  # segment columns of recorded documents
_WORDS = "words"


@dataclass(frozen=True)
class Revision:
    """What ``revise_document`` made."""

    document_id: int
    previous_id: int
    name: str
    version: int
    edits: int
    segments: int
    coding_events: int
    memos: int


class OffsetMap:
    """Maps offsets of the old text to the new one, through sorted, non-overlapping edits.

    ``span`` maps a coded span: an edit inside it is inside the new span, an
    edit that overlaps one of its ends widens it to the whole replacement, an
    insertion exactly at one of its ends stays outside.
    """

    def __init__(self, edits: Sequence[Edit]):
        self.edits = list(edits)
        self._ends = [b for _, b, _ in self.edits]
        self._shift = [0]  # the text-length change of the first i edits
        for a, b, replacement in self.edits:
            self._shift.append(self._shift[-1] + len(replacement) - (b - a))

    def start(self, position: int) -> int:
        """Where a span that starts at ``position`` starts in the new text."""
        k = bisect.bisect_right(self._ends, position)  # edits ending at or before position
        if k < len(self.edits):
            a, b, _ = self.edits[k]
            if a < position < b:
                return a + self._shift[k]
        return position + self._shift[k]

    def end(self, position: int) -> int:
        """Where a span that ends at ``position`` ends in the new text."""
        k = bisect.bisect_left(self._ends, position)  # edits ending before position
        if k < len(self.edits) and self.edits[k][1] == position and self.edits[k][0] < position:
            k += 1  # a replacement ending where the span ends is inside it
        if k < len(self.edits):
            a, b, replacement = self.edits[k]
            if a < position < b:
                return a + self._shift[k] + len(replacement)
        return position + self._shift[k]

    def span(self, start: int, end: int) -> tuple[int, int]:
        new_start = self.start(start)
        return new_start, max(new_start, self.end(end))


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """``text`` with sorted, non-overlapping ``edits`` applied."""
    parts: list[str] = []
    at = 0
    for a, b, replacement in edits:
        parts.append(text[at:a])
        parts.append(replacement)
        at = b
    parts.append(text[at:])
    return "".join(parts)


def checked_edits(text: str, edits: Iterable[Sequence[Any]], *, source: str = "") -> list[Edit]:
    """Edits sorted by position; out-of-range or overlapping edits are refused."""
    result: list[Edit] = []
    for number, edit in enumerate(edits, start=1):
        try:
            a, b, replacement = int(edit[0]), int(edit[1]), str(edit[2])
        except (TypeError, ValueError, IndexError):
            raise InvalidInput(f"edit {number} is not (start, end, replacement): {edit!r}", source=source) from None
        if not 0 <= a <= b <= len(text):
            raise InvalidInput(
                f"edit {number} covers {a}–{b}, outside the text (0–{len(text)})", source=source
            )
        result.append((a, b, replacement))
    result.sort(key=lambda e: (e[0], e[1]))
    for (a1, b1, _), (a2, b2, _) in pairwise(result):
        if a2 < b1 or (a1 == a2 == b1 == b2):
            raise InvalidInput(
                f"two edits overlap ({a1}–{b1} and {a2}–{b2}); merge them into one", source=source
            )
    return result


def _columns(row: Any, skip: Iterable[str]) -> dict[str, Any]:
    """A row's mapped column values except ``skip`` (new columns of other areas are carried too)."""
    skipped = set(skip)
    return {attr.key: getattr(row, attr.key) for attr in row.__mapper__.column_attrs if attr.key not in skipped}


def _segment_for(spans: Sequence[tuple[int, int]], starts: Sequence[int], start: int, end: int) -> int | None:
    """Index of the span that overlaps [start, end) most (the one containing ``start`` when empty)."""
    if not spans:
        return None
    best, best_overlap = None, -1
    i = max(0, bisect.bisect_right(starts, start) - 1)
    while i < len(spans):
        a, b = spans[i]
        if a > end or (a == end and end > start):
            break
        overlap = min(b, end) - max(a, start)
        if overlap > best_overlap or (end == start and a <= start <= b and best_overlap < 0):
            best, best_overlap = i, overlap
        i += 1
    if best is None or best_overlap < 0:
        return None
    return best


def revise_document(
    target: Session | Workspace,
    document_id: int,
    edits: Iterable[Sequence[Any]],
    *,
    reason: str,
    user: str,
    speakers: Mapping[str, str] | None = None,
    rewrite: Callable[[str], str] | None = None,
) -> Revision:
    """Make a new version of a document with ``edits`` applied; keep every coding and memo on it.

    ``edits`` are ``(start, end, replacement)`` on the current text (code
    points). ``speakers`` renames turn speakers (e.g. ``{"Mieke": "[Person 1]"}``)
    — the text's own ``Mieke:`` labels are changed by edits like any word.
    ``reason`` and ``user`` are kept in the new version's ``meta["revision"]``.
    ``rewrite``, when given, is applied to the carried-over suggestions'
    evidence and memos' titles and texts (pseudonymisation replaces the same
    names there).
    """
    keep = rewrite or (lambda text: text)
    if isinstance(target, Workspace):
        with target.session() as session:
            return _revise(session, target.project_id, document_id, edits, reason, user, speakers or {}, keep)
    return _revise(target, None, document_id, edits, reason, user, speakers or {}, keep)


def _revise(
    session: Session,
    project_id: int | None,
    document_id: int,
    edits: Iterable[Sequence[Any]],
    reason: str,
    user: str,
    speakers: Mapping[str, str],
    rewrite: Callable[[str], str],
) -> Revision:
    old = session.get(t.Document, document_id)
    if old is None or (project_id is not None and old.project_id != project_id):
        raise UnknownObject(f"no document with id {document_id} in this project")
    if not old.is_current:
        raise InvalidInput(
            f"{old.name} version {old.version} has been replaced by a newer version; revise the current one",
            source=old.name,
        )
    if not reason.strip():
        raise InvalidInput("say why the text is revised (reason)", source=old.name)
    edit_list = checked_edits(old.text, edits, source=old.name)
    mapping = OffsetMap(edit_list)
    new_text = apply_edits(old.text, edit_list)

    old.is_current = False
    session.flush()
    meta = dict(old.meta or {})
    meta["revision"] = {
        "reason": reason,
        "by": user,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "edits": len(edit_list),
        "previous_version": old.version,
        "text_sha256": hashlib.sha256(new_text.encode("utf-8", "surrogatepass")).hexdigest(),
    }
    # sha256 stays the source file's: importing the original file again is "unchanged", not a new version.
    new = t.Document(
        **_columns(old, ("id", "version", "supersedes_id", "is_current", "text", "meta", "imported_at")),
        version=old.version + 1,
        supersedes_id=old.id,
        is_current=True,
        text=new_text,
        meta=meta,
    )
    session.add(new)
    session.flush()

    segment_spans = _copy_turns_and_segments(session, old, new, mapping, speakers)
    segment_ids = [sid for sid, _, _ in segment_spans]
    spans = [(a, b) for _, a, b in segment_spans]
    starts = [a for a, _ in spans]

    events = session.scalars(
        select(t.CodingEvent).where(t.CodingEvent.document_id == old.id).order_by(t.CodingEvent.id)
    ).all()
    new_ids: dict[int, int] = {}
    batch: list[tuple[int, dict[str, Any]]] = []

    def insert_batch() -> None:
        # one INSERT … RETURNING per batch (ids in parameter order); a batch never holds an event and its decision
        if batch:
            ids = session.scalars(
                insert(t.CodingEvent).returning(t.CodingEvent.id, sort_by_parameter_order=True), [r for _, r in batch]
            ).all()
            new_ids.update(zip((old_id for old_id, _ in batch), ids))
            batch.clear()

    in_batch: set[int] = set()
    for event in events:
        if event.decides_id is not None and event.decides_id in in_batch:
            insert_batch()
            in_batch.clear()
        start, end = mapping.span(event.start, event.end)
        segment_id = None
        if event.segment_id is not None:
            found = _segment_for(spans, starts, start, end)
            segment_id = segment_ids[found] if found is not None else None
        row = _columns(event, ("id", "document_id", "segment_id", "start", "end", "decides_id", "evidence"))
        row.update(
            evidence=rewrite(event.evidence or ""),
            document_id=new.id,
            segment_id=segment_id,
            start=start,
            end=end,
            decides_id=new_ids.get(event.decides_id, event.decides_id) if event.decides_id is not None else None,
        )
        batch.append((event.id, row))
        in_batch.add(event.id)
    insert_batch()

    for run in session.scalars(select(t.CoderRun).where(t.CoderRun.document_id == old.id)):
        session.add(t.CoderRun(**_columns(run, ("id", "document_id")), document_id=new.id))
    _copy_segment_state(session, old, new, mapping, segment_ids, spans, rewrite)

    memos = 0
    memo_rows = session.scalars(
        select(t.Memo).where(t.Memo.project_id == old.project_id, t.Memo.target_type.in_(("document", "coding")))
    ).all()
    for memo in memo_rows:
        if memo.target_type == "document" and memo.target_id == old.id:
            target_id = new.id
        elif memo.target_type == "coding" and memo.target_id in new_ids:
            target_id = new_ids[memo.target_id]
        else:
            continue
        session.add(t.Memo(**_columns(memo, ("id", "target_id", "title", "text")), target_id=target_id,
                           title=rewrite(memo.title or ""), text=rewrite(memo.text)))
        memos += 1
    session.flush()
    return Revision(
        document_id=new.id,
        previous_id=old.id,
        name=new.name,
        version=new.version,
        edits=len(edit_list),
        segments=len(spans),
        coding_events=len(events),
        memos=memos,
    )


def _copy_segment_state(
    session: Session, old: t.Document, new: t.Document, mapping: OffsetMap, segment_ids: Sequence[int],
    spans: Sequence[tuple[int, int]], rewrite: Callable[[str], str],
) -> None:
    """Review flags and "reviewed: no code" reviews, each on the new segment its old segment's words mostly went to.

    Reviews keep their order (a person's latest row is their state) and get
    their notes rewritten like memos; a run flags a segment once, so two old
    segments joined into one keep one flag of that run.
    """
    starts = [a for a, _ in spans]
    old_spans = {sid: (a, b) for sid, a, b in session.execute(
        select(t.Segment.id, t.Segment.start, t.Segment.end).where(t.Segment.document_id == old.id))}

    def new_segment(old_id: int) -> int | None:
        if old_id not in old_spans:
            return None
        found = _segment_for(spans, starts, *mapping.span(*old_spans[old_id]))
        return segment_ids[found] if found is not None else None

    for review in session.scalars(
            select(t.SegmentReview).where(t.SegmentReview.document_id == old.id).order_by(t.SegmentReview.id)):
        segment_id = new_segment(review.segment_id)
        if segment_id is not None:
            session.add(t.SegmentReview(**_columns(review, ("id", "document_id", "segment_id", "note")),
                                        document_id=new.id, segment_id=segment_id, note=rewrite(review.note or "")))
    flagged: set[tuple[str, int]] = set()
    for flag in session.scalars(
            select(t.ReviewFlag).where(t.ReviewFlag.document_id == old.id).order_by(t.ReviewFlag.id)):
        segment_id = new_segment(flag.segment_id)
        if segment_id is not None and (flag.run_id, segment_id) not in flagged:
            flagged.add((flag.run_id, segment_id))
            session.add(t.ReviewFlag(**_columns(flag, ("id", "document_id", "segment_id")),
                                     document_id=new.id, segment_id=segment_id))


def _copy_turns_and_segments(
    session: Session, old: t.Document, new: t.Document, mapping: OffsetMap, speakers: Mapping[str, str]
) -> list[tuple[int, int, int]]:
    """Turns with remapped bounds; each turn's utterance re-split into sentences. Returns (id, start, end) per segment."""
    turns = session.scalars(select(t.Turn).where(t.Turn.document_id == old.id).order_by(t.Turn.index)).all()
    old_segments = session.scalars(
        select(t.Segment).where(t.Segment.document_id == old.id).order_by(t.Segment.index)
    ).all()
    by_turn: dict[int, list[t.Segment]] = {}
    for segment in old_segments:
        by_turn.setdefault(segment.turn, []).append(segment)
    segment_columns = {attr.key for attr in t.Segment.__mapper__.column_attrs}
    text = new.text
    rows: list[dict[str, Any]] = []
    turn_rows: list[dict[str, Any]] = []
    for turn in turns:
        start, end = mapping.span(turn.start, turn.end)
        speaker = speakers.get(turn.speaker, turn.speaker) if turn.speaker is not None else None
        turn_rows.append({**_columns(turn, ("id", "document_id", "start", "end", "speaker")),
                          "document_id": new.id, "start": start, "end": end, "speaker": speaker})
        own = by_turn.pop(turn.index, [])
        body_start = mapping.start(own[0].start) if own else end
        spans: list[tuple[int, int]] = []
        if end > body_start:
            sentences_in(text, body_start, end, spans)
        rows.extend(_segments(new.id, turn.index, speaker, turn.role, spans, own, mapping, text, segment_columns,
                              len(rows)))
    # Segments outside any stored turn (documents imported without turns): remap them as they are.
    for turn_index, own in sorted(by_turn.items()):
        for segment in own:
            start, end = mapping.span(segment.start, segment.end)
            speaker = speakers.get(segment.speaker, segment.speaker) if segment.speaker is not None else None
            rows.extend(_segments(new.id, turn_index, speaker, segment.role, [(start, end)], [segment], mapping,
                                  text, segment_columns, len(rows)))
    if turn_rows:
        session.execute(insert(t.Turn), turn_rows)
    if not rows:
        return []
    ids = session.scalars(insert(t.Segment).returning(t.Segment.id, sort_by_parameter_order=True), rows).all()
    return [(segment_id, row["start"], row["end"]) for segment_id, row in zip(ids, rows)]


def _segments(
    document_id: int,
    turn: int,
    speaker: str | None,
    role: str,
    spans: Sequence[tuple[int, int]],
    old: Sequence[t.Segment],
    mapping: OffsetMap,
    text: str,
    columns: set[str],
    first_index: int,
) -> list[dict[str, Any]]:
    """New segment rows; recording times and word timings (when the schema has them) come from the old segments."""
    remapped = [(mapping.span(s.start, s.end), s) for s in old]
    rows = []
    for offset, (a, b) in enumerate(spans):
        row: dict[str, Any] = {"document_id": document_id, "index": first_index + offset, "turn": turn,
                               "speaker": speaker, "role": role, "start": a, "end": b, "text": text[a:b]}
        overlapping = [s for (sa, sb), s in remapped if sa < b and a < sb]
        # The recording columns (audio's migration) are read by name: absent on older schemas.
        for name, pick in _RECORDING_TIMES:
            if name in columns:
                times = [v for v in (getattr(s, name) for s in overlapping) if v is not None]
                row[name] = pick(times) if times else None
        if _WORDS in columns:
            words = []
            for s in overlapping:
                for word in getattr(s, _WORDS) or []:
                    ws, we = mapping.span(int(word[0]), int(word[1]))
                    if a <= ws and we <= b and we > ws:
                        words.append([ws, we, *word[2:]])
            row[_WORDS] = words or None
        rows.append(row)
    return rows
