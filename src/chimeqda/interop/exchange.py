"""What an exchange file holds, independent of its format, and how it enters a project.

The readers (:mod:`refi_import`, :mod:`taguette`) turn a file into an
:class:`Exchange`: plain data with text offsets already converted to Unicode
code points of the text chimeqda stores. :func:`store_exchange` maps it onto
the project in one transaction, so a failed import changes nothing, and notes
in an :class:`ImportReport` everything it imported and everything it could
not, with the reason (REFI-QDA §7 asks importers to report what they drop).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chimeqda.model import CoderInfo
from chimeqda.store import tables as t
from chimeqda.store.queries import current_coding, first_codebook_id

CHIMEQDA_LINE = "chimeqda:"
"""Prefix of the machine-readable line chimeqda adds to descriptions (see docs/interop.md)."""


@dataclass
class XCode:
    guid: str
    name: str
    parent: str | None = None
    codable: bool = True
    color: str | None = None
    description: str = ""


@dataclass
class XCoding:
    start: int
    end: int
    code: str  # code guid
    user: str | None = None  # user guid
    description: str = ""
    notes: list[str] = field(default_factory=list)  # note guids attached to the coding
    selection: str = ""  # guid of the selection in the file


@dataclass
class XSource:
    guid: str
    name: str
    text: str
    codings: list[XCoding] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    fmt: str = "refi"
    media: Any = None  # refi_audio.XMedia: a recording in the archive, stored in media/ on import
    timing: Any = None  # refi_audio.Timing: seconds at text positions, word probabilities
    turns: Any = None  # ingest RawTurns written by chimeqda (speakers need not be in the text)


@dataclass
class XCase:
    guid: str
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)


@dataclass
class XNote:
    guid: str
    title: str
    text: str
    author: str | None = None
    targets: list[tuple[str, str]] = field(default_factory=list)  # (kind, guid): project|source|code|coding|case


@dataclass
class Exchange:
    """The content of one exchange file, ready to store."""

    source: str
    kind: str  # "project" or "codebook"
    origin: str = ""
    name: str = ""
    users: dict[str, str] = field(default_factory=dict)
    codes: list[XCode] = field(default_factory=list)
    sources: list[XSource] = field(default_factory=list)
    cases: list[XCase] = field(default_factory=list)
    notes: list[XNote] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    archive: Any = None  # the .qdpx path, from which recordings are copied when storing


@dataclass
class ImportReport:
    """What an exchange import did: counts, remarks and every skipped item with its reason."""

    source: str
    imported: dict[str, int] = field(default_factory=dict)
    remarks: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def count(self, what: str, n: int = 1) -> None:
        self.imported[what] = self.imported.get(what, 0) + n

    def lines(self) -> list[str]:
        done = ", ".join(f"{n} {what}" for what, n in self.imported.items() if n) or "nothing"
        out = [f"{self.source}: imported {done}"]
        out += [f"  note: {line}" for line in self.remarks]
        if self.skipped:
            out.append(f"  not imported ({len(self.skipped)}):")
            out += [f"    - {line}" for line in self.skipped]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


# ---------------------------------------------------------------- descriptions


def parse_chimeqda_line(description: str) -> tuple[str, dict[str, Any]]:
    """Split a description into its human text and the data of a trailing ``chimeqda:`` JSON line."""
    import json

    lines = description.rstrip().splitlines()
    if lines and lines[-1].startswith(CHIMEQDA_LINE):
        try:
            data = json.loads(lines[-1][len(CHIMEQDA_LINE):])
        except ValueError:
            return description, {}
        if isinstance(data, dict):
            return "\n".join(lines[:-1]).rstrip(), data
    return description, {}


_LABELS = {"inclusion": "Include when:", "exclusion": "Exclude when:"}


def code_fields_from_description(description: str) -> dict[str, str]:
    """definition / inclusion / exclusion from a code description written by :func:`code_description`."""
    fields = {"definition": "", "inclusion": "", "exclusion": ""}
    current = "definition"
    buffer: dict[str, list[str]] = {k: [] for k in fields}
    for line in description.splitlines():
        for name, label in _LABELS.items():
            if line.startswith(label):
                current = name
                line = line[len(label):].lstrip()
                break
        buffer[current].append(line)
    return {k: "\n".join(v).strip() for k, v in buffer.items()}


def code_description(definition: str, inclusion: str, exclusion: str) -> str:
    parts = [definition.strip()]
    if inclusion.strip():
        parts.append(f"{_LABELS['inclusion']} {inclusion.strip()}")
    if exclusion.strip():
        parts.append(f"{_LABELS['exclusion']} {exclusion.strip()}")
    return "\n\n".join(p for p in parts if p)


# ---------------------------------------------------------------- storing


_KEY_CHARS = re.compile(r"[^A-Za-z0-9_.\-]+")


def _key_from_name(name: str, taken: set[str]) -> str:
    base = _KEY_CHARS.sub("_", name.strip().lower()).strip("_.-") or "code"
    key, n = base[:180], 2
    while key in taken:
        key = f"{base[:170]}-{n}"
        n += 1
    return key


def _codebook(session: Session, project_id: int) -> t.Codebook:
    from chimeqda.errors import ProjectError, UnknownObject

    try:
        return session.get_one(t.Codebook, first_codebook_id(session, project_id))
    except UnknownObject:
        raise ProjectError("the project has no codebook; create the project with `chimeqda init` first") from None


def store_exchange(ws, ex: Exchange) -> ImportReport:
    """Write ``ex`` into the project in one transaction and return the report."""
    from chimeqda.interop.recordings import copy_recordings

    report = ImportReport(ex.source, remarks=list(ex.remarks), skipped=list(ex.skipped))
    recordings, created = copy_recordings(ws, ex, report) if ex.kind == "project" else ({}, [])
    try:
        with ws.session(lock=True) as session:  # one writer of the project at a time
            codes = _store_codes(session, ws.project_id, ex, report)
            if ex.kind == "project":
                _store_project(session, ws.project_id, ex, codes, report, recordings)
    except BaseException:
        for path in created:  # the recordings this import copied; nothing refers to them now
            path.unlink(missing_ok=True)
        raise
    return report


def _store_codes(session: Session, project_id: int, ex: Exchange, report: ImportReport) -> dict[str, int]:
    """Map every exchange code onto a project code (matched or new); returns guid → code row id."""
    from chimeqda.interop.guids import code_guid

    book = _codebook(session, project_id)
    rows = list(session.scalars(select(t.Code).where(t.Code.codebook_id == book.id).order_by(t.Code.position)))
    by_guid: dict[str, t.Code] = {}
    for row in rows:
        by_guid[code_guid(book.key, row.key)] = row
        refi = (row.data or {}).get("refi_guid")
        if refi:
            by_guid.setdefault(refi.lower(), row)
    by_key = {row.key: row for row in rows}
    by_name: dict[str, list[t.Code]] = {}
    for row in rows:
        by_name.setdefault(row.name.strip().lower(), []).append(row)
    position = max((r.position for r in rows), default=-1) + 1
    mapped: dict[str, int] = {}
    key_of: dict[str, str] = {}
    for code in ex.codes:
        human, data = parse_chimeqda_line(code.description)
        row = by_guid.get(code.guid.lower())
        how = "same GUID"
        if row is None and data.get("id") in by_key:
            row, how = by_key[data["id"]], "same chimeqda id"
        if row is None and len(by_name.get(code.name.strip().lower(), [])) == 1:
            row, how = by_name[code.name.strip().lower()][0], "same name"
        if row is None and code.name.strip().lower() in by_key:
            row, how = by_key[code.name.strip().lower()], "same name"
        if row is not None:
            mapped[code.guid] = row.id
            key_of[code.guid] = row.key
            report.count("codes matched")
            if how == "same name":
                report.remarks.append(f"code {code.name!r} was matched to the project's code {row.key!r} by its name")
            continue
        key = data.get("id") if isinstance(data.get("id"), str) and data["id"] not in by_key else None
        key = key or _key_from_name(code.name, set(by_key))
        fields = code_fields_from_description(human)
        parent_key = key_of.get(code.parent) if code.parent else None
        extra = {k: v for k, v in data.items() if k in ("examples", "counter_examples", "keywords", "translations")}
        row = t.Code(
            codebook_id=book.id, key=key, parent_key=parent_key, position=position, name=code.name[:300],
            definition=fields["definition"], inclusion=fields["inclusion"], exclusion=fields["exclusion"],
            color=_colour(code.color),
            data={"examples": [], "counter_examples": [], "keywords": {}, "translations": {}, **extra,
                  "refi_guid": code.guid.lower(), "codable": code.codable},
        )
        session.add(row)
        session.flush()
        position += 1
        by_key[key] = row
        by_guid[code.guid.lower()] = row
        mapped[code.guid] = row.id
        key_of[code.guid] = key
        report.count("codes added")
    return mapped


def _colour(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        return value.lower()
    if re.fullmatch(r"#[0-9a-fA-F]{3}", value):
        return "#" + "".join(c * 2 for c in value[1:]).lower()
    return None


def _store_project(session: Session, project_id: int, ex: Exchange, codes: dict[str, int], report: ImportReport,
                   recordings: dict[str, dict[str, Any]]) -> None:
    from chimeqda.ingest.build import build_document
    from chimeqda.ingest.speakers import find_text_turns
    from chimeqda.interop.recordings import apply_timing
    from chimeqda.services.importing import ParticipantRow, store_document, upsert_participants
    from chimeqda.services.project import coder_row, human

    # participants (cases)
    people = [ParticipantRow(label=c.name, files=(), attributes=dict(c.attributes)) for c in ex.cases]
    by_label = upsert_participants(session, project_id, people)
    report.count("cases", len(people))
    case_of_source: dict[str, str] = {}
    for case in ex.cases:
        for guid in case.sources:
            if guid in case_of_source and case_of_source[guid] != case.name:
                report.skipped.append(
                    f"source {guid} belongs to cases {case_of_source[guid]!r} and {case.name!r}; "
                    f"chimeqda links a document to one participant, kept {case_of_source[guid]!r}"
                )
                continue
            case_of_source[guid] = case.name

    users: dict[str | None, int] = {}

    def user_id(guid: str | None) -> int:
        if guid not in users:
            name = ex.users.get(guid or "", "") or (f"{ex.origin} user" if ex.origin else "imported")
            users[guid] = coder_row(session, human(name)).id
        return users[guid]

    doc_ids: dict[str, int] = {}
    coding_ids: dict[tuple[str, int], int] = {}
    for src in ex.sources:
        sha = hashlib.sha256(src.text.encode("utf-8", "surrogatepass")).hexdigest()
        raw_turns = src.turns if src.turns is not None else find_text_turns(src.text)
        parsed = build_document(src.name, src.text, raw_turns, source_format=src.fmt, sha256=sha)
        label = case_of_source.get(src.guid)
        participant = by_label.get(label) if label else None
        if src.variables:
            if participant is not None:
                participant.attributes = {**src.variables, **(participant.attributes or {})}
            else:
                report.remarks.append(
                    f"source {src.name!r} has variables but no case; they are kept with the document "
                    "(not as participant attributes)"
                )
        outcome = store_document(session, project_id, parsed, participant)
        if src.variables and participant is None:
            doc = session.get(t.Document, outcome.document_id)
            doc.meta = {**(doc.meta or {}), "variables": src.variables}
        doc_ids[src.guid] = outcome.document_id
        if src.timing is not None or src.guid in recordings:
            apply_timing(session, outcome.document_id, src, recordings.get(src.guid), report)
        report.count("sources" if outcome.status == "imported" else f"sources ({outcome.status})")
        existing = _accepted_spans(session, outcome.document_id)
        segment_at = dict(
            ((s, e), i) for i, s, e in session.execute(
                select(t.Segment.id, t.Segment.start, t.Segment.end).where(t.Segment.document_id == outcome.document_id)
            )
        )
        for index, coding in enumerate(src.codings):
            code_id = codes.get(coding.code)
            if code_id is None:
                report.skipped.append(
                    f"a coding in {src.name!r} at {coding.start}–{coding.end} refers to the unknown code {coding.code}"
                )
                continue
            span = (coding.start, coding.end, code_id)
            if existing.get(span):  # each coding already in the project matches one coding of the file
                coding_ids[(src.guid, index)] = existing[span].pop(0)
                report.count("codings already present")
                continue
            event_id = _store_coding(session, project_id, outcome.document_id, segment_at, coding, code_id,
                                     user_id(coding.user))
            coding_ids[(src.guid, index)] = event_id
            report.count("codings")

    # memos
    targets: dict[tuple[str, str], tuple[str, int | None]] = {}
    for guid, doc_id in doc_ids.items():
        targets[("source", guid)] = ("document", doc_id)
    for guid, code_id in codes.items():
        targets[("code", guid)] = ("code", code_id)
    for case in ex.cases:
        if case.name in by_label:
            targets[("case", case.guid)] = ("participant", by_label[case.name].id)
    coding_by_guid = {}
    for src in ex.sources:
        for index, coding in enumerate(src.codings):
            for note in coding.notes:
                if (src.guid, index) in coding_ids:
                    coding_by_guid.setdefault(note, []).append(coding_ids[(src.guid, index)])
    question = session.scalar(select(t.Project.research_question).where(t.Project.id == project_id)) or ""
    for note in ex.notes:
        if note.guid == "project-description":
            note = _without_known_question(note, question)
            if not note.text:
                continue
        places: list[tuple[str, int | None]] = []
        for kind, guid in note.targets:
            if kind == "project":
                places.append(("project", project_id))
            elif (kind, guid) in targets:
                places.append(targets[(kind, guid)])
            else:
                report.skipped.append(f"note {note.title!r} is attached to {kind} {guid}, which was not imported; "
                                      "it is kept as a project memo")
        places += [("coding", event_id) for event_id in coding_by_guid.get(note.guid, [])]
        if not places:
            places = [("project", project_id)]
        for target_type, target_id in dict.fromkeys(places):
            if _memo_exists(session, project_id, target_type, target_id, note.title, note.text):
                report.count("memos already present")
                continue
            session.add(t.Memo(project_id=project_id, target_type=target_type, target_id=target_id,
                               author_id=user_id(note.author) if note.author else None,
                               title=note.title[:300], text=note.text))
            report.count("memos")
    session.flush()


def _without_known_question(note: XNote, question: str) -> XNote:
    """The project description less its "Research question: …" paragraph when the project already has that question."""
    known = f"Research question: {' '.join(question.split())}"
    kept = [p for p in note.text.split("\n\n") if not question or " ".join(p.split()) != known]
    return dataclasses.replace(note, text="\n\n".join(kept).strip())


def _accepted_spans(session: Session, document_id: int) -> dict[tuple[int, int, int], list[int]]:
    rows = session.execute(
        select(t.CodingEvent.start, t.CodingEvent.end, t.CodingEvent.code_id, t.CodingEvent.id).where(
            t.CodingEvent.document_id == document_id, current_coding()
        )
    ).all()
    spans: dict[tuple[int, int, int], list[int]] = {}
    for start, end, code_id, event_id in rows:
        spans.setdefault((start, end, code_id), []).append(event_id)
    return spans


def _store_coding(session: Session, project_id: int, document_id: int, segment_at: dict, coding: XCoding,
                  code_id: int, person_id: int) -> int:
    """An accepted coding; with chimeqda provenance, the machine suggestion it accepted as well."""
    from chimeqda.services.project import coder_row

    _, data = parse_chimeqda_line(coding.description)
    segment_id = segment_at.get((coding.start, coding.end))
    common = dict(project_id=project_id, document_id=document_id, segment_id=segment_id, start=coding.start,
                  end=coding.end, code_id=code_id)
    decides = None
    score = None
    machine = data.get("suggested_by")
    if isinstance(machine, dict) and machine.get("name"):
        info = CoderInfo(kind="machine", name=str(machine["name"]), version=str(machine.get("version") or ""),
                         params=machine.get("params") if isinstance(machine.get("params"), dict) else {})
        score = data.get("score") if isinstance(data.get("score"), (int, float)) else None
        suggestion = t.CodingEvent(**common, coder_id=coder_row(session, info).id, action="suggested", score=score,
                                   evidence=str(data.get("evidence") or "")[:2000], run_id=data.get("run"))
        session.add(suggestion)
        session.flush()
        decides = suggestion.id
    event = t.CodingEvent(**common, coder_id=person_id, action="accepted", decides_id=decides, score=score)
    session.add(event)
    session.flush()
    return event.id


def _memo_exists(session: Session, project_id: int, target_type: str, target_id: int | None, title: str,
                 text: str) -> bool:
    return bool(session.scalar(
        select(func.count()).select_from(t.Memo).where(
            t.Memo.project_id == project_id, t.Memo.target_type == target_type, t.Memo.target_id == target_id,
            t.Memo.title == title[:300], t.Memo.text == text,
        )
    ))
