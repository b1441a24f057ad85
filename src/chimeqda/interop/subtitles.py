"""A timed transcript as WebVTT or SubRip: one cue per sentence, with its speaker.

Times come from the sentences (``segments.time_start/time_end``); a sentence
without its own start takes its turn's start when it opens the turn, and is
otherwise joined to the cue before it; a cue without an end runs to the next
cue (or its turn's end). WebVTT names the speaker with a voice tag
(``<v Name>``), SubRip with a ``Name:`` prefix; chimeqda's own VTT and SRT
readers read both back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from chimeqda.errors import InvalidInput, UnknownObject
from chimeqda.store import tables as t

MIN_CUE = 0.001


@dataclass
class Cue:
    start: float
    end: float | None
    speaker: str | None
    text: str


def find_document(session, project_id: int, which: str) -> t.Document:
    """The current document named ``which`` (or with that id) in the project."""
    query = select(t.Document).where(t.Document.project_id == project_id, t.Document.is_current.is_(True))
    found = session.scalars(query.where(t.Document.name == which)).first()
    if found is None and which.isdigit():
        found = session.scalars(query.where(t.Document.id == int(which))).first()
    if found is None:
        names = sorted(session.scalars(select(t.Document.name).where(
            t.Document.project_id == project_id, t.Document.is_current.is_(True))))
        shown = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
        raise UnknownObject(f"no document {which!r} in this project; documents: {shown or 'none yet'}")
    return found


def document_name(ws, which: str) -> str:
    """The name of the current document named ``which`` (or with that id) in the project."""
    with ws.session() as session:
        return find_document(session, ws.project_id, which).name


def document_cues(session, document_id: int) -> list[Cue]:
    """The cues of a document, in order; refuses a document without times."""
    doc = session.get(t.Document, document_id)
    turns = session.scalars(select(t.Turn).where(t.Turn.document_id == document_id).order_by(t.Turn.index)).all()
    segments = session.scalars(
        select(t.Segment).where(t.Segment.document_id == document_id).order_by(t.Segment.index)).all()
    turn_at = {turn.index: turn for turn in turns}
    cues: list[Cue] = []
    previous_turn = None
    for number, segment in enumerate(segments):
        closes = number + 1 == len(segments) or segments[number + 1].turn != segment.turn
        turn = turn_at.get(segment.turn)
        opens = segment.turn != previous_turn
        previous_turn = segment.turn
        start = segment.time_start
        if start is None and opens and turn is not None:
            start = turn.time
        text = " ".join(segment.text.split())
        if start is None:
            if cues and not opens:
                cues[-1].text += " " + text
                cues[-1].end = segment.time_end if segment.time_end is not None else (
                    turn.time_end if closes and turn is not None else None)
            continue
        end = segment.time_end
        if end is None and turn is not None and closes:
            end = turn.time_end
        cues.append(Cue(float(start), None if end is None else float(end), turn.speaker if turn else segment.speaker,
                        text))
    if not cues:
        raise InvalidInput(
            f"{doc.name!r} has no times: only a transcript made from a recording, or imported from "
            "VTT, SRT or Whisper JSON, can be exported as subtitles",
            source=doc.name,
        )
    for here, after in zip(cues, cues[1:] + [None]):
        if here.end is None or (after is not None and here.end > after.start):
            here.end = after.start if after is not None else here.start + 2.0
        here.end = max(here.end, here.start + MIN_CUE)
    return cues


def _stamp(seconds: float, separator: str) -> str:
    millis = int(round(max(0.0, seconds) * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


_VOICE_UNSAFE = re.compile(r"[<>&\n]")


def write_vtt(cues: list[Cue]) -> str:
    """WebVTT text: ``<v Speaker>`` voice tags, ``&`` ``<`` ``>`` escaped, no ``-->`` in a cue."""
    lines = ["WEBVTT", ""]
    for number, cue in enumerate(cues, 1):
        body = cue.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if cue.speaker:
            body = f"<v {_VOICE_UNSAFE.sub(' ', cue.speaker).strip()}>{body}"
        lines += [str(number), f"{_stamp(cue.start, '.')} --> {_stamp(cue.end, '.')}", body, ""]
    return "\n".join(lines)


def write_srt(cues: list[Cue]) -> str:
    """SubRip text: numbered cues, ``Speaker: `` before each sentence."""
    lines = []
    for number, cue in enumerate(cues, 1):
        body = f"{cue.speaker}: {cue.text}" if cue.speaker else cue.text
        lines += [str(number), f"{_stamp(cue.start, ',')} --> {_stamp(cue.end, ',')}", body.replace("-->", "->"), ""]
    return "\n".join(lines)


def export_subtitles(ws, which: str, out: Path | str, fmt: str) -> Path:
    """Write one document of the project as ``vtt`` or ``srt`` (UTF-8) to ``out``."""
    with ws.session() as session:
        doc = find_document(session, ws.project_id, which)
        cues = document_cues(session, doc.id)
    text = write_vtt(cues) if fmt == "vtt" else write_srt(cues)
    out = Path(out)
    out.write_text(text, encoding="utf-8", newline="\n")
    return out
