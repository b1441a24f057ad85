"""Speaker turns of a document: list them, name speakers, set roles, merge and split turns.

The researcher fixes the turns a transcription guessed. Each change is one
transaction and touches only the ``turns`` and ``segments`` rows: the document
text, the segments' offsets and every coding stay as they are. A segment's
role follows its turn, so an interviewer turn is not coded (as for text
transcripts). A transcribed recording has no speaker names in its text; a text
transcript keeps the labels it was written with, and a changed name shows in
the turn list, the web view and exports.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.model import ROLES
from chimeqda.services.project import Workspace, refuse_superseded
from chimeqda.store import tables as t


@dataclass(frozen=True)
class TurnView:
    """One turn as the researcher sees it (``index`` counts from 0)."""

    index: int
    speaker: str | None
    role: str
    time: float | None
    time_end: float | None
    sentences: int
    text: str


def find_document(session: Session, project_id: int, document: str | int) -> t.Document:
    """The current version of the document named ``document``, or the document with that id."""
    name = str(document)
    row = session.scalar(select(t.Document).where(
        t.Document.project_id == project_id, t.Document.name == name, t.Document.is_current.is_(True)))
    if row is None and name.isdigit():
        row = session.scalar(select(t.Document).where(
            t.Document.project_id == project_id, t.Document.id == int(name)))
    if row is None:
        raise UnknownObject(f"no document {name!r} in this project; `chimeqda documents` lists them")
    return row


def list_turns(ws: Workspace, document: str | int) -> list[TurnView]:
    """The turns of a document with their speaker, role, times and text."""
    with ws.session() as session:
        doc = find_document(session, ws.project_id, document)
        turns = _turns(session, doc.id)
        counts: dict[int, int] = {}
        for turn_index in session.scalars(select(t.Segment.turn).where(t.Segment.document_id == doc.id)):
            counts[turn_index] = counts.get(turn_index, 0) + 1
        return [TurnView(turn.index, turn.speaker, turn.role, turn.time, turn.time_end, counts.get(turn.index, 0),
                         " ".join(doc.text[turn.start:turn.end].split())) for turn in turns]


def set_speaker(ws: Workspace, document: str | int, first: int, last: int | None = None, *,
                speaker: str | None = None, role: str | None = None) -> int:
    """Give turns ``first``..``last`` (inclusive) a speaker name and/or a role; returns how many changed."""
    if speaker is None and role is None:
        raise InvalidInput("say what to change: a speaker name, a role, or both")
    if role is not None and role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if speaker is not None:
        speaker = " ".join(speaker.split())
        if not speaker or len(speaker) > 200:
            raise InvalidInput("a speaker name must have 1 to 200 characters")
    last = first if last is None else last
    with ws.session() as session:
        doc = find_document(session, ws.project_id, document)
        refuse_superseded(session, [doc.id])  # an earlier version is kept as it was
        turns = _turns(session, doc.id)
        _check_range(turns, first, last, doc.name)
        values = {key: value for key, value in (("speaker", speaker), ("role", role)) if value is not None}
        for table, column in ((t.Turn, t.Turn.index), (t.Segment, t.Segment.turn)):
            session.execute(update(table).where(table.document_id == doc.id, column >= first, column <= last)
                            .values(**values))
        return last - first + 1


def merge_turns(ws: Workspace, document: str | int, first: int, last: int | None = None) -> None:
    """Make turns ``first``..``last`` (default: ``first`` and the next) one turn of the first's speaker."""
    last = first + 1 if last is None else last
    with ws.session() as session:
        doc = find_document(session, ws.project_id, document)
        refuse_superseded(session, [doc.id])  # an earlier version is kept as it was
        turns = _turns(session, doc.id)
        _check_range(turns, first, last, doc.name)
        if last == first:
            raise InvalidInput("merging needs at least two turns", source=doc.name)
        keep = turns[first]
        keep.end = turns[last].end
        keep.time_end = _latest(turns[last].time_end, keep.time_end)
        for turn in turns[first + 1:last + 1]:
            session.delete(turn)
        session.flush()
        session.execute(update(t.Segment).where(
            t.Segment.document_id == doc.id, t.Segment.turn > first, t.Segment.turn <= last)
            .values(turn=first, speaker=keep.speaker, role=keep.role))
        _shift(session, doc.id, after=last, by=-(last - first))


def split_turn(ws: Workspace, document: str | int, turn: int, sentence: int, *,
               speaker: str | None = None, role: str | None = None) -> int:
    """Start a new turn at sentence ``sentence`` (counted from 0 within the turn); returns its index.

    The new turn gets ``speaker``/``role`` when given, else the old turn's.
    """
    if role is not None and role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    with ws.session() as session:
        doc = find_document(session, ws.project_id, document)
        refuse_superseded(session, [doc.id])  # an earlier version is kept as it was
        turns = _turns(session, doc.id)
        _check_range(turns, turn, turn, doc.name)
        segments = session.scalars(select(t.Segment).where(
            t.Segment.document_id == doc.id, t.Segment.turn == turn).order_by(t.Segment.index)).all()
        if not 0 < sentence < len(segments):
            raise InvalidInput(f"turn {turn} has {len(segments)} sentence(s); split at sentence 1 to "
                               f"{len(segments) - 1}", source=doc.name)
        old = turns[turn]
        before, after = segments[:sentence], segments[sentence:]
        _shift(session, doc.id, after=turn, by=1)
        new = t.Turn(document_id=doc.id, index=turn + 1, start=after[0].start, end=old.end,
                     speaker=" ".join(speaker.split()) if speaker else old.speaker, role=role or old.role,
                     time=after[0].time_start, time_end=old.time_end)
        old.end = before[-1].end
        old.time_end = _latest(*(s.time_end for s in before)) if any(s.time_end for s in before) else old.time_end
        session.add(new)
        for segment in after:
            segment.turn, segment.speaker, segment.role = turn + 1, new.speaker, new.role
        return turn + 1


def _turns(session: Session, document_id: int) -> list[t.Turn]:
    return list(session.scalars(select(t.Turn).where(t.Turn.document_id == document_id).order_by(t.Turn.index)))


def _check_range(turns: list[t.Turn], first: int, last: int, name: str) -> None:
    if not turns:
        raise InvalidInput("this document has no turns", source=name)
    if not 0 <= first <= last < len(turns):
        raise InvalidInput(f"no turn {first if not 0 <= first < len(turns) else last}: the turns are numbered "
                           f"0 to {len(turns) - 1} (and a range runs from low to high)", source=name)


def _shift(session: Session, document_id: int, *, after: int, by: int) -> None:
    """Renumber the turns (and their segments' turn) after turn ``after`` by ``by``."""
    session.flush()
    session.execute(update(t.Turn).where(t.Turn.document_id == document_id, t.Turn.index > after)
                    .values(index=t.Turn.index + by))
    session.execute(update(t.Segment).where(t.Segment.document_id == document_id, t.Segment.turn > after)
                    .values(turn=t.Segment.turn + by))


def _latest(*times: float | None) -> float | None:
    known = [time for time in times if time is not None]
    return max(known) if known else None
