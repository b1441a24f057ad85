"""Recorded interviews in REFI-QDA: an ``AudioSource`` with its ``Transcript`` and ``SyncPoint``s.

Export: the recording goes into the archive as ``sources/<guid>.<ext>``; the
transcript text is the document's text (``sources/<guid>.txt``); a sync point
ties a text position to a time in milliseconds at every sentence's start and
end and every turn's start and end; each coding is a ``TranscriptSelection``
from one sync point to another. A coding that starts or ends inside a
sentence gets its own sync point with a time estimated between its
neighbours; the ``chimeqda:`` line of the source's description lists those
positions, the recording's description (``documents.meta["media"]``, its
transcription provenance) and the archive file holding the word
probabilities, so chimeqda restores exactly what it exported.

Import reads the same back: text, codings (positions from their sync points),
times of sentences and turns (from the sync points at their edges), the
recording (streamed out of the archive under the zip limits of
:mod:`~chimeqda.interop.safety`) and the word probabilities.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from chimeqda.interop.exchange import XCoding, XSource, parse_chimeqda_line
from chimeqda.media_files import MEDIA_TYPES


@dataclass
class XMedia:
    """A recording inside an archive, not yet read: the member's name and what the file says about it."""

    member: str
    suffix: str
    size: int
    data: dict[str, Any] = field(default_factory=dict)  # meta["media"] as exported (without "file")
    transcription: dict[str, Any] | None = None


@dataclass
class Timing:
    """Times of a transcript: seconds at text positions, and the word probabilities."""

    at: dict[int, float] = field(default_factory=dict)
    words: list[list] | None = None


# ---------------------------------------------------------------- import


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def _guid(value: str | None) -> str:
    return (value or "").strip().strip("{}").lower()


def _int(value: str | None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def read_audio_source(el: Element, name: str, guid: str, load, ex, note_refs, code_guids: set[str],
                      member_of) -> XSource | None:
    """An ``AudioSource`` with a transcript as an :class:`XSource` (recording, times, codings), or None."""
    from chimeqda.interop.text import decode_source, position_schemes

    description = "".join(c.text or "" for c in _children(el, "Description"))
    _, data = parse_chimeqda_line(description)
    transcripts = _children(el, "Transcript")
    if not transcripts:
        ex.skipped.append(f"AudioSource {name!r}: it has no transcript, and chimeqda codes text")
        return None
    if len(transcripts) > 1:
        ex.skipped.append(f"AudioSource {name!r}: {len(transcripts) - 1} further transcript(s); the first is imported")
    transcript = transcripts[0]
    inline = _children(transcript, "PlainTextContent")
    if inline:
        raw = (inline[0].text or "").encode("utf-8")
    elif transcript.get("plainTextPath"):
        raw, why = load(transcript.get("plainTextPath"))
        if raw is None:
            ex.skipped.append(f"AudioSource {name!r}: its transcript {transcript.get('plainTextPath')!r} was not "
                              f"read ({why}); nothing of it is imported")
            return None
    else:
        ex.skipped.append(f"AudioSource {name!r}: its transcript has no plain text")
        return None
    decoded = decode_source(raw)
    if decoded.bad_byte is not None:
        ex.remarks.append(f"AudioSource {name!r}: its transcript has bytes that are no text in its encoding (the "
                          f"first at byte {decoded.bad_byte}); each was kept as the replacement character \ufffd")
    text = decoded.text
    estimated = {p for p in data.get("estimated", []) if isinstance(p, int)}
    written: dict[str, tuple[int, int | None]] = {}
    for point in _children(transcript, "SyncPoint"):
        position = _int(point.get("position"))
        if position is not None:
            written[_guid(point.get("guid"))] = (position, _int(point.get("timeStamp")))
    spans = []
    for sel in _children(transcript, "TranscriptSelection"):
        a, b = written.get(_guid(sel.get("fromSyncPoint"))), written.get(_guid(sel.get("toSyncPoint")))
        if a is not None and b is not None:
            spans.append((a[0], b[0], sel.get("name") or ""))
    scheme = position_schemes(decoded, spans)
    if scheme.name != "code points":
        ex.remarks.append(f"{name!r}: positions were counted as {scheme.name} by the other tool; converted")
    points: dict[str, int] = {}
    timing = Timing()
    for key, (position, stamp) in written.items():
        raw_position = scheme.to_raw(position)
        if raw_position is None:
            continue
        points[key] = decoded.to_clean[raw_position]
        if stamp is not None and stamp >= 0 and position not in estimated:
            timing.at[points[key]] = stamp / 1000
    src = XSource(guid=guid, name=name, text=text, fmt="refi-audio")
    for sel in _children(transcript, "TranscriptSelection"):
        label = sel.get("name") or sel.get("guid")
        start = points.get(_guid(sel.get("fromSyncPoint")))
        end = points.get(_guid(sel.get("toSyncPoint")))
        if start is None or end is None or start >= end:
            ex.skipped.append(f"{name!r}: transcript selection {label!r} has no valid pair of sync points")
            continue
        selection_notes = [_guid(r.get("targetGUID")) for r in _children(sel, "NoteRef")]
        sel_description = "".join(c.text or "" for c in _children(sel, "Description")).strip()
        for coding in _children(sel, "Coding"):
            refs = _children(coding, "CodeRef")
            code = _guid(refs[0].get("targetGUID")) if refs else ""
            if code not in code_guids:
                ex.skipped.append(f"{name!r}: a coding of {label!r} refers to a code that is not in the codebook")
                continue
            notes = selection_notes + [_guid(r.get("targetGUID")) for r in _children(coding, "NoteRef")]
            src.codings.append(XCoding(start=start, end=end, code=code,
                                       user=_guid(coding.get("creatingUser") or sel.get("creatingUser")) or None,
                                       description=sel_description, notes=notes,
                                       selection=_guid(sel.get("guid"))))
    note_refs(transcript, "source", guid)
    note_refs(el, "source", guid)
    for kind in ("AudioSelection", "Coding"):
        if _children(el, kind):
            ex.skipped.append(f"{name!r}: {len(_children(el, kind))} coding(s) of stretches of the recording "
                              f"({kind}) without transcript text; chimeqda codes the transcript")
    if isinstance(data.get("words"), str):
        raw_words, _ = load(f"internal://{data['words']}")
        try:
            words = json.loads(raw_words) if raw_words else None
        except ValueError:
            words = None
        if isinstance(words, list):
            timing.words = [w for w in words if isinstance(w, list) and len(w) == 3]
    src.timing = timing
    src.turns = _turns(data.get("turns"), len(text))
    src.media = _media(el, name, data, member_of, ex)
    return src


def _turns(rows: Any, length: int) -> list | None:
    """The turns chimeqda wrote (``[start, end, body_start, speaker, role]``), if they fit the text."""
    from chimeqda.ingest.speakers import RawTurn
    from chimeqda.model import ROLES

    if not isinstance(rows, list) or not rows:
        return None
    turns, previous = [], 0
    for row in rows:
        if not (isinstance(row, list) and len(row) == 5 and all(isinstance(v, int) for v in row[:3])):
            return None
        start, end, body, speaker, role = row
        if not previous <= start <= body <= end <= length or role not in ROLES:
            return None
        turns.append(RawTurn(start, end, body, speaker if isinstance(speaker, str) else None, role))
        previous = end
    return turns


def _media(el: Element, name: str, data: dict, member_of, ex) -> XMedia | None:
    path = el.get("path") or el.get("currentPath") or ""
    if "://" not in path or path.split("://", 1)[0].lower() != "internal":
        ex.skipped.append(f"AudioSource {name!r}: its recording ({path or 'no path'}) is outside the archive and "
                          "is never read; the transcript is imported without it")
        return None
    suffix = Path(path.split("://", 1)[1]).suffix.lower()
    if suffix not in MEDIA_TYPES:
        ex.skipped.append(f"AudioSource {name!r}: recordings of type {suffix or '(none)'} are not kept; the "
                          f"transcript is imported without it (kept: {', '.join(sorted(MEDIA_TYPES))})")
        return None
    found = member_of(path)
    if found is None:
        ex.skipped.append(f"AudioSource {name!r}: its recording {path!r} is missing from the archive")
        return None
    member, size = found
    described = data.get("media") if isinstance(data.get("media"), dict) else {}
    transcription = data.get("transcription") if isinstance(data.get("transcription"), dict) else None
    return XMedia(member=member, suffix=suffix, size=size, data=dict(described), transcription=transcription)
