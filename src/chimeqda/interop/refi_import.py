"""Read REFI-QDA projects (``.qdpx``, ``.qde``) and codebooks (``.qdc``) leniently.

Files from other tools often break the standard; this reader accepts what it
safely can and notes the rest in the report:

- the ``.qde`` may have any name (ATLAS.ti names it after the project) and
  ``sources/`` any case (``Sources/``);
- ids need not be GUIDs (``c001``) — they are only matched with each other;
- texts may have a BOM and ``\\r\\n`` line ends: chimeqda stores them without
  BOM and with ``\\n``, and converts every position;
- positions are Unicode code points (the standard); when a file's positions
  only make sense counted another way (``\\r\\n`` as one character, UTF-16
  code units, a BOM counted as a character) and the selections' names agree,
  that counting is used and the report says so;
- an audio source with a transcript is read with its recording, sync
  points and codings (:mod:`~chimeqda.interop.refi_audio`);
- picture, PDF and video sources, audio without a transcript, case codings, links other than notes
  about cases, sets and graphs have no place in chimeqda and are reported.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from chimeqda.errors import ImportRejected
from chimeqda.interop.exchange import Exchange, XCase, XCode, XCoding, XNote, XSource
from chimeqda.interop.refi_audio import read_audio_source
from chimeqda.interop.safety import SafeZip, open_zip, parse_xml, read_limited
from chimeqda.interop.text import decode_source, position_schemes

MAX_FILE = 512 * 1024 * 1024


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def _child(el: Element, name: str) -> Element | None:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _text(el: Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def _id(value: str | None) -> str:
    return (value or "").strip().strip("{}").lower()


def read_refi(path: Path) -> Exchange:
    """Read a ``.qdpx``, ``.qde`` or ``.qdc`` file into an :class:`Exchange` (nothing is stored)."""
    suffix = path.suffix.lower()
    if suffix == ".qdpx":
        archive = open_zip(path)
        try:
            qde = _find_qde(archive)
            root = parse_xml(archive.read(qde), f"{path.name}/{qde}")
            ex = _read_project(root, path.name, lambda ref: _source_from_zip(archive, qde, ref),
                               lambda ref: _member_in_zip(archive, qde, ref))
            ex.archive = path
            return ex
        finally:
            archive.close()
    root = parse_xml(read_limited(path, MAX_FILE), path.name)
    if suffix == ".qdc" or _local(root.tag) == "CodeBook":
        return _read_codebook(root, path.name)
    base = path.parent

    def from_folder(ref: str) -> tuple[bytes | None, str]:
        scheme, rest = _split_ref(ref)
        if scheme != "internal":
            return None, f"{scheme} paths are never read"
        for folder in ("sources", "Sources"):
            candidate = base / folder / rest
            if candidate.is_file() and candidate.resolve().is_relative_to(base.resolve()):
                return read_limited(candidate, MAX_FILE), ""
        return None, "the file is missing beside the .qde"

    return _read_project(root, path.name, from_folder)


def _find_qde(archive: SafeZip) -> str:
    top = [n for n in archive.names if n.lower().endswith(".qde") and "/" not in n.strip("/")]
    if not top:
        top = [n for n in archive.names if n.lower().endswith(".qde")]
    if not top:
        raise ImportRejected("the archive holds no .qde project file; is it a REFI-QDA project?", source=archive.source)
    preferred = [n for n in top if n.lower() == "project.qde"]
    return (preferred or sorted(top))[0]


def _split_ref(ref: str) -> tuple[str, str]:
    if "://" in ref:
        scheme, rest = ref.split("://", 1)
        return scheme.lower(), rest.lstrip("/")
    return "relative", ref


def _member_in_zip(archive: SafeZip, qde: str, ref: str) -> tuple[str, int] | None:
    """The archive member an ``internal://`` path names, and its size (not read)."""
    scheme, rest = _split_ref(ref)
    if scheme != "internal":
        return None
    folder = qde.rsplit("/", 1)[0] + "/" if "/" in qde else ""
    for candidate in (f"{folder}sources/{rest}", f"sources/{rest}", rest):
        name = archive.find(candidate)
        if name is not None:
            return name, archive.archive.getinfo(name).file_size
    return None


def _source_from_zip(archive: SafeZip, qde: str, ref: str) -> tuple[bytes | None, str]:
    scheme, rest = _split_ref(ref)
    if scheme != "internal":
        return None, f"{scheme}:// paths point outside the archive and are never read"
    folder = qde.rsplit("/", 1)[0] + "/" if "/" in qde else ""
    for candidate in (f"{folder}sources/{rest}", f"sources/{rest}", rest):
        name = archive.find(candidate)
        if name is not None:
            return archive.read(name), ""
    return None, "the file is missing from the archive"


# ---------------------------------------------------------------- codebook


def _codes(container: Element | None, parent: str | None, out: list[XCode], seen: set[str], source: str,
           skipped: list[str]) -> None:
    if container is None:
        return
    for el in _children(container, "Code"):
        guid = _id(el.get("guid"))
        name = (el.get("name") or "").strip()
        if not guid or guid in seen:
            skipped.append(f"code {name!r}: {'no guid' if not guid else 'duplicate guid ' + guid}; its sub-codes "
                           "and codings are skipped too")
            continue
        seen.add(guid)
        out.append(XCode(guid=guid, name=name or guid, parent=parent,
                         codable=(el.get("isCodable") or "true").strip().lower() in ("true", "1"),
                         color=el.get("color"), description=_text(_child(el, "Description"))))
        _codes(el, guid, out, seen, source, skipped)


def _read_codebook(root: Element, source: str) -> Exchange:
    ex = Exchange(source=source, kind="codebook", origin=root.get("origin") or "")
    codes_el = _child(root, "Codes")
    if _local(root.tag) != "CodeBook" or codes_el is None:
        raise ImportRejected("this is not a REFI-QDA codebook (no CodeBook/Codes element)", source=source)
    _codes(codes_el, None, ex.codes, set(), source, ex.skipped)
    _note_sets(root, ex)
    return ex


def _note_sets(root: Element, ex: Exchange) -> None:
    sets = _child(root, "Sets")
    if ex.origin.startswith("chimeqda") and sets is not None:
        ex.remarks.append(f"{len(_children(sets, 'Set'))} sets written by chimeqda (code families, attribute "
                          "groups) were not needed: they follow from codes and participant attributes")
        return
    for el in _children(sets, "Set") if sets is not None else []:
        ex.skipped.append(f"set {el.get('name')!r} ({len(list(el))} members): chimeqda has no sets; "
                          "its members are imported on their own")


# ---------------------------------------------------------------- project


def _variable_value(vv: Element) -> tuple[str, Any] | None:
    ref = _child(vv, "VariableRef")
    if ref is None:
        return None
    for el in vv:
        tag = _local(el.tag)
        text = (el.text or "").strip()
        if tag == "BooleanValue":
            return _id(ref.get("targetGUID")), text.lower() in ("true", "1")
        if tag == "IntegerValue":
            try:
                return _id(ref.get("targetGUID")), int(text)
            except ValueError:
                return _id(ref.get("targetGUID")), text
        if tag == "FloatValue":
            try:
                return _id(ref.get("targetGUID")), float(text)
            except ValueError:
                return _id(ref.get("targetGUID")), text
        if tag in ("TextValue", "DateValue", "DateTimeValue"):
            return _id(ref.get("targetGUID")), text
    return None


def _read_project(root: Element, source: str, load: Callable[[str], tuple[bytes | None, str]],
                  member_of: Callable[[str], tuple[str, int] | None] = lambda ref: None) -> Exchange:
    if _local(root.tag) != "Project":
        raise ImportRejected("this is not a REFI-QDA project (the root element is not Project)", source=source)
    ex = Exchange(source=source, kind="project", origin=root.get("origin") or "", name=root.get("name") or "")
    users = _child(root, "Users")
    for el in _children(users, "User") if users is not None else []:
        ex.users[_id(el.get("guid"))] = (el.get("name") or el.get("id") or "").strip()
    book = _child(root, "CodeBook")
    _codes(_child(book, "Codes") if book is not None else None, None, ex.codes, set(), source, ex.skipped)
    code_guids = {c.guid for c in ex.codes}

    variables: dict[str, str] = {}
    vars_el = _child(root, "Variables")
    for el in _children(vars_el, "Variable") if vars_el is not None else []:
        variables[_id(el.get("guid"))] = (el.get("name") or el.get("guid") or "").strip()

    notes_targets: dict[str, list[tuple[str, str]]] = {}

    def note_refs(el: Element, kind: str, guid: str) -> None:
        for ref in _children(el, "NoteRef"):
            notes_targets.setdefault(_id(ref.get("targetGUID")), []).append((kind, guid))

    def collect_code_notes(container: Element | None) -> None:
        for el in _children(container, "Code") if container is not None else []:
            note_refs(el, "code", _id(el.get("guid")))
            collect_code_notes(el)

    collect_code_notes(_child(book, "Codes") if book is not None else None)
    note_refs(root, "project", "")

    cases_el = _child(root, "Cases")
    labels: set[str] = set()
    for el in _children(cases_el, "Case") if cases_el is not None else []:
        guid = _id(el.get("guid"))
        label = (el.get("name") or guid or "case").strip()[:100]
        base, n = label, 2
        while label in labels:
            label = f"{base} ({n})"
            n += 1
        labels.add(label)
        case = XCase(guid=guid, name=label)
        for vv in _children(el, "VariableValue"):
            pair = _variable_value(vv)
            if pair is not None:
                case.attributes[variables.get(pair[0], pair[0])] = pair[1]
        case.sources = [_id(r.get("targetGUID")) for r in _children(el, "SourceRef")]
        if _children(el, "CodeRef"):
            ex.skipped.append(f"case {label!r}: {len(_children(el, 'CodeRef'))} code(s) applied to the whole case "
                              "(chimeqda codes text, not cases)")
        if _children(el, "SelectionRef") and not case.sources:
            ex.skipped.append(f"case {label!r}: linked to selections only, not to whole sources")
        if _text(_child(el, "Description")):
            case.attributes.setdefault("description", _text(_child(el, "Description")))
        ex.cases.append(case)

    sources_el = _child(root, "Sources")
    names: set[str] = set()
    for el in list(sources_el) if sources_el is not None else []:
        kind = _local(el.tag)
        name = (el.get("name") or el.get("guid") or "source").strip()
        if kind == "AudioSource":
            src = read_audio_source(el, name, _id(el.get("guid")), load, ex, note_refs, code_guids, member_of)
        elif kind != "TextSource":
            n = len(list(el.iter())) - 1
            ex.skipped.append(f"{kind} {name!r}: chimeqda imports text sources and transcribed recordings only "
                              f"({n} nested elements, including its selections and codings, skipped)")
            continue
        else:
            src = _text_source(el, name, load, code_guids, ex, note_refs)
        if src is None:
            continue
        base, n = src.name, 2
        while src.name in names:
            src.name = f"{Path(base).stem} ({n}){Path(base).suffix}"
            n += 1
        names.add(src.name)
        src.variables = {variables.get(k, k): v for k, v in src.variables.items()}
        ex.sources.append(src)

    known_sources = {s.guid for s in ex.sources}
    for case in ex.cases:
        case.sources = [g for g in case.sources if g in known_sources]

    notes_el = _child(root, "Notes")
    for el in _children(notes_el, "Note") if notes_el is not None else []:
        guid = _id(el.get("guid"))
        text = _text(_child(el, "PlainTextContent"))
        if not text and el.get("plainTextPath"):
            data, why = load(el.get("plainTextPath"))
            if data is None:
                ex.skipped.append(f"note {el.get('name')!r}: its text file could not be read ({why})")
                continue
            text = decode_source(data).text
        ex.notes.append(XNote(guid=guid, title=(el.get("name") or "").strip(), text=text,
                              author=_id(el.get("creatingUser")) or None, targets=notes_targets.get(guid, [])))

    case_guids = {c.guid for c in ex.cases}
    note_by_guid = {n.guid: n for n in ex.notes}
    codings_of: dict[str, list[XCoding]] = {}
    for src in ex.sources:
        for coding in src.codings:
            codings_of.setdefault(coding.selection, []).append(coding)
    links = _child(root, "Links")
    for el in _children(links, "Link") if links is not None else []:
        origin, target = _id(el.get("originGUID")), _id(el.get("targetGUID"))
        if origin in note_by_guid and target in case_guids:
            note_by_guid[origin].targets.append(("case", target))
        elif target in note_by_guid and origin in case_guids:
            note_by_guid[target].targets.append(("case", origin))
        elif origin in note_by_guid and target in codings_of:
            for coding in codings_of[target]:
                coding.notes.append(origin)
        else:
            ex.skipped.append(f"link {el.get('name')!r} from {origin} to {target}: chimeqda keeps only links "
                              "between a note and a case or a coded selection")
    _note_sets(root, ex)
    graphs = _child(root, "Graphs")
    for el in _children(graphs, "Graph") if graphs is not None else []:
        ex.skipped.append(f"graph {el.get('name')!r}: chimeqda has no graphs")
    description = _text(_child(root, "Description"))
    if description:
        ex.notes.append(XNote(guid="project-description", title="Project description (imported)", text=description,
                              targets=[("project", "")]))
    return ex


def _text_source(el: Element, name: str, load, code_guids: set[str], ex: Exchange, note_refs) -> XSource | None:
    guid = _id(el.get("guid"))
    inline = _child(el, "PlainTextContent")
    if inline is not None:
        raw = (inline.text or "").encode("utf-8")
    elif el.get("plainTextPath"):
        raw, why = load(el.get("plainTextPath"))
        if raw is None:
            ex.skipped.append(f"text source {name!r}: its text {el.get('plainTextPath')!r} was not read ({why}); "
                              f"{len(_children(el, 'PlainTextSelection'))} selections skipped")
            return None
    else:
        ex.skipped.append(f"text source {name!r}: it has only rich text (no plain text), which chimeqda cannot read")
        return None
    decoded = decode_source(raw)
    if decoded.bad_byte is not None:
        ex.remarks.append(f"{name!r}: its text file has bytes that are no text in its encoding (the first at "
                          f"byte {decoded.bad_byte}); each was kept as the replacement character \ufffd")
    selections = _children(el, "PlainTextSelection")
    spans = []
    for sel in selections:
        try:
            spans.append((int(sel.get("startPosition")), int(sel.get("endPosition")), sel.get("name") or ""))
        except (TypeError, ValueError):
            spans.append(None)
    scheme = position_schemes(decoded, [s for s in spans if s is not None])
    if scheme.name != "code points":
        ex.remarks.append(f"{name!r}: positions were counted as {scheme.name} by the other tool; converted")
    src = XSource(guid=guid, name=name, text=decoded.text)
    note_refs(el, "source", guid)
    for sel, span in zip(selections, spans):
        label = sel.get("name") or sel.get("guid")
        if span is None:
            ex.skipped.append(f"{name!r}: selection {label!r} has no valid start/end position")
            continue
        mapped = scheme.convert(span[0], span[1])
        if mapped is None:
            ex.skipped.append(f"{name!r}: selection {label!r} ({span[0]}–{span[1]}) lies outside the text "
                              f"({len(decoded.text)} characters)")
            continue
        start, end = mapped
        if start >= end:
            ex.skipped.append(f"{name!r}: selection {label!r} at {span[0]} is empty")
            continue
        selection_notes = [_id(r.get("targetGUID")) for r in _children(sel, "NoteRef")]
        description = _text(_child(sel, "Description"))
        codings = _children(sel, "Coding")
        if not codings:
            ex.skipped.append(f"{name!r}: selection {label!r} has no coding")
        for coding in codings:
            ref = _child(coding, "CodeRef")
            code = _id(ref.get("targetGUID")) if ref is not None else ""
            if code not in code_guids:
                ex.skipped.append(f"{name!r}: a coding of {label!r} refers to a code that is not in the codebook")
                continue
            notes = selection_notes + [_id(r.get("targetGUID")) for r in _children(coding, "NoteRef")]
            src.codings.append(XCoding(start=start, end=end, code=code,
                                       user=_id(coding.get("creatingUser") or sel.get("creatingUser")) or None,
                                       description=description, notes=notes, selection=_id(sel.get("guid"))))
    if _children(el, "Coding"):
        ex.skipped.append(f"{name!r}: {len(_children(el, 'Coding'))} coding(s) of the whole source "
                          "(chimeqda codes spans of text)")
    for vv in _children(el, "VariableValue"):
        pair = _variable_value(vv)
        if pair is not None:
            src.variables[pair[0]] = pair[1]
    return src
