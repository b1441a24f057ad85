"""Write a project as a REFI-QDA project (``.qdpx``) or its codebook as ``.qdc``.

The ``.qdpx`` is a zip with ``project.qde`` and ``sources/<guid>.txt`` (UTF-8,
no BOM, ``\\n`` line ends; positions are Unicode code points into that text,
end exclusive). Only accepted codings of current document versions are
exported; machine provenance goes into the selection's ``Description`` (see
docs/interop.md). Every XML file is checked against the official schema
before it is written.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import shutil
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import and_, select
from sqlalchemy.orm import aliased

from chimeqda import __version__
from chimeqda.interop.exchange import CHIMEQDA_LINE, code_description
from chimeqda.interop.guids import code_guid, object_guid, project_namespace, user_guid
from chimeqda.media_files import media_info, media_path
from chimeqda.store import tables as t
from chimeqda.store.queries import current_coding, first_codebook_id

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
SCHEMAS = Path(__file__).parent / "schemas"
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_RGB = re.compile(r"^#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
MAX_SETS_PER_ATTRIBUTE = 8
WORDS_SUFFIX = ".words.json"


@lru_cache(maxsize=2)
def schema(kind: str) -> etree.XMLSchema:
    """The official schema, ``project`` or ``codebook``."""
    name = {"project": "Project.xsd", "codebook": "Codebook.xsd"}[kind]
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name)))


def _clean(text: Any) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _when(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _el(parent, tag: str, ns: str, attrs: dict[str, Any] | None = None, text: str | None = None):
    el = etree.SubElement(parent, f"{{{ns}}}{tag}")
    for key, value in (attrs or {}).items():
        if value is not None:
            el.set(key, _clean(value))
    if text is not None:
        el.text = _clean(text)
    return el


def _serialise(root, kind: str) -> bytes:
    data = etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True, standalone=True)
    checker = schema(kind)
    if not checker.validate(etree.fromstring(data)):
        raise RuntimeError(f"chimeqda produced an invalid REFI-QDA {kind} file: {checker.error_log.last_error}")
    return data


# ---------------------------------------------------------------- codebook


def _code_description(code: t.Code) -> str:
    data = code.data or {}
    extra = {"id": code.key}
    for key in ("examples", "counter_examples"):
        if data.get(key):
            extra[key] = data[key]
    for key in ("keywords", "translations"):
        if data.get(key):
            extra[key] = data[key]
    text = code_description(code.definition or "", code.inclusion or "", code.exclusion or "")
    return (text + "\n\n" if text else "") + CHIMEQDA_LINE + " " + json.dumps(extra, ensure_ascii=False, sort_keys=True)


def _codes_tree(parent_el, ns: str, book: t.Codebook, codes: list[t.Code], coded: set[int],
                notes_for: dict[int, list[str]] | None) -> None:
    children: dict[str | None, list[t.Code]] = {}
    keys = {c.key for c in codes}
    for code in codes:
        parent = code.parent_key if code.parent_key in keys else None
        children.setdefault(parent, []).append(code)

    def add(container, code: t.Code) -> None:
        kids = children.get(code.key, [])
        codable = (code.data or {}).get("codable")
        if codable is None:
            codable = not (kids and code.id not in coded)
        el = _el(container, "Code", ns, {
            "guid": code_guid(book.key, code.key), "name": code.name, "isCodable": "true" if codable else "false",
            "color": code.color if code.color and _RGB.match(code.color) else None,
        })
        _el(el, "Description", ns, text=_code_description(code))
        for note in (notes_for or {}).get(code.id, []):
            _el(el, "NoteRef", ns, {"targetGUID": note})
        for kid in kids:
            add(el, kid)

    for code in children.get(None, []):
        add(parent_el, code)


def _code_sets(parent_el, ns: str, book: t.Codebook, codes: list[t.Code], member_attr: str) -> int:
    """One set per top-level code that has sub-codes: the code family."""
    keys = {c.key for c in codes}
    count = 0
    for top in (c for c in codes if c.parent_key not in keys):
        family = [top.key] + _descendants(top.key, codes)
        if len(family) < 2:
            continue
        ns_set = _el(parent_el, "Set", ns, {"guid": object_guid(project_namespace(book.key), "code-set", top.key),
                                            "name": f"{book.name}: {top.name}"})
        _el(ns_set, "Description", ns, text=f"The code {top.name!r} and its sub-codes.")
        for key in family:
            _el(ns_set, "MemberCode", ns, {member_attr: code_guid(book.key, key)})
        count += 1
    return count


def _descendants(key: str, codes: list[t.Code]) -> list[str]:
    found = []
    for code in codes:
        if code.parent_key == key:
            found.append(code.key)
            found += _descendants(code.key, codes)
    return found


def _book_and_codes(session, project_id: int) -> tuple[t.Codebook, list[t.Code]]:
    book = session.get_one(t.Codebook, first_codebook_id(session, project_id))
    codes = list(session.scalars(select(t.Code).where(t.Code.codebook_id == book.id).order_by(t.Code.position)))
    return book, codes


def codebook_xml(session, project_id: int) -> bytes:
    """The project's codebook as a REFI-QDA ``.qdc`` document (validated)."""
    book, codes = _book_and_codes(session, project_id)
    root = etree.Element(f"{{{CODEBOOK_NS}}}CodeBook", nsmap={None: CODEBOOK_NS})
    root.set("origin", f"chimeqda {__version__}")
    codes_el = _el(root, "Codes", CODEBOOK_NS)
    _codes_tree(codes_el, CODEBOOK_NS, book, codes, _coded_code_ids(session, project_id), None)
    sets = etree.Element(f"{{{CODEBOOK_NS}}}Sets")
    if _code_sets(sets, CODEBOOK_NS, book, codes, "guid"):
        root.append(sets)
    return _serialise(root, "codebook")


def export_qdc(ws, out: Path | str) -> Path:
    """Write the project's codebook as a REFI-QDA ``.qdc`` file."""
    out = Path(out)
    with ws.session() as session:
        data = codebook_xml(session, ws.project_id)
    out.write_bytes(data)
    return out


def _coded_code_ids(session, project_id: int) -> set[int]:
    return set(session.scalars(select(t.CodingEvent.code_id).where(t.CodingEvent.project_id == project_id).distinct()))


# ---------------------------------------------------------------- project


def _variable_type(values: list[Any]) -> str:
    values = [v for v in values if v is not None and v != ""]
    if values and all(isinstance(v, bool) for v in values):
        return "Boolean"
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "Integer"
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return "Float"
    return "Text"


def _value_element(kind: str, value: Any) -> tuple[str, str]:
    if kind == "Boolean":
        return "BooleanValue", "true" if value else "false"
    if kind == "Integer":
        return "IntegerValue", str(int(value))
    if kind == "Float":
        return "FloatValue", format(Decimal(repr(float(value))), "f")
    return "TextValue", str(value)


def _accepted_codings(session, project_id: int):
    event = aliased(t.CodingEvent)
    suggestion = aliased(t.CodingEvent)
    machine = aliased(t.Coder)
    query = (
        select(event, t.Coder, suggestion, machine)
        .join(t.Document, t.Document.id == event.document_id)
        .join(t.Coder, t.Coder.id == event.coder_id)
        .outerjoin(suggestion, and_(suggestion.id == event.decides_id, suggestion.action == "suggested"))
        .outerjoin(machine, machine.id == suggestion.coder_id)
        .where(event.project_id == project_id, current_coding(event), t.Document.is_current.is_(True))
        .order_by(event.document_id, event.start, event.end, event.id)
    )
    return session.execute(query).all()


def _provenance(person: t.Coder, suggestion: t.CodingEvent | None, machine: t.Coder | None) -> str:
    if suggestion is None or machine is None:
        return ""
    shown = ", ".join(f"{k}={v}" for k, v in sorted((machine.params or {}).items()) if not isinstance(v, (dict, list)))
    score = f" with score {suggestion.score:.3f}" if suggestion.score is not None else ""
    sentence = (f"Suggested by the chimeqda machine coder {machine.name} {machine.version}"
                f"{' (' + shown + ')' if shown else ''}{score}; accepted by {person.name}.")
    data = {"suggested_by": {"name": machine.name, "version": machine.version, "params": machine.params or {}},
            "score": suggestion.score, "run": suggestion.run_id}
    if suggestion.evidence:
        data["evidence"] = suggestion.evidence
    return sentence + "\n" + CHIMEQDA_LINE + " " + json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)


def project_package(session, project_id: int, directory: Path | None = None,
                    recordings: bool = True) -> tuple[bytes, dict[str, Any]]:
    """``project.qde`` (validated) and the files of ``sources/`` by name: texts (str), word
    probabilities (bytes) and recordings (a Path in the project folder ``directory``; none
    without ``recordings``)."""
    project = session.get(t.Project, project_id)
    ns = project_namespace(project.name)
    book, codes = _book_and_codes(session, project_id)
    docs = list(session.scalars(
        select(t.Document).where(t.Document.project_id == project_id, t.Document.is_current.is_(True))
        .order_by(t.Document.name)
    ))
    people = list(session.scalars(select(t.Participant).where(t.Participant.project_id == project_id)
                                  .order_by(t.Participant.label)))
    memos = list(session.scalars(select(t.Memo).where(t.Memo.project_id == project_id).order_by(t.Memo.id)))
    codings = _accepted_codings(session, project_id)
    coders = {c.id: c for c in session.scalars(select(t.Coder))}

    doc_guid = {d.id: object_guid(ns, "document", f"{d.name}:v{d.version}") for d in docs}
    person_guid = {p.id: object_guid(ns, "participant", p.label) for p in people}
    memo_guid = {m.id: object_guid(ns, "memo", m.id) for m in memos}
    users: dict[int, t.Coder] = {}
    for _, person, _, _ in codings:
        users[person.id] = person
    for memo in memos:
        if memo.author_id in coders:
            users[memo.author_id] = coders[memo.author_id]

    root = etree.Element(f"{{{PROJECT_NS}}}Project", nsmap={None: PROJECT_NS})
    root.set("name", _clean(project.name))
    root.set("origin", f"chimeqda {__version__}")
    if _when(project.created_at):
        root.set("creationDateTime", _when(project.created_at))

    if users:
        users_el = _el(root, "Users", PROJECT_NS)
        for coder in sorted(users.values(), key=lambda c: (c.kind, c.name)):
            label = coder.name if coder.kind == "human" else f"{coder.name} {coder.version} (chimeqda machine coder)"
            _el(users_el, "User", PROJECT_NS, {"guid": user_guid(coder.kind, coder.name), "name": label})

    notes_for: dict[tuple[str, int | None], list[str]] = {}
    for memo in memos:
        notes_for.setdefault((memo.target_type, memo.target_id), []).append(memo_guid[memo.id])

    if codes:
        book_el = _el(root, "CodeBook", PROJECT_NS)
        codes_el = _el(book_el, "Codes", PROJECT_NS)
        code_notes = {cid: guids for (kind, cid), guids in notes_for.items() if kind == "code" and cid is not None}
        _codes_tree(codes_el, PROJECT_NS, book, codes, _coded_code_ids(session, project_id), code_notes)

    # variables: participant attributes
    names: dict[str, list[Any]] = {}
    for person in people:
        for key, value in (person.attributes or {}).items():
            names.setdefault(str(key), []).append(value)
    var_type = {name: _variable_type(values) for name, values in names.items()}
    var_guid = {name: object_guid(ns, "variable", name) for name in names}
    if names:
        vars_el = _el(root, "Variables", PROJECT_NS)
        for name in sorted(names):
            _el(vars_el, "Variable", PROJECT_NS,
                {"guid": var_guid[name], "name": name, "typeOfVariable": var_type[name]})

    docs_of: dict[int, list[t.Document]] = {}
    for doc in docs:
        if doc.participant_id is not None:
            docs_of.setdefault(doc.participant_id, []).append(doc)
    if people:
        cases_el = _el(root, "Cases", PROJECT_NS)
        for person in people:
            case = _el(cases_el, "Case", PROJECT_NS, {"guid": person_guid[person.id], "name": person.label})
            for key in sorted(person.attributes or {}):
                value = person.attributes[key]
                if value is None or value == "" or (isinstance(value, float) and not math.isfinite(value)):
                    continue
                vv = _el(case, "VariableValue", PROJECT_NS)
                _el(vv, "VariableRef", PROJECT_NS, {"targetGUID": var_guid[str(key)]})
                tag, text = _value_element(var_type[str(key)], value)
                _el(vv, tag, PROJECT_NS, text=text)
            for doc in docs_of.get(person.id, []):
                _el(case, "SourceRef", PROJECT_NS, {"targetGUID": doc_guid[doc.id]})

    texts: dict[str, Any] = {}
    by_doc: dict[int, list] = {}
    for row in codings:
        by_doc.setdefault(row[0].document_id, []).append(row)

    def coded_selection(parent, tag: str, row, attrs: dict[str, Any]) -> None:
        """A selection element (``tag``) with its provenance and one coding of ``row``."""
        event, person, suggestion, machine = row
        sel = _el(parent, tag, PROJECT_NS, {"guid": object_guid(ns, "selection", event.id), **attrs,
                                            "creatingUser": user_guid(person.kind, person.name),
                                            "creationDateTime": _when(event.created_at)})
        provenance = _provenance(person, suggestion, machine)
        if provenance:
            _el(sel, "Description", PROJECT_NS, text=provenance)
        code = next((c for c in codes if c.id == event.code_id), None)
        coding = _el(sel, "Coding", PROJECT_NS, {
            "guid": object_guid(ns, "coding", event.id),
            "creatingUser": user_guid(person.kind, person.name),
            "creationDateTime": _when(event.created_at),
        })
        _el(coding, "CodeRef", PROJECT_NS, {"targetGUID": code_guid(book.key, code.key) if code else
                                            object_guid(ns, "code", event.code_id)})
        for note in notes_for.get(("coding", event.id), []):
            _el(coding, "NoteRef", PROJECT_NS, {"targetGUID": note})

    def excerpt(doc: t.Document, event: t.CodingEvent) -> str:
        text = doc.text[event.start:event.end]
        return text if len(text) <= 80 else text[:77] + "…"

    if docs:
        sources_el = _el(root, "Sources", PROJECT_NS)
        for doc in docs:
            guid = doc_guid[doc.id]
            texts[f"{guid}.txt"] = doc.text
            recording = media_path(directory, doc.meta) if recordings else None
            if recording is not None:
                texts[f"{guid}{recording.suffix}"] = recording
                texts.update(audio_source(sources_el, ns, session, doc, guid, recording, by_doc.get(doc.id, []),
                                          notes_for.get(("document", doc.id), []), coded_selection, excerpt))
                continue
            src = _el(sources_el, "TextSource", PROJECT_NS, {
                "guid": guid, "name": doc.name, "plainTextPath": f"internal://{guid}.txt",
                "creationDateTime": _when(doc.imported_at),
            })
            missing = media_info(doc.meta)
            _el(src, "Description", PROJECT_NS,
                text=f"Language: {doc.language}; version {doc.version}; imported from {doc.source_format}." + (
                    "" if not missing else " Its recording was left out of this export." if not recordings else
                    f" Its recording ({missing['file']}) was not in the project folder and is not included."))
            for row in by_doc.get(doc.id, []):
                event = row[0]
                coded_selection(src, "PlainTextSelection", row, {
                    "name": excerpt(doc, event), "startPosition": event.start, "endPosition": event.end})
            for note in notes_for.get(("document", doc.id), []):
                _el(src, "NoteRef", PROJECT_NS, {"targetGUID": note})

    if memos:
        notes_el = _el(root, "Notes", PROJECT_NS)
        for memo in memos:
            author = coders.get(memo.author_id)
            note = _el(notes_el, "Note", PROJECT_NS, {
                "guid": memo_guid[memo.id], "name": memo.title or None,
                "creatingUser": user_guid(author.kind, author.name) if author else None,
                "creationDateTime": _when(memo.created_at),
            })
            _el(note, "PlainTextContent", PROJECT_NS, text=memo.text)

    links = [(m, person_guid[m.target_id]) for m in memos if m.target_type == "participant" and m.target_id in person_guid]
    if links:
        links_el = _el(root, "Links", PROJECT_NS)
        for memo, target in links:
            _el(links_el, "Link", PROJECT_NS, {
                "guid": object_guid(ns, "link", memo.id), "name": "Memo about a case", "direction": "OneWay",
                "originGUID": memo_guid[memo.id], "targetGUID": target,
            })

    sets_el = etree.Element(f"{{{PROJECT_NS}}}Sets")
    n_sets = _code_sets(sets_el, PROJECT_NS, book, codes, "targetGUID") if codes else 0
    n_sets += _attribute_sets(sets_el, ns, people, docs_of, doc_guid)
    if n_sets:
        root.append(sets_el)

    description = "\n\n".join(p for p in (project.description, project.research_question and
                                          f"Research question: {project.research_question}") if p)
    if description:
        _el(root, "Description", PROJECT_NS, text=description)
    for note in notes_for.get(("project", project_id), []) + notes_for.get(("project", None), []):
        _el(root, "NoteRef", PROJECT_NS, {"targetGUID": note})
    # unattached memo kinds (e.g. on a superseded document) stay reachable as plain notes
    return _serialise(root, "project"), texts


def _attribute_sets(parent_el, ns, people, docs_of, doc_guid) -> int:
    """Document sets by participant attribute value (for tools that group sources, not cases)."""
    groups: dict[str, dict[str, list[str]]] = {}
    for person in people:
        for key, value in (person.attributes or {}).items():
            if isinstance(value, (str, bool)) and value != "" and len(str(value)) <= 40:
                members = groups.setdefault(str(key), {}).setdefault(str(value), [])
                members += [doc_guid[d.id] for d in docs_of.get(person.id, [])]
    count = 0
    for key in sorted(groups):
        values = groups[key]
        if len(values) > MAX_SETS_PER_ATTRIBUTE:
            continue
        for value in sorted(values):
            if not values[value]:
                continue
            set_el = _el(parent_el, "Set", PROJECT_NS,
                         {"guid": object_guid(ns, "set", f"{key}={value}"), "name": f"{key} = {value}"})
            _el(set_el, "Description", PROJECT_NS, text=f"Documents of participants whose {key} is {value}.")
            for guid in values[value]:
                _el(set_el, "MemberSource", PROJECT_NS, {"targetGUID": guid})
            count += 1
    return count


# ---------------------------------------------------------------- recordings (AudioSource)


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def known_times(session, document_id: int) -> tuple[dict[int, float], list[list]]:
    """Seconds at text positions (sentence and turn edges) and all word probabilities of a document."""
    at: dict[int, float] = {}
    words: list[list] = []
    segments = session.execute(
        select(t.Segment.start, t.Segment.end, t.Segment.time_start, t.Segment.time_end, t.Segment.words)
        .where(t.Segment.document_id == document_id).order_by(t.Segment.index)
    ).all()
    for row in segments:
        if row.time_start is not None:
            at.setdefault(row.start, float(row.time_start))
        if row.time_end is not None:
            at.setdefault(row.end, float(row.time_end))
        words += [list(w) for w in (row.words or ())]
    for row in session.execute(select(t.Turn.start, t.Turn.end, t.Turn.time, t.Turn.time_end)
                               .where(t.Turn.document_id == document_id)):
        if row.time is not None:
            at.setdefault(row.start, float(row.time))
        if row.time_end is not None:
            at.setdefault(row.end, float(row.time_end))
    return at, words


def _turn_rows(session, document_id: int) -> list[list]:
    """``[start, end, body_start, speaker, role]`` per turn: a transcript's speakers need not be in its text."""
    bodies: dict[int, int] = {}
    for turn_index, start in session.execute(select(t.Segment.turn, t.Segment.start)
                                              .where(t.Segment.document_id == document_id)):
        bodies[turn_index] = min(start, bodies.get(turn_index, start))
    turns = session.scalars(select(t.Turn).where(t.Turn.document_id == document_id).order_by(t.Turn.index))
    return [[turn.start, turn.end, bodies.get(turn.index, turn.start), turn.speaker, turn.role] for turn in turns]


def estimate(at: dict[int, float], position: int) -> float | None:
    """A time for a text position between known ones (linear in characters), or None without any."""
    if not at:
        return None
    positions = sorted(at)
    i = bisect.bisect_left(positions, position)
    if i < len(positions) and positions[i] == position:
        return at[position]
    if i == 0:
        return at[positions[0]]
    if i == len(positions):
        return at[positions[-1]]
    a, b = positions[i - 1], positions[i]
    return at[a] + (at[b] - at[a]) * (position - a) / (b - a)


def audio_source(parent, ns, session, doc: t.Document, guid: str, recording: Path, rows: list, notes: list[str],
                 coded_selection, excerpt) -> dict[str, bytes]:
    """Add the ``AudioSource`` of a recorded document to ``parent``; returns extra archive files (words)."""
    media = media_info(doc.meta) or {}
    at, words = known_times(session, doc.id)
    wanted = {pos for row in rows for pos in (row[0].start, row[0].end)}
    estimated = sorted(pos for pos in wanted if pos not in at)
    times = dict(at)
    for position in estimated:
        guess = estimate(at, position)
        if guess is not None:
            times[position] = guess
    suffix = Path(media.get("file", recording.name)).suffix
    extra: dict[str, bytes] = {}
    data: dict[str, Any] = {"media": {k: v for k, v in media.items() if k != "file"}, "estimated": estimated}
    if (doc.meta or {}).get("transcription"):
        data["transcription"] = doc.meta["transcription"]
    data["turns"] = _turn_rows(session, doc.id)
    if words:
        data["words"] = f"{guid}{WORDS_SUFFIX}"
        extra[data["words"]] = json.dumps(words, separators=(",", ":")).encode("utf-8")
    src = _el(parent, "AudioSource", PROJECT_NS, {
        "guid": guid, "name": doc.name, "path": f"internal://{guid}{suffix}",
        "creationDateTime": _when(doc.imported_at),
    })
    duration = media.get("duration")
    shown = f" ({duration:.1f} s)" if isinstance(duration, (int, float)) else ""
    human = (f"Language: {doc.language}; version {doc.version}; recording "
             f"{media.get('original_name') or recording.name}{shown}, transcript and sync points by chimeqda.")
    _el(src, "Description", PROJECT_NS,
        text=human + "\n" + CHIMEQDA_LINE + " " + json.dumps(data, ensure_ascii=False, sort_keys=True, default=str))
    transcript = _el(src, "Transcript", PROJECT_NS, {
        "guid": object_guid(ns, "transcript", f"{doc.name}:v{doc.version}"), "name": doc.name,
        "plainTextPath": f"internal://{guid}.txt", "creationDateTime": _when(doc.imported_at),
    })
    sync_guid = {}
    for position in sorted(set(times) | wanted):
        sync_guid[position] = object_guid(ns, "sync", f"{doc.id}:{position}")
        _el(transcript, "SyncPoint", PROJECT_NS, {
            "guid": sync_guid[position], "position": position,
            "timeStamp": _ms(times[position]) if position in times else None,
        })
    for row in rows:
        event = row[0]
        coded_selection(transcript, "TranscriptSelection", row, {
            "name": excerpt(doc, event), "fromSyncPoint": sync_guid[event.start], "toSyncPoint": sync_guid[event.end]})
    for note in notes:
        _el(src, "NoteRef", PROJECT_NS, {"targetGUID": note})
    return extra


def export_qdpx(ws, out: Path | str, *, recordings: bool = True) -> Path:
    """Write the project as a REFI-QDA ``.qdpx`` archive (``project.qde`` + ``sources/``).

    With ``recordings``, recorded interviews are audio sources with their recording (stored as they
    are, not compressed: sound hardly compresses); without, their transcripts are text sources.
    """
    out = Path(out)
    with ws.session() as session:
        qde, files = project_package(session, ws.project_id, ws.directory, recordings)
    tmp = out.with_name(out.name + ".part")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(zipfile.ZipInfo("project.qde", _ZIP_TIME), qde, compress_type=zipfile.ZIP_DEFLATED)
            for name in sorted(files):
                info = zipfile.ZipInfo(f"sources/{name}", _ZIP_TIME)
                content = files[name]
                if isinstance(content, Path):
                    info.compress_type = zipfile.ZIP_STORED
                    with content.open("rb") as source, archive.open(info, "w", force_zip64=True) as target:
                        shutil.copyfileobj(source, target, 1024 * 1024)
                    continue
                data = content.encode("utf-8") if isinstance(content, str) else content
                archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
