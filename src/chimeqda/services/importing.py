"""Importing transcripts and participant attributes into a project.

All files of one import are read and checked first; only when every file is
good are they written, in one transaction. A file whose content is unchanged
is skipped — unless only its speakers' roles changed (a new ``--interviewer``):
then the roles of its turns and segments are updated in place, text, offsets
and codings untouched. A changed file becomes a new version of its document,
and the old version — with every coding on it — is kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chimeqda.errors import Conflict, InvalidInput
from chimeqda.ingest import expand_inputs, read_document
from chimeqda.model import ParsedDocument
from chimeqda.services.project import Workspace
from chimeqda.store import tables as t
from chimeqda.store.db import unique_violation
from chimeqda.tabular import read_csv_table

PARTICIPANT_NAME_COLUMNS = ("name", "aliases")  # real names: read only into the pseudonym key file
_PARTICIPANT_IN_NAME = re.compile(r"(?<![A-Za-z0-9])([Pp]\d{1,4})(?![0-9])")


@dataclass(frozen=True)
class ImportOutcome:
    """What happened to one file."""

    name: str
    status: str  # imported | unchanged | linked (unchanged, now linked to its participant) | roles updated | new version
    document_id: int
    segments: int
    language: str
    participant: str | None
    note: str = ""
    # two or more speakers and none recognised as the interviewer: their names, in order of appearance
    speakers_without_interviewer: tuple[str, ...] = ()
    # what the reader kept but could not read as intended (text outside any cue, cues out of order)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParticipantRow:
    label: str
    files: tuple[str, ...]
    attributes: dict[str, object]


def read_participants_csv(path: Path | str) -> list[ParticipantRow]:
    """Read a participant attribute CSV: a ``participant`` column, optional ``file``, attributes.

    Numbers become numbers; empty cells are left out. Errors name the file and row.
    The columns ``name`` and ``aliases`` (real names, for pseudonymisation) are
    never stored: ``chimeqda pseudonymise --participants`` reads them into the
    encrypted key file.
    """
    path = Path(path)
    columns, raw_rows = read_csv_table(path)
    header = [h.strip().lower() for h in columns]
    if "participant" not in header:
        raise InvalidInput(
            "the first row must name a 'participant' column (the pseudonymous ID, e.g. P03)",
            source=path.name,
            location="row 1",
        )
    rows: list[ParticipantRow] = []
    seen: dict[str, int] = {}
    for number, raw_row in enumerate(raw_rows, start=2):
        row = {str(k).strip().lower(): (v or "").strip() for k, v in raw_row.items() if k is not None}
        label = row.pop("participant", "")
        if not label:
            raise InvalidInput("the participant ID is empty", source=path.name, location=f"row {number}")
        if label in seen:
            raise InvalidInput(
                f"participant {label!r} appears twice (also in row {seen[label]})",
                source=path.name,
                location=f"row {number}",
            )
        seen[label] = number
        files = tuple(f.strip() for f in row.pop("file", "").split(";") if f.strip())
        for identifying in PARTICIPANT_NAME_COLUMNS:
            row.pop(identifying, None)
        attributes = {key: _number_or_text(value) for key, value in row.items() if value != ""}
        rows.append(ParticipantRow(label=label, files=files, attributes=attributes))
    return rows


_PLAIN_INTEGER = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_PLAIN_DECIMAL = re.compile(r"[+-]?(?:(?:0|[1-9][0-9]*)(?:[.,][0-9]+)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?")


def _number_or_text(value: str) -> object:
    """A number for a cell written as one (``42``, ``3,5``, ``1.5e3``), else the text as it is.

    ``0612``, ``1_000``, ``nan``, ``inf``, ``1e400`` and digits of other scripts stay text:
    Python would read them as numbers, changing what the researcher wrote (and NaN or
    infinity is no JSON for PostgreSQL).
    """
    if _PLAIN_INTEGER.fullmatch(value):
        return int(value)
    if _PLAIN_DECIMAL.fullmatch(value):
        number = float(value.replace(",", "."))
        return number if math.isfinite(number) else value
    return value


def import_files(
    ws: Workspace,
    inputs: Iterable[str | Path],
    *,
    participants_csv: Path | str | None = None,
    participant: str | None = None,
    interviewer_labels: Iterable[str] = (),
    language: str | None = None,
    max_bytes: int = 25_000_000,
    progress: Callable[[str], None] | None = None,
) -> list[ImportOutcome]:
    """Import transcripts (files, folders, globs) and participant attributes, all or nothing."""
    paths = expand_inputs(inputs)
    people = read_participants_csv(participants_csv) if participants_csv else []
    parsed: list[ParsedDocument] = []
    for path in paths:
        if progress:
            progress(f"reading {path.name}")
        parsed.append(
            read_document(path, interviewer_labels=tuple(interviewer_labels), language=language, max_bytes=max_bytes)
        )
    names = [doc.name for doc in parsed]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise InvalidInput(
            f"two files share the name {sorted(duplicates)[0]!r}; documents are identified by file name, rename one"
        )
    outcomes: list[ImportOutcome] = []
    # locked: a second import of the same folder started at the same time waits, then finds these files stored
    with ws.session(lock=True) as session:
        by_label = upsert_participants(session, ws.project_id, people)
        file_owner = {name: row.label for row in people for name in row.files}
        for doc in parsed:
            label = participant or _participant_for(doc.name, file_owner, by_label)
            participant_row = by_label.get(label) if label else None
            if label and participant_row is None:
                participant_row = _participant(session, ws.project_id, label)
                by_label[label] = participant_row
            outcomes.append(store_document(session, ws.project_id, doc, participant_row))
    return outcomes


def upsert_participants(session: Session, project_id: int, people: list[ParticipantRow]) -> dict[str, t.Participant]:
    """Create or update participants; attributes merge (a new value replaces the old)."""
    existing = {
        p.label: p for p in session.scalars(select(t.Participant).where(t.Participant.project_id == project_id))
    }
    for person in people:
        row = existing.get(person.label)
        if row is None:
            row = t.Participant(project_id=project_id, label=person.label, attributes=dict(person.attributes))
            session.add(row)
            existing[person.label] = row
        else:
            row.attributes = {**(row.attributes or {}), **person.attributes}
    session.flush()
    return existing


@dataclass(frozen=True)
class Link:
    """A document linked to a participant by ``link_participants``; ``previous``: the participant it was linked to."""

    document: str
    participant: str
    previous: str | None = None


def link_participants(session: Session, project_id: int, people: list[ParticipantRow]) -> list[Link]:
    """Store ``people`` and link the current documents to their owners.

    A document the CSV's ``file`` column names is linked to that row's
    participant, also when it was linked to another one (the CSV says so:
    ``Link.previous`` names the one it had). A document without a participant
    is linked as on import: the ``file`` column, else a participant label (or
    ``P03``-style id) in the file name. Returns the links made or changed.
    """
    by_label = upsert_participants(session, project_id, people)
    file_owner = {name: row.label for row in people for name in row.files}
    label_of = {p.id: label for label, p in by_label.items()}
    links: list[Link] = []
    documents = session.scalars(
        select(t.Document).where(t.Document.project_id == project_id, t.Document.is_current.is_(True))
        .order_by(t.Document.name)
    )
    for doc in documents:
        if doc.participant_id is None:
            label = _participant_for(doc.name, file_owner, by_label)
        else:
            label = _named_owner(doc.name, file_owner)
            if label is None or label_of.get(doc.participant_id) == label:
                continue
        if label is None:
            continue
        if label not in by_label:
            by_label[label] = _participant(session, project_id, label)
            label_of[by_label[label].id] = label
        previous = label_of.get(doc.participant_id) if doc.participant_id is not None else None
        doc.participant_id = by_label[label].id
        links.append(Link(doc.name, label, previous))
    return links


def _participant(session: Session, project_id: int, label: str) -> t.Participant:
    row = t.Participant(project_id=project_id, label=label, attributes={})
    session.add(row)
    session.flush()
    return row


def _named_owner(name: str, file_owner: dict[str, str]) -> str | None:
    """The participant whose ``file`` cell names this document (its file name, or the name without suffix)."""
    for candidate in (name, Path(name).stem):
        if candidate in file_owner:
            return file_owner[candidate]
    return None


def _participant_for(name: str, file_owner: dict[str, str], known: dict[str, t.Participant]) -> str | None:
    named = _named_owner(name, file_owner)
    if named is not None:
        return named
    stem = Path(name).stem
    for label in sorted(known, key=len, reverse=True):
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(label)}(?![A-Za-z0-9])", stem, re.I):
            return label
    match = _PARTICIPANT_IN_NAME.search(stem)
    return match.group(1).upper() if match else None


def _update_roles(session: Session, document_id: int, doc: ParsedDocument) -> int:
    """Give the stored turns (and their segments) of an unchanged text the roles ``doc`` parsed.

    Only when the turns are the same (same boundaries and speakers) and only
    roles differ; returns how many turns changed role (0: nothing written).
    """
    stored = session.scalars(select(t.Turn).where(t.Turn.document_id == document_id).order_by(t.Turn.index)).all()
    same_turns = len(stored) == len(doc.turns) and all(
        (row.index, row.start, row.end, row.speaker) == (turn.index, turn.start, turn.end, turn.speaker)
        for row, turn in zip(stored, doc.turns)
    )
    if not same_turns:
        return 0
    changed = {row.index: turn.role for row, turn in zip(stored, doc.turns) if row.role != turn.role}
    for row in stored:
        if row.index in changed:
            row.role = changed[row.index]
    for segment in session.scalars(select(t.Segment).where(t.Segment.document_id == document_id)):
        if segment.turn in changed:
            segment.role = changed[segment.turn]
    return len(changed)


def store_document(
    session: Session, project_id: int, doc: ParsedDocument, participant: t.Participant | None
) -> ImportOutcome:
    """Store one parsed document: skip it if unchanged, else add it (as a new version if it changed).

    Shared by transcript import and the exchange importers (REFI-QDA, Taguette).
    """
    current = session.scalar(
        select(t.Document).where(
            t.Document.project_id == project_id, t.Document.name == doc.name, t.Document.is_current.is_(True)
        )
    )
    if current is not None and current.sha256 == doc.sha256:
        count = session.scalar(select(func.count()).select_from(t.Segment).where(t.Segment.document_id == current.id))
        # an unchanged file may still bring participant data: link it now, in this transaction
        notes = [link_unchanged(session, current, participant)] if participant is not None else []
        changed = _update_roles(session, current.id, doc)
        if changed:
            notes.append(f"same text; the speaker roles of {changed} turn(s) changed (e.g. --interviewer) and were "
                         "updated; offsets and codings are unchanged")
        linked = bool(notes and notes[0].startswith(LINKED))
        status = "roles updated" if changed else "linked" if linked else "unchanged"
        return ImportOutcome(doc.name, status, current.id, int(count or 0), current.language,
                             _label(session, current.participant_id), "; ".join(n for n in notes if n),
                             _speakers_without_interviewer(doc), doc.warnings)
    version, note = 1, ""
    if participant is None and current is not None and current.participant_id is not None:
        participant = session.get(t.Participant, current.participant_id)  # a new version keeps its participant
    label = participant.label if participant else None
    if current is not None:
        current.is_current = False
        session.flush()
        version = current.version + 1
        codings = session.scalar(
            select(func.count()).select_from(t.CodingEvent).where(t.CodingEvent.document_id == current.id)
        )
        note = (
            f"the file changed since version {current.version}; imported as version {version}. "
            f"Version {current.version} and its {codings} coding events are kept unchanged."
        )
    row = t.Document(
        project_id=project_id,
        participant_id=participant.id if participant else None,
        name=doc.name,
        version=version,
        supersedes_id=current.id if current else None,
        is_current=True,
        source_format=doc.source_format,
        sha256=doc.sha256,
        language=doc.language,
        text=doc.text,
        meta=dict(doc.metadata),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:  # a writer that did not take the project lock stored this name meanwhile
        if unique_violation(exc) != "documents":
            raise
        raise Conflict(f"another import stored {doc.name} in this project at the same time; nothing of this "
                       "import was stored. Wait until it has finished and import again: files already stored "
                       "are then skipped") from None
    if doc.turns:
        session.execute(
            t.table(t.Turn).insert(),
            [
                {"document_id": row.id, "index": turn.index, "start": turn.start, "end": turn.end,
                 "speaker": turn.speaker, "role": turn.role, "time": turn.time, "time_end": turn.time_end}
                for turn in doc.turns
            ],
        )
    if doc.segments:
        session.execute(
            t.table(t.Segment).insert(),
            [
                {"document_id": row.id, "index": s.index, "turn": s.turn, "speaker": s.speaker,
                 "role": s.role, "start": s.start, "end": s.end, "text": s.text,
                 "time_start": s.time_start, "time_end": s.time_end,
                 "words": [list(word) for word in s.words] if s.words is not None else None}
                for s in doc.segments
            ],
        )
    status = "new version" if current is not None else "imported"
    return ImportOutcome(doc.name, status, row.id, len(doc.segments), doc.language, label, note,
                         _speakers_without_interviewer(doc), doc.warnings)


LINKED = "same text; now linked to"


def link_unchanged(session: Session, current: t.Document, participant: t.Participant) -> str:
    """Link the unchanged ``current`` to ``participant`` if it has none (a re-import may bring participant data).

    Returns the note for the researcher ("" when there is nothing to say). A
    document linked to another participant keeps that link, and the note says so.
    """
    if current.participant_id == participant.id:
        return ""
    if current.participant_id is not None:
        return (f"still linked to {_label(session, current.participant_id)}: this import names {participant.label}, "
                "an existing link is not changed by an import (`chimeqda participants` relinks a document its "
                "CSV's 'file' column names)")
    current.participant_id = participant.id
    return f"{LINKED} {participant.label}"


def _label(session: Session, participant_id: int | None) -> str | None:
    if participant_id is None:
        return None
    return session.scalar(select(t.Participant.label).where(t.Participant.id == participant_id))


def _speakers_without_interviewer(doc: ParsedDocument) -> tuple[str, ...]:
    """The speakers of ``doc`` if there are two or more and none is the interviewer, else ``()``."""
    if any(s.role == "interviewer" for s in doc.segments):
        return ()
    speakers = tuple(dict.fromkeys(s.speaker for s in doc.segments if s.speaker))
    return speakers if len(speakers) >= 2 else ()
