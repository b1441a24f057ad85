"""Storing what a ``.qdpx`` says about recordings: the files into ``media/``, the times onto the document.

:func:`copy_recordings` runs before the import's transaction: each recording
is streamed out of the archive (under the limits of
:mod:`~chimeqda.interop.safety`) into a temporary file in ``<project>/media``,
hashed on the way, and renamed to ``media/<sha256>.<ext>``; the caller removes
the files it made if the transaction fails. :func:`apply_timing` writes
``documents.meta["media"]`` and the sentence and turn times inside it.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from chimeqda.interop.safety import open_zip
from chimeqda.media_files import MEDIA_DIR, MEDIA_TYPES, media_info, media_name
from chimeqda.store import tables as t


def copy_recordings(ws, ex, report) -> tuple[dict[str, dict[str, Any]], list[Path]]:
    """Copy the recordings of ``ex``'s sources into the project; returns (source guid → meta["media"], new files)."""
    wanted = [src for src in ex.sources if getattr(src, "media", None) is not None]
    if not wanted:
        return {}, []
    if ws.directory is None or ex.archive is None:
        for src in wanted:
            report.skipped.append(f"the recording of {src.name!r}: the project has no folder to keep it in "
                                  "(open it with -p FOLDER); the transcript is imported without it")
        return {}, []
    folder = Path(ws.directory) / MEDIA_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stored: dict[str, dict[str, Any]] = {}
    created: list[Path] = []
    archive = open_zip(Path(ex.archive))
    try:
        for src in wanted:
            media = src.media
            digest = hashlib.sha256()
            part = folder / f".import-{uuid.uuid4().hex}.part"
            try:
                with part.open("wb") as sink:
                    def write(chunk: bytes, sink=sink, digest=digest) -> None:
                        digest.update(chunk)
                        sink.write(chunk)

                    archive.stream(media.member, write)
                name = media_name(digest.hexdigest(), media.suffix)
                target = Path(ws.directory) / name
                if target.exists():
                    part.unlink()
                else:
                    part.replace(target)
                    created.append(target)
            finally:
                part.unlink(missing_ok=True)
            described = {k: v for k, v in media.data.items() if k in ("duration", "channels", "sample_rate",
                                                                       "original_name")}
            stored[src.guid] = {**described, "file": name, "sha256": digest.hexdigest(),
                                "original_name": described.get("original_name") or src.name,
                                "mime": MEDIA_TYPES[media.suffix]}
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise
    finally:
        archive.close()
    return stored, created


def apply_timing(session, document_id: int, src, media: dict[str, Any] | None, report) -> None:
    """Give a stored document its recording and the times and word probabilities of ``src.timing``.

    Only what the document lacks is filled: a document that was already in the
    project keeps its own times and recording.
    """
    doc = session.get(t.Document, document_id)
    meta = dict(doc.meta or {})
    if media is not None and media_info(meta) is None:
        meta["media"] = media
        if src.media is not None and src.media.transcription and "transcription" not in meta:
            meta["transcription"] = src.media.transcription
        doc.meta = meta
        report.count("recordings")
    timing = getattr(src, "timing", None)
    if timing is None:
        return
    at = timing.at
    words = sorted(timing.words or [], key=lambda w: (w[0], w[1]))
    segments = session.scalars(select(t.Segment).where(t.Segment.document_id == document_id)
                               .order_by(t.Segment.index)).all()
    first_word = 0
    first_of_turn: dict[int, t.Segment] = {}
    last_of_turn: dict[int, t.Segment] = {}
    timed = 0
    for segment in segments:
        first_of_turn.setdefault(segment.turn, segment)
        last_of_turn[segment.turn] = segment
        if segment.time_start is None and segment.start in at:
            segment.time_start = at[segment.start]
            timed += 1
        if segment.time_end is None and segment.end in at:
            segment.time_end = at[segment.end]
        while first_word < len(words) and words[first_word][1] <= segment.start:
            first_word += 1
        inside = []
        index = first_word
        while index < len(words) and words[index][0] < segment.end:
            if words[index][0] >= segment.start and words[index][1] <= segment.end:
                inside.append(list(words[index]))
            index += 1
        if inside and segment.words is None:
            segment.words = inside
    for turn in session.scalars(select(t.Turn).where(t.Turn.document_id == document_id)):
        first, last = first_of_turn.get(turn.index), last_of_turn.get(turn.index)
        if turn.time is None:
            turn.time = at.get(turn.start, first.time_start if first is not None else None)
        if turn.time_end is None:
            turn.time_end = at.get(turn.end, last.time_end if last is not None else None)
    if timed:
        report.count("timed sentences", timed)
